"""The embedded default: one pgserver Postgres and one Milvus Lite server shared by all processes.

Both engines lock their data directory, so every process (CLI, API, Dagster webserver,
daemon, run workers) connects to a single server per engine instead of opening files.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from repo_scoping_pipelines.config import Settings

_pg_servers: dict[Path, object] = {}


def embedded_postgres_uri(settings: Settings) -> str:
    """Start (or join) the pgserver Postgres under var/pgdata; return its libpq URI."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import pgserver  # imported lazily: it touches the filesystem on import

    pgdata = settings.pgdata_dir
    pgdata.mkdir(parents=True, exist_ok=True)
    server = _pg_servers.get(pgdata)
    if server is None:
        # Keep a reference for the life of the process: pgserver stops the server when
        # the last process holding it exits.
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        _pg_servers[pgdata] = server
    return server.get_uri()  # postgresql://postgres:@/postgres?host=<socket dir>


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def milvus_state_file(settings: Settings) -> Path:
    return settings.home / "milvus-server.json"


def running_milvus_server(settings: Settings) -> dict | None:
    """The managed Milvus Lite server's {pid, port, uri} if it is up, else None."""
    state_file = milvus_state_file(settings)
    if not state_file.exists():
        return None
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if _pid_alive(int(state["pid"])) and _port_open(int(state["port"])):
        return state
    return None


def ensure_milvus_server(settings: Settings, *, wait_s: float = 60.0) -> str:
    """Return the URI of the managed `milvus-lite server` for var/milvus.db, starting it if needed."""
    with _locked(settings.home / "milvus-server.lock"):
        state = running_milvus_server(settings)
        if state:
            return state["uri"]
        port = _free_port()
        log_path = settings.home / "milvus-server.log"
        settings.milvus_data_dir.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(settings.milvus_data_dir),
                 "--host", "127.0.0.1", "--port", str(port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives the CLI: other processes share it
            )
        deadline = time.monotonic() + wait_s
        while not _port_open(port):
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-800:]
                raise RuntimeError(f"milvus-lite server exited with {proc.returncode}: {tail}")
            if time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"milvus-lite server did not open port {port} within {wait_s:.0f}s")
            time.sleep(0.1)
        state = {"pid": proc.pid, "port": port, "uri": f"http://127.0.0.1:{port}"}
        milvus_state_file(settings).write_text(json.dumps(state))
        return state["uri"]


def stop_milvus_server(settings: Settings, timeout_s: float = 20.0) -> bool:
    """Stop the managed Milvus Lite server; True if one was running."""
    state = running_milvus_server(settings)
    if not state:
        return False
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)
    milvus_state_file(settings).unlink(missing_ok=True)
    return True
