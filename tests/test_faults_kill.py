"""Fault: the refresh process is killed with SIGKILL mid-run; the rerun converges to a clean run's rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from faults import big_repo_files, count_rows, row_sets, wait_for

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.services import close_all, open_services
from repo_scoping_pipelines.storage.tables import content_chunks


def _cli(*args: str, wait: bool = True):
    cmd = [sys.executable, "-m", "repo_scoping_pipelines.cli", *args]
    env = dict(os.environ)  # REPO_SCOPING_* and DAGSTER_HOME exported by the settings fixture
    if wait:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigkill_mid_refresh_then_rerun_matches_clean_run(settings, make_repo):
    files = big_repo_files(modules=60)
    victim, twin = make_repo("victim", files), make_repo("twin", files)
    # Postgres only in this process: Milvus Lite (a local path) is locked by whichever process opens it,
    # so the subprocesses own it until they exit.
    services = open_services(settings)
    register_repository(services, "victim", str(victim.path))
    register_repository(services, "twin", str(twin.path))

    proc = _cli("refresh", "victim", wait=False)
    try:
        wait_for(lambda: count_rows(services.engine, content_chunks) > 0 or proc.poll() is not None)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the refresh finished before it could be killed"

    rerun = _cli("refresh", "victim", "twin")  # the interrupted one again, then a clean run of its twin
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    killed, clean = row_sets(services.engine, "victim"), row_sets(services.engine, "twin")
    assert killed["files"] == clean["files"]
    assert killed["chunks"] == clean["chunks"] and len(clean["chunks"]) > 500
    assert killed["vectors"] == clean["vectors"] == len(clean["chunks"])
    assert killed["dangling_vectors"] == 0
    close_all()
    services = open_services(settings)  # now this process may open Milvus
    vectors = services.vectors
    vectors.ensure_collection(services.collection, services.embedder.dim)  # loads it after the reopen
    assert vectors.count(services.collection, "victim") == vectors.count(services.collection, "twin") \
        == len(clean["chunks"])  # no duplicates in Milvus either
