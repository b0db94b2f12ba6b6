"""The real Dagster machinery drains registrations: code server + daemon as processes, Postgres, Milvus server.

Registering repositories is the only command: the daemon's sensor adds the partitions and requests
runs, the queue launches them through the code server under the concurrency limits, and the rows
end complete even when the daemon is SIGKILLed halfway and the code server is stopped with runs in
flight (those runs end failed and run retries re-queue them).
"""

from __future__ import annotations

import itertools
import os
import signal

import dagster as dg
import pytest
from deployment_support import deployment_settings, wait_for
from samples import SAMPLE_FILES

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations import deployment
from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
from repo_scoping_pipelines.operations.embedded import stop_milvus_server
from repo_scoping_pipelines.services import close_all, open_services
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import chunks as chunk_store

NAMES = ["alpha", "bravo", "charlie"]
RUNNERS = ["code-server", "daemon"]


@pytest.fixture
def stack(tmp_path, database_url, monkeypatch):
    settings, milvus_owner = deployment_settings(tmp_path, database_url, monkeypatch)
    try:
        yield settings
    finally:
        deployment.down(settings, echo=lambda _: None, timeout_s=10)
        close_all()
        stop_milvus_server(milvus_owner)


def _runs(settings) -> list[dg.RunRecord]:
    with dagster_instance(settings) as instance:
        return list(instance.get_run_records(filters=dg.RunsFilter(job_name="refresh_repository")))


def _by_status(records, *statuses) -> list:
    return [r for r in records if r.dagster_run.status.value in statuses]


def _describe(settings) -> str:
    lines = [f"{r.dagster_run.run_id[:8]} {r.dagster_run.tags.get('dagster/partition')} {r.dagster_run.status.value}"
             f" parent={r.dagster_run.tags.get('dagster/parent_run_id', '-')[:8]}" for r in _runs(settings)]
    for name in ("daemon", "code-server"):
        log = deployment.log_path(settings, name)
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        lines += [f"--- {name} log", *tail]
    return "\n".join(lines)


def _all_materialized(settings) -> bool:
    succeeded = {r.dagster_run.tags.get("dagster/partition") for r in _by_status(_runs(settings), "SUCCESS")}
    return set(NAMES) <= succeeded


def test_registrations_drain_through_daemon_despite_kills(stack, make_repo):
    settings = stack
    services = open_services(settings)
    for name in NAMES:
        register_repository(services, name, str(make_repo(name, SAMPLE_FILES).path))

    deployment.up(settings, echo=print, only=RUNNERS)
    # No further command: the sensor adds the partitions and queues one run per repository.
    wait_for(lambda: _by_status(_runs(settings), "STARTED"), 150, "a first run to start")
    with dagster_instance(settings) as instance:
        assert set(NAMES) <= set(instance.get_dynamic_partitions("repositories"))

    # SIGKILL the daemon halfway; queued and in-flight runs survive it, the restarted daemon goes on.
    daemon_pid = deployment.read_state(settings, "daemon")["pid"]
    os.killpg(daemon_pid, signal.SIGKILL)
    wait_for(lambda: deployment.read_state(settings, "daemon") is None, 10, "the daemon to die")
    deployment.up(settings, echo=print, only=["daemon"])

    # `down` with a run in flight (daemon, then the code server and its run workers): no run stays
    # STARTED; the interrupted ones end failed, and the daemon re-queues them as retries after `up`.
    wait_for(lambda: _by_status(_runs(settings), "STARTED"), 150, "a run in flight",
             describe=lambda: _describe(settings))
    deployment.down(settings, echo=print, only=RUNNERS, timeout_s=5)
    records = _runs(settings)
    assert not _by_status(records, "STARTING", "STARTED"), "no run may stay started after the stop"
    interrupted = _by_status(records, "FAILURE")
    assert interrupted
    deployment.up(settings, echo=print, only=RUNNERS)

    wait_for(lambda: _all_materialized(settings), 240, "every repository to be materialized", interval_s=2,
             describe=lambda: _describe(settings))
    records = _runs(settings)
    retried = {r.dagster_run.tags.get("dagster/parent_run_id") for r in records}
    assert {r.dagster_run.run_id for r in interrupted} <= retried, "each interrupted run was retried"

    # Never two runs of one repository at once (from the run records).
    for name in NAMES:
        spans = sorted((r.start_time, r.end_time or float("inf")) for r in records
                       if r.dagster_run.tags.get("dagster/partition") == name and r.start_time)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two runs of {name} overlapped"
    # At most two runs at once overall (dagster.yaml concurrency.runs.max_concurrent_runs).
    events = sorted([(r.start_time, 1) for r in records if r.start_time]
                    + [(r.end_time, -1) for r in records if r.start_time and r.end_time])
    in_flight = peak = 0
    for _, delta in events:
        in_flight += delta
        peak = max(peak, in_flight)
    assert peak <= 2

    # Same rows as an uninterrupted drain: identical sources give identical chunk counts, and Milvus
    # holds exactly the chunks Postgres knows, once each.
    counts = {}
    for name in NAMES:
        repo = catalog.get_repository(services.engine, name)
        counts[name] = sum(chunk_store.chunk_counts(services.engine, repo.id).values())
        assert services.vectors.count(services.collection, name) == counts[name]
    assert len(set(counts.values())) == 1 and counts["alpha"] > 0, counts


def test_cli_register_under_up_starts_the_first_refresh(stack, make_repo):
    """`repo-scoping register` with the daemon up: the sensor sees the registration and runs it."""
    import subprocess
    import sys
    from pathlib import Path

    settings = stack
    deployment.up(settings, echo=print, only=RUNNERS)
    repo = make_repo("delta", SAMPLE_FILES)
    cli = str(Path(sys.executable).parent / "repo-scoping")
    done = subprocess.run([cli, "register", "delta", str(repo.path)], env=dict(os.environ), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "queues its first refresh" in done.stdout
    wait_for(lambda: any(r.dagster_run.tags.get("dagster/partition") == "delta"
                         for r in _by_status(_runs(settings), "SUCCESS")), 240, "the first refresh of delta",
             describe=lambda: _describe(settings))
    engine = open_services(settings).engine
    assert catalog.latest_snapshot(engine, catalog.get_repository(engine, "delta").id)["commit_sha"] == repo.head()
