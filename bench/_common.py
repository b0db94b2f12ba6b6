"""Shared benchmark plumbing: a throwaway stack (Postgres database + Milvus Lite) and timing helpers.

By default each benchmark creates a fresh database on the machine's Postgres (like tests/conftest.py)
and runs the managed `milvus-lite server` under bench/.work/<run>/ — the same gRPC path that the CLI,
API and Dagster processes use. `--embedded-postgres` uses pgserver under that home instead;
`--milvus-local` opens Milvus Lite in-process (a file path) instead of the server.
Everything a run creates lives under bench/.work/ (git-ignored) and is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import sqlalchemy as sa

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
SOURCES = WORK / "src"
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("RSP_TEST_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def compile_project() -> None:
    """Byte-compile the project as `pip install` of the wheel does: this machine sets
    PYTHONDONTWRITEBYTECODE=1, so an editable checkout would otherwise recompile every module of ours in
    every process (~0.2 s a process) and the timings would not be what an installed user waits for."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "repo_scoping_pipelines", "assets", "sensors",
                    "schedules", "migrations"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def add_stack_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--embedded-postgres", action="store_true",
                        help="use pgserver under the run's home instead of a throwaway database on the machine's Postgres")
    parser.add_argument("--milvus-local", action="store_true",
                        help="open Milvus Lite in-process (a file path) instead of the managed milvus-lite server")
    parser.add_argument("--keep", action="store_true", help="keep the run's home and database afterwards")


def _admin() -> sa.Engine:
    return sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")


@contextlib.contextmanager
def throwaway_stack(args: argparse.Namespace, label: str, **settings_values):
    """Yield (settings, services) on a fresh database and a fresh Milvus; clean up afterwards."""
    from repo_scoping_pipelines.config import Settings, get_settings
    from repo_scoping_pipelines.operations.embedded import stop_milvus_server
    from repo_scoping_pipelines.services import close_all, open_services

    run = f"{label}_{uuid.uuid4().hex[:8]}"
    home = WORK / run
    home.mkdir(parents=True)
    values: dict = {"home": str(home), **settings_values}
    db_name = None
    if not args.embedded_postgres:
        db_name = f"rsp_bench_{run}".lower()
        with _admin().connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{db_name}"'))
        values["database_url"] = sa.make_url(ADMIN_URL).set(database=db_name, drivername="postgresql") \
            .render_as_string(hide_password=False)
    if args.milvus_local:
        values["milvus_uri"] = str(home / "milvus-local.db")
    for key, value in values.items():
        os.environ[f"REPO_SCOPING_{key.upper()}"] = str(value)
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    (home / "dagster").mkdir()
    get_settings.cache_clear()
    settings = Settings(**values)
    try:
        yield settings, open_services(settings)
    finally:
        close_all()
        if not args.milvus_local:
            stop_milvus_server(settings)
        if not args.keep:
            if db_name:
                with _admin().connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)'))
            shutil.rmtree(home, ignore_errors=True)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@e.x",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@e.x"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


def default_repo(name: str) -> Path:
    path = SOURCES / name
    if not (path / ".git").exists():
        raise SystemExit(f"{path} is missing: clone the repository there first (see bench/README.md)")
    return path


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far; 0 once it is gone."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return times.user + times.system


def milvus_server_pid(settings) -> int | None:
    from repo_scoping_pipelines.operations.embedded import running_milvus_server

    state = running_milvus_server(settings) if not settings.milvus_uri else None
    return int(state["pid"]) if state else None


class Timer:
    """Wall time, this process's CPU time and (optionally) other processes' CPU time (the Milvus server).

    On a shared, busy machine wall time swings with the load; CPU seconds are the steadier figure.
    """

    def __init__(self, other_pids: tuple[int | None, ...] = ()) -> None:
        self.other_pids = [p for p in other_pids if p]
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()
        self.other_started = sum(process_cpu(p) for p in self.other_pids)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def cpu(self) -> float:
        return time.process_time() - self.cpu_started

    @property
    def other_cpu(self) -> float:
        return sum(process_cpu(p) for p in self.other_pids) - self.other_started


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (f"p50 {percentile(ms, 50):.1f} ms, p95 {percentile(ms, 95):.1f} ms, max {max(ms):.1f} ms, "
            f"mean {statistics.fmean(ms):.1f} ms (n={len(ms)})")


def store_head_extractions(services, repo_id: int, repo: Path, head: str, paths: list[str] | None = None) -> int:
    """What the facts stage (observed_facts) stores for the head: each parsable file's extraction, with its
    complexity that change_insight reuses; `paths` for the files a new commit changed. Returns how many."""
    from repo_scoping_pipelines.collectors import languages
    from repo_scoping_pipelines.facts.extract import EXTRACTOR_VERSION, extract_file
    from repo_scoping_pipelines.insight.pipeline import read_blobs
    from repo_scoping_pipelines.metrics.ownership import head_blobs
    from repo_scoping_pipelines.storage import facts as fact_store

    blobs = head_blobs(repo, head)
    parsable = sorted(p for p in (blobs if paths is None else set(paths) & set(blobs))
                      if languages.grammar_for(p, languages.language_of(p)) is not None)
    rows = [{"path": path, "content_hash": blobs[path], "extractor_version": EXTRACTOR_VERSION, "family": "code",
             "extraction": extract_file(path, "code", source.decode("utf-8", "replace"),
                                        languages.language_of(path)).as_json()}
            for path, source in read_blobs(repo, head, parsable).items()]
    fact_store.store_extractions(services.engine, repo_id, rows, [])
    return len(rows)
