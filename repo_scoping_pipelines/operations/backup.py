"""Backup, restore and maintenance of the project's data.

A backup is a directory: `repo_scoping.dump` (pg_dump, custom format, of the `repo_scoping`
schema), `manifest.json` (versions, row counts, the dump's sha256, the embedding collection)
and `uploads/` (the stored .zip sources). Milvus is not dumped: every chunk's text and
normalised text live in Postgres, so restore rebuilds the vectors by re-embedding.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.safety.redaction import redact
from repo_scoping_pipelines.services import Services
from repo_scoping_pipelines.storage.db import database_url, migrate
from repo_scoping_pipelines.storage.operations import table_row_counts
from repo_scoping_pipelines.storage.tables import SCHEMA, chunk_vectors, repositories

DUMP_NAME = "repo_scoping.dump"
MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1


class BackupError(RuntimeError):
    """A backup, restore or maintenance step failed; the message says which and why."""


@dataclass(frozen=True)
class PgTools:
    bin_dir: Path | None  # None: from PATH
    major: int

    def exe(self, name: str) -> str:
        return str(self.bin_dir / name) if self.bin_dir else name


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\b(\d+)(?:\.\d+)?", out)
    return int(match.group(1)) if match else None


def find_pg_tools(server_major: int) -> PgTools:
    """pg_dump/pg_restore/psql whose major version is >= the server's (pg_dump refuses older ones).

    Looks at pgserver's bundled binaries (the embedded default), /usr/lib/postgresql/*/bin and PATH;
    prefers the same major as the server, else the lowest newer one.
    """
    candidates: list[Path | None] = []
    try:
        import pgserver._commands as pg_commands

        candidates.append(Path(pg_commands.POSTGRES_BIN_PATH))
    except Exception:  # pgserver missing or unusable: external tools only
        pass
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    candidates.append(None)
    found: list[PgTools] = []
    for bin_dir in candidates:
        dump = str(bin_dir / "pg_dump") if bin_dir else shutil.which("pg_dump")
        if not dump or not Path(dump).exists():
            continue
        if bin_dir and not ((bin_dir / "pg_restore").exists() and (bin_dir / "psql").exists()):
            continue
        major = _tool_major(dump)
        if major is not None and major >= server_major:
            found.append(PgTools(bin_dir, major))
    if not found:
        raise BackupError(f"no pg_dump with major version >= {server_major} found (install postgresql-client)")
    return min(found, key=lambda t: (t.major != server_major, t.major))


def _libpq(settings: Settings) -> tuple[str, dict[str, str]]:
    """A libpq URI without the password (which goes in PGPASSWORD, out of the process list)."""
    url = make_url(database_url(settings)).set(drivername="postgresql")
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return url.set(password=None).render_as_string(hide_password=False), env


def _run(args: list[str], env: dict[str, str], what: str, timeout: float = 3600) -> str:
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise BackupError(redact(f"{what} failed: {(proc.stderr or proc.stdout).strip()[-800:]}",
                                 ops_log.secrets()))
    return proc.stdout


def _server_major(services: Services) -> tuple[int, str]:
    with services.engine.connect() as conn:
        num = int(conn.execute(sa.text("SHOW server_version_num")).scalar_one())
        text = conn.execute(sa.text("SHOW server_version")).scalar_one()
    return num // 10000, text


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def backup(services: Services, output_dir: Path) -> dict:
    """Write a backup of the project's schema (and uploaded archives) into output_dir; return the manifest."""
    started = time.perf_counter()
    settings = services.settings
    output_dir.mkdir(parents=True, exist_ok=True)
    if (output_dir / MANIFEST_NAME).exists():
        raise BackupError(f"{output_dir} already holds a backup; choose an empty directory")
    server_major, server_version = _server_major(services)
    tools = find_pg_tools(server_major)
    uri, env = _libpq(settings)
    dump = output_dir / DUMP_NAME
    # Row counts and dump must describe the same data: take both inside one snapshot where we can.
    counts = table_row_counts(services.engine)
    _run([tools.exe("pg_dump"), "--format=custom", f"--schema={SCHEMA}", "--no-owner", "--no-privileges",
          f"--file={dump}", f"--dbname={uri}"], env, "pg_dump")
    after = table_row_counts(services.engine)
    if after != counts:
        raise BackupError("data changed while the backup ran (a refresh in flight?); run backup again")
    uploads = settings.home / "uploads"
    copied = []
    if uploads.is_dir():
        (output_dir / "uploads").mkdir(exist_ok=True)
        for archive in sorted(uploads.glob("*.zip")):
            shutil.copy2(archive, output_dir / "uploads" / archive.name)
            copied.append(archive.name)
    with services.engine.connect() as conn:
        heads = sorted(conn.execute(sa.text(f"SELECT version_num FROM {SCHEMA}.alembic_version")).scalars())
        repos = [{"name": r.name, "source_kind": r.source_kind}
                 for r in conn.execute(sa.select(repositories.c.name, repositories.c.source_kind)
                                       .order_by(repositories.c.name))]
    embedder = services.embedder
    manifest = {
        "format": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "schema": SCHEMA,
        "dump": {"file": DUMP_NAME, "sha256": _sha256(dump), "bytes": dump.stat().st_size},
        "versions": {
            "repo_scoping_pipelines": _package_version("repo-scoping-pipelines"),
            "dagster": _package_version("dagster"), "pymilvus": _package_version("pymilvus"),
            "python": platform.python_version(), "postgres_server": server_version,
            "pg_dump": tools.major, "migrations": heads,
        },
        "embedding": {"provider": embedder.provider, "model": embedder.model, "dim": embedder.dim,
                      "collection": services.collection},
        "row_counts": counts,
        "repositories": repos,
        "uploads": copied,
        "milvus": "not dumped: rebuilt from content_chunks by restore (re-embedding)",
    }
    (output_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    ops_log.event("backup", output_dir=str(output_dir), tables=len(counts), rows=sum(counts.values()),
                  duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return manifest


def read_manifest(source_dir: Path) -> dict:
    path = source_dir / MANIFEST_NAME
    if not path.is_file():
        raise BackupError(f"{source_dir} holds no {MANIFEST_NAME}: not a backup directory")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT_VERSION or manifest.get("schema") != SCHEMA:
        raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
    dump = source_dir / manifest["dump"]["file"]
    if not dump.is_file() or _sha256(dump) != manifest["dump"]["sha256"]:
        raise BackupError(f"{dump.name} is missing or does not match the manifest's sha256")
    return manifest


def restore(services: Services, source_dir: Path, *, force: bool) -> dict:
    """Replace the project's schema with the backup, then rebuild Milvus from Postgres.

    Refuses without `force`. The schema is dropped and restored in one transaction, so a failed
    restore leaves the database as it was.
    """
    from repo_scoping_pipelines.search.pipeline import embed_repository

    if not force:
        raise BackupError("restore replaces every repository, chunk and fact in the database; "
                          "pass --force to do it")
    started = time.perf_counter()
    settings = services.settings
    manifest = read_manifest(source_dir)
    server_major, _ = _server_major(services)
    tools = find_pg_tools(max(server_major, int(manifest["versions"].get("pg_dump") or 0)))
    uri, env = _libpq(settings)
    script = source_dir / ".restore.sql"
    try:
        _run([tools.exe("pg_restore"), "--no-owner", "--no-privileges", f"--file={script}",
              str(source_dir / manifest["dump"]["file"])], env, "pg_restore")
        services.engine.dispose()  # no pooled connection of ours holds the schema
        _run([tools.exe("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction",
              "-c", f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE", "-f", str(script), f"--dbname={uri}"],
             env, "restore (psql)")
    finally:
        script.unlink(missing_ok=True)
    migrate(services.engine)  # a backup from older code gets the newer migrations
    uploads = settings.home / "uploads"
    if (source_dir / "uploads").is_dir():
        uploads.mkdir(parents=True, exist_ok=True)
        for archive in (source_dir / "uploads").glob("*.zip"):
            if not (uploads / archive.name).exists():
                shutil.copy2(archive, uploads / archive.name)
    with services.engine.begin() as conn:
        # Stored archives live under this installation's HOME now.
        for row in conn.execute(sa.select(repositories.c.id, repositories.c.source)
                                .where(repositories.c.source_kind == "zip")).all():
            local = uploads / Path(row.source).name
            if local.exists():
                conn.execute(sa.update(repositories).where(repositories.c.id == row.id).values(source=str(local)))
        # Milvus is rebuilt from Postgres: forget which vectors existed, then re-embed everything.
        conn.execute(sa.delete(chunk_vectors).where(chunk_vectors.c.collection == services.collection))
        names = list(conn.execute(sa.select(repositories.c.name).order_by(repositories.c.name)).scalars())
    vectors = services.vectors
    vectors.drop_collection(services.collection)
    services.index_changed(services.collection)  # the restored token was seen before
    embedded = {name: embed_repository(services, name).embedded for name in names}
    counts = table_row_counts(services.engine)
    expected = manifest["row_counts"]
    mismatched = {t: (n, counts.get(t)) for t, n in expected.items()
                  if t != "chunk_vectors" and counts.get(t) != n}
    if mismatched:
        raise BackupError(f"restored row counts differ from the manifest: {mismatched}")
    ops_log.event("restore", source_dir=str(source_dir), repositories=len(names),
                  vectors=sum(embedded.values()), duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return {"restored_from": str(source_dir), "row_counts": counts, "embedded": embedded,
            "collection": services.collection}


def maintenance(services: Services) -> dict:
    """VACUUM ANALYZE every table of the schema, compact the Milvus collection, sweep leftovers of killed runs."""
    started = time.perf_counter()
    report: dict = {"vacuumed": [], "milvus": None, "removed": []}
    with services.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        tables = conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type = 'BASE TABLE'"
            " ORDER BY table_name"), {"s": SCHEMA}).scalars().all()
        for table in tables:
            conn.execute(sa.text(f'VACUUM (ANALYZE) {SCHEMA}."{table}"'))
            report["vacuumed"].append(table)
    try:
        vectors = services.vectors
        if services.collection in vectors.ping():
            vectors.flush(services.collection)
            job = vectors.compact(services.collection)
            report["milvus"] = {"collection": services.collection, "compaction": job,
                                "rows": vectors.count(services.collection)}
        else:
            report["milvus"] = {"collection": services.collection, "compaction": "no collection yet"}
    except Exception as exc:  # Milvus down: Postgres maintenance still counts
        report["milvus"] = {"error": redact(f"{type(exc).__name__}: {exc}", ops_log.secrets())[:300]}
    root = services.settings.checkouts
    if root.is_dir():
        for partial in root.glob(".*.partial"):  # left by killed clones or extractions
            shutil.rmtree(partial, ignore_errors=True)
            report["removed"].append(partial.name)
    report["seconds"] = round(time.perf_counter() - started, 3)
    ops_log.event("maintenance", tables=len(report["vacuumed"]), milvus=report["milvus"],
                  removed=report["removed"], duration_ms=report["seconds"] * 1000)
    return report
