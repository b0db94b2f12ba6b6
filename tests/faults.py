"""Helpers for the fault tests: a repository big enough to interrupt, row sets to compare, a throwaway Postgres."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from repo_scoping_pipelines.storage.tables import chunk_vectors, content_chunks, files, repositories


def big_repo_files(modules: int = 120, functions: int = 15) -> dict[str, str]:
    """Many small Python modules: enough chunks that a refresh takes a moment to interrupt."""
    out = {"README.md": "# Big\n\nA repository made to be interrupted.\n"}
    for m in range(modules):
        body = [f'"""Module {m}."""\n']
        for f in range(functions):
            body.append(f"\n\ndef handler_{m}_{f}(request):\n    \"\"\"Handle request {m}.{f}.\"\"\"\n"
                        f"    total = request.amount * {f + 1}\n    return total + {m}\n")
        out[f"pkg/mod_{m:03d}.py"] = "".join(body)
    return out


def row_sets(engine, name: str) -> dict[str, list]:
    """What a refresh produced for one repository, independent of the repository's name and ids."""
    with engine.connect() as conn:
        repo_id = conn.execute(sa.select(repositories.c.id).where(repositories.c.name == name)).scalar_one()
        inventory = sorted(conn.execute(sa.select(files.c.path, files.c.content_hash, files.c.chunked_hash,
                                                  files.c.skip_reason).where(files.c.repository_id == repo_id)).all())
        chunks = sorted(conn.execute(sa.select(
            content_chunks.c.path, content_chunks.c.file_hash, content_chunks.c.kind, content_chunks.c.symbol,
            content_chunks.c.start_line, content_chunks.c.end_line, content_chunks.c.text)
            .where(content_chunks.c.repository_id == repo_id)).all(), key=repr)
        vectors = conn.execute(sa.select(sa.func.count()).select_from(chunk_vectors)
                               .where(chunk_vectors.c.repository_id == repo_id)).scalar_one()
        dangling = conn.execute(sa.select(sa.func.count()).select_from(chunk_vectors).where(
            chunk_vectors.c.repository_id == repo_id,
            ~sa.exists(sa.select(content_chunks.c.chunk_id).where(
                content_chunks.c.chunk_id == chunk_vectors.c.chunk_id)))).scalar_one()
    return {"files": inventory, "chunks": chunks, "vectors": vectors, "dangling_vectors": dangling}


def wait_for(predicate, timeout: float = 120, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError("condition not reached")


def count_rows(engine, table) -> int:
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    except sa.exc.OperationalError:
        return 0


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayPostgres:
    """A private PostgreSQL cluster (initdb + pg_ctl in a temp dir, its own port) that a test may stop.

    Never the machine's shared server. Run as root, the cluster belongs to the `postgres` user.
    """

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        initdb = str(bins[-1]) if bins else shutil.which("initdb")
        if not initdb:
            raise RuntimeError("initdb not found")
        self.bin = Path(initdb).parent
        self.dir = Path(tempfile.mkdtemp(prefix="rsp-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self._as = []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bin / tool), *args], check=True, capture_output=True, timeout=120)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
