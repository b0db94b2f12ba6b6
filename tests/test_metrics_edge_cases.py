"""Bad input for the history (empty repository, one commit, odd dates, non-UTF-8 names), the daily
partitions backfilled through Dagster, and the schedules and sensors that drive refreshes."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime

import dagster as dg
import pytest
from test_metrics_history import refresh_metrics

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.definitions import defs
from repo_scoping_pipelines.metrics.history import HistoryError, parse_log
from repo_scoping_pipelines.metrics.pipeline import authors, extract_history
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.sensors.metrics import author_metrics_daily_after_history
from repo_scoping_pipelines.sensors.remote_heads import remote_head_moves
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import metrics as store


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _repo_id(services, name):
    return catalog.get_repository(services.engine, name).id


def test_empty_repository_fails_clearly_and_history_refuses(services, make_repo, instance, tmp_path):
    repo = make_repo("void", empty=True)
    register_repository(services, "void", str(repo.path))
    outcome = refresh_in_process(instance, "void")
    assert not outcome.success
    assert "empty repository" in outcome.error
    # The history reader says the same on an empty clone.
    clone = tmp_path / "void-clone"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    with pytest.raises(HistoryError, match="no commits"):
        extract_history(services.engine, _repo_id(services, "void"), clone)
    with pytest.raises(HistoryError, match="no checkout"):
        extract_history(services.engine, _repo_id(services, "void"), tmp_path / "missing")


def test_one_commit_odd_dates_and_non_utf8_names(services, make_repo, instance):
    repo = make_repo("odd", {"a.txt": "a\n"})
    register_repository(services, "odd", str(repo.path))
    first = refresh_metrics(instance, "odd")
    assert first["commit_history"]["dagster/row_count"] == 1
    assert first["author_metrics_window"]["authors_all"] == 1

    repo.commit({"future.txt": "x\n"}, "from the future", author="Marty <marty@example.com>",
                date="2099-01-01T00:00:00+00:00")
    repo.commit({"old.txt": "x\ny\n"}, "from the seventies", author="Ken <ken@example.com>",
                date="1975-06-01T00:00:00+00:00")
    # A commit object whose author name is Latin-1 bytes (not UTF-8), as old tools wrote them.
    tree = repo.git("write-tree").strip()
    parent = repo.head()
    raw = (f"tree {tree}\nparent {parent}\nauthor Jos\xe9 M\xfcller <jose@example.com> 1704190000 +0100\n"
           f"committer Jos\xe9 M\xfcller <jose@example.com> 1704190000 +0100\n\nlatin-1 author\n").encode("latin-1")
    sha = subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], cwd=repo.path, input=raw,
                         capture_output=True, check=True).stdout.decode().strip()
    repo.git("update-ref", "refs/heads/main", sha)

    out = refresh_metrics(instance, "odd")
    history = out["commit_history"]
    assert history["mode"] == "incremental" and history["commits_added"] == 3
    assert history["implausible_dates"] == 2  # 2099 and 1975: kept, reported
    got = {a["author_email"]: a for a in authors(services.engine, _repo_id(services, "odd"), "all")}
    assert got["jose@example.com"]["author_name"] == "José Müller"
    assert got["marty@example.com"]["commits"] == 1 and got["ken@example.com"]["lines_added"] == 2
    assert "what_shipped" in out and "file_ownership" in out  # the rest still materializes


def test_parse_log_reads_renames_binaries_and_empty_commits():
    stream = (b"\x1eaaaa\x00N\x00n@x\x00N\x00n@x\x001\x002\x00subject one\x00\n3\t1\tsrc/a.py\x00-\t-\tlogo.png\x00"
              b"2\t0\t\x00old name.py\x00new\tname.py\x00"
              b"\x1ebbbb\x00M\x00m@x\x00M\x00m@x\x003\x004\x00empty\x00")
    commits = list(parse_log(iter(stream.split(b"\x00"))))
    assert [c.sha for c in commits] == ["aaaa", "bbbb"]
    assert commits[0].files == [("src/a.py", None, 3, 1, False), ("logo.png", None, 0, 0, True),
                                ("new\tname.py", "old name.py", 2, 0, False)]
    assert commits[1].files == [] and commits[1].subject == "empty"


def test_backfill_daily_partitions_through_dagster(services, make_repo, instance):
    repo = make_repo("daily", {"a.txt": "a\n"})
    repo.commit({"a.txt": "a\nb\n"}, "day one", author="Ada <ada@example.com>", date="2024-03-01T10:00:00+00:00")
    repo.commit({"b.txt": "b\n"}, "day one again", author="Ada <ada@example.com>",
                date="2024-03-01T15:00:00+00:00")
    repo.commit({"c.txt": "c\nc\nc\n"}, "day three", author="Bo <bo@example.com>",
                date="2024-03-03T10:00:00+00:00")
    register_repository(services, "daily", str(repo.path))
    history = refresh_metrics(instance, "daily")["commit_history"]

    # The sensor turns the changed days into one single-run backfill request over that range.
    request = author_metrics_daily_after_history(dg.build_sensor_context(instance=instance))
    assert request.tags["dagster/asset_partition_range_start"] == "2024-03-01"
    assert request.tags["dagster/asset_partition_range_end"] == history["last_changed_day"]

    job = defs.resolve_job_def("author_metrics_daily_job")
    # A backfill of a date range, run as one run (the asset's single-run backfill policy) ...
    ranged = job.execute_in_process(instance=instance, tags={
        "dagster/asset_partition_range_start": "2024-03-01", "dagster/asset_partition_range_end": "2024-03-03"})
    assert ranged.success
    # ... and partition by partition.
    for day in ("2024-03-01", "2024-03-02", "2024-03-03"):
        assert job.execute_in_process(instance=instance, partition_key=day).success
    materialized = instance.get_materialized_partitions(dg.AssetKey("author_metrics_daily"))
    assert {"2024-03-01", "2024-03-02", "2024-03-03"} <= materialized and "2024-03-04" not in materialized
    with services.engine.connect() as conn:
        rows = conn.execute(store.author_daily.select().order_by("day", "author_email")).mappings().all()
    got = [(r["day"], r["author_email"], r["commits"], r["lines_added"], r["files_touched"]) for r in rows
           if r["day"] < date(2025, 1, 1)]
    assert got == [(date(2024, 3, 1), "ada@example.com", 2, 2, 2), (date(2024, 3, 3), "bo@example.com", 1, 3, 1)]
    checks = [e for e in ranged.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert checks and all(e.event_specific_data.passed for e in checks)


def test_schedules_and_remote_head_sensor(services, make_repo, instance):
    repo = make_repo("moving", {"a.txt": "a\n"})
    register_repository(services, "moving", str(repo.path))
    instance.add_dynamic_partitions("repositories", ["moving"])
    resources = {"repo_scoping": RepoScopingResource()}

    weekly = defs.resolve_schedule_def("weekly_full_refresh")
    assert weekly.cron_schedule == "0 3 * * 0" and weekly.execution_timezone == "UTC"
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2024, 3, 3, 3, tzinfo=UTC))
    (run,) = list(weekly(ctx))
    assert run.partition_key == "moving" and run.tags["repo_scoping/full_refresh"] == "true"
    daily = defs.resolve_schedule_def("daily_author_metrics")
    day_run = daily(dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2024, 3, 3, 2, 45, tzinfo=UTC)))
    assert day_run.partition_key == "2024-03-02"

    # Never refreshed: the registration sensor's job, not this one.
    assert isinstance(remote_head_moves(dg.build_sensor_context(instance=instance, resources=resources)),
                      dg.SkipReason)
    refresh_metrics(instance, "moving")
    assert isinstance(remote_head_moves(dg.build_sensor_context(instance=instance, resources=resources)),
                      dg.SkipReason)
    head = repo.commit({"a.txt": "a\nb\n"}, "move")
    result = remote_head_moves(dg.build_sensor_context(instance=instance, resources=resources))
    (request,) = result.run_requests
    assert (request.partition_key, request.run_key) == ("moving", f"head-moving-{head}")

    # A run of that repository in flight: no second run.
    instance.create_run_for_job(defs.resolve_job_def("refresh_repository"), status=dg.DagsterRunStatus.STARTED,
                                tags={"dagster/partition": "moving"})
    assert isinstance(remote_head_moves(dg.build_sensor_context(instance=instance, resources=resources)),
                      dg.SkipReason)
