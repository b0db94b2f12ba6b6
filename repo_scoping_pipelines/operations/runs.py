"""Runs as the API and the CLI see them: listed, detailed, streamed and queued through the Dagster instance.

Statuses are Dagster's, in lower case and grouped the way an operator triages them:
queued (QUEUED, NOT_STARTED), started (STARTING, STARTED, CANCELING), success, failure, canceled.

Refreshes are queued like Dagster's own `dagster job launch`: a run of the `refresh_repository` job,
created from the code location loaded in this process under the deployment's location name, then
submitted to the instance's QueuedRunCoordinator. The daemon's queue finds the location by that name in
its own workspace (the gRPC code server), which starts the run.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import dagster as dg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from repo_scoping_pipelines.operations.deployment import CODE_LOCATION_MODULE, LOCATION_NAME
from repo_scoping_pipelines.operations.health import daemon_liveness
from repo_scoping_pipelines.run_tags import FULL_REFRESH_TAG
from repo_scoping_pipelines.safety.redaction import redact

S = dg.DagsterRunStatus
STATUS_GROUPS: dict[str, list[dg.DagsterRunStatus]] = {
    "queued": [S.QUEUED, S.NOT_STARTED],
    "started": [S.STARTING, S.STARTED, S.CANCELING],
    "success": [S.SUCCESS],
    "failure": [S.FAILURE],
    "canceled": [S.CANCELED],
}
STATUS_ALIASES = {"failed": "failure", "succeeded": "success", "running": "started", "in_progress": "started"}
FINISHED = {S.SUCCESS, S.FAILURE, S.CANCELED}
IN_FLIGHT = STATUS_GROUPS["queued"] + STATUS_GROUPS["started"]
REFRESH_JOB = "refresh_repository"
PARTITION_TAG = "dagster/partition"
TRIGGER_TAG = "repo_scoping/trigger"
REQUESTED_BY_TAG = "repo_scoping/requested_by"


class UnknownStatus(ValueError):
    pass


class DaemonDown(RuntimeError):
    """The run queue has no live daemon to drain it; the message says why."""


def status_group(status: dg.DagsterRunStatus) -> str:
    return next(name for name, members in STATUS_GROUPS.items() if status in members)


def parse_statuses(value: str | None) -> list[str]:
    """`failed,started` -> ["failure", "started"]; UnknownStatus naming a value that is not one."""
    names = []
    for raw in (value or "").split(","):
        name = STATUS_ALIASES.get(raw.strip().lower(), raw.strip().lower())
        if not name:
            continue
        if name not in STATUS_GROUPS:
            raise UnknownStatus(f"unknown run status {raw.strip()!r} (one of: {', '.join(STATUS_GROUPS)}; "
                                f"or failed, running)")
        names.append(name)
    return list(dict.fromkeys(names))


def _iso(ts: float | datetime | None) -> str | None:
    if ts is None:
        return None
    if isinstance(ts, datetime):
        return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).isoformat()
    return datetime.fromtimestamp(ts, UTC).isoformat()


def _trigger(tags: dict) -> str:
    for key, label in (("dagster/sensor_name", "sensor"), ("dagster/schedule_name", "schedule"),
                       ("dagster/backfill", "backfill")):
        if key in tags:
            return f"{label}:{tags[key]}"
    if "dagster/parent_run_id" in tags:
        return "retry"
    return tags.get(TRIGGER_TAG, "manual")


def run_summary(record) -> dict:
    run = record.dagster_run
    duration = round(record.end_time - record.start_time, 3) if record.start_time and record.end_time else None
    return {"run_id": run.run_id, "job": run.job_name, "repository": run.tags.get(PARTITION_TAG),
            "status": status_group(run.status), "dagster_status": run.status.value, "trigger": _trigger(run.tags),
            "full": str(run.tags.get(FULL_REFRESH_TAG, "")).lower() in ("1", "true", "yes"),
            "created_at": _iso(record.create_timestamp), "started_at": _iso(record.start_time),
            "ended_at": _iso(record.end_time), "duration_s": duration}


def list_runs(instance: dg.DagsterInstance, statuses: list[str] | None = None, repository: str | None = None,
              limit: int = 50, failed_first: bool = False) -> list[dict]:
    """Newest first; with failed_first, failed runs before the others (each group newest first)."""
    tags = {PARTITION_TAG: repository} if repository else None

    def fetch(groups: list[str], n: int) -> list:
        wanted = [s for g in groups for s in STATUS_GROUPS[g]]
        return list(instance.get_run_records(filters=dg.RunsFilter(statuses=wanted or None, tags=tags), limit=n))

    groups = statuses or []
    if not failed_first:
        return [run_summary(r) for r in fetch(groups, limit)]
    failed_groups = [g for g in (groups or list(STATUS_GROUPS)) if g == "failure"]
    other_groups = [g for g in (groups or list(STATUS_GROUPS)) if g != "failure"]
    records = fetch(failed_groups, limit) if failed_groups else []
    if len(records) < limit and other_groups:
        records += fetch(other_groups, limit - len(records))
    return [run_summary(r) for r in records]


def count_by_status(instance: dg.DagsterInstance, job_name: str | None = None) -> dict[str, int]:
    return {name: instance.get_runs_count(dg.RunsFilter(job_name=job_name, statuses=members))
            for name, members in STATUS_GROUPS.items()}


def _error_message(error) -> str:
    while error is not None and error.cause is not None:
        error = error.cause
    text = (error.message or "").strip().splitlines() if error is not None else []
    return redact(text[-1] if text else "failed")[:1000]


def _rows(metadata) -> int | None:
    value = metadata.get("dagster/row_count")
    return getattr(value, "value", None)


def run_detail(instance: dg.DagsterInstance, run_id: str) -> dict | None:
    """The run's summary, its steps with timings, its materializations and its error; None when unknown."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    steps = []
    for stat in sorted(instance.get_run_step_stats(run_id), key=lambda s: (s.start_time or 0, s.step_key)):
        duration = round(stat.end_time - stat.start_time, 3) if stat.start_time and stat.end_time else None
        steps.append({"step_key": stat.step_key, "status": stat.status.value.lower() if stat.status else "started",
                      "started_at": _iso(stat.start_time), "ended_at": _iso(stat.end_time), "duration_s": duration,
                      "attempts": stat.attempts or 1})
    materializations = []
    for event in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records:
        mat = event.event_log_entry.dagster_event.event_specific_data.materialization
        materializations.append({"asset": mat.asset_key.to_user_string(), "partition": mat.partition,
                                 "step_key": event.event_log_entry.step_key, "at": _iso(event.timestamp),
                                 "rows": _rows(mat.metadata)})
    return {**run_summary(record), "steps": steps, "materializations": materializations,
            "error": run_error(instance, run_id)}


def run_error(instance: dg.DagsterInstance, run_id: str) -> dict | None:
    """The first step failure of the run (it says most), else the run's own failure message; None."""
    error = None
    failures = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}).records
    for event in failures:
        dagster_event = event.event_log_entry.dagster_event
        if dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE:
            return {"step_key": dagster_event.step_key,
                    "message": _error_message(dagster_event.event_specific_data.error)}
        if error is None:
            error = {"step_key": None, "message": redact(event.event_log_entry.message or "run failed")[:1000]}
    return error


def event_payload(record) -> dict:
    """One event-log record as the event stream sends it (message redacted, no stack traces)."""
    entry = record.event_log_entry
    dagster_event = entry.dagster_event
    body = {"storage_id": record.storage_id, "at": _iso(entry.timestamp),
            "type": dagster_event.event_type.name if dagster_event else "LOG",  # RUN_START, not PIPELINE_START
            "step_key": entry.step_key, "level": entry.level if isinstance(entry.level, str) else None,
            "message": redact(entry.user_message or "")[:2000]}
    if dagster_event is not None and dagster_event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
        mat = dagster_event.event_specific_data.materialization
        body["asset"], body["partition"], body["rows"] = (mat.asset_key.to_user_string(), mat.partition,
                                                          _rows(mat.metadata))
    return body


def events_after(instance: dg.DagsterInstance, run_id: str, after_storage_id: int | None, limit: int = 500
                 ) -> list[dict]:
    from dagster._core.storage.event_log.base import EventLogCursor  # no public constructor for a cursor

    cursor = EventLogCursor.from_storage_id(after_storage_id).to_string() if after_storage_id else None
    return [event_payload(r) for r in instance.get_records_for_run(run_id, cursor=cursor, limit=limit).records]


def run_status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus | None:
    run = instance.get_run_by_id(run_id)
    return run.status if run else None


# -- queueing refreshes ----------------------------------------------------------------------------

def queue_daemon_problem(instance: dg.DagsterInstance) -> str | None:
    """Why runs submitted now would not start (no queued coordinator, no live run-queue daemon), or None."""
    from dagster._core.run_coordinator import QueuedRunCoordinator

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return "the Dagster instance has no queued run coordinator (dagster.yaml run_coordinator)"
    beat = (instance.get_daemon_heartbeats() or {}).get("QUEUED_RUN_COORDINATOR")
    if beat is None:
        return "no dagster-daemon is running (no run-queue heartbeat): start it with `repo-scoping up`"
    liveness = daemon_liveness({"QUEUED_RUN_COORDINATOR": beat})
    if not liveness["alive"]:
        return f"the dagster-daemon is down: its last run-queue heartbeat was {liveness['heartbeat_age_s']:.0f} s ago"
    return None


_workspace_lock = threading.Lock()
_workspaces: dict[int, object] = {}


def _workspace(instance: dg.DagsterInstance):
    """The code location loaded in this process, named like the deployment's (cached per instance)."""
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    with _workspace_lock:
        context = _workspaces.get(id(instance))
        if context is None:
            origin = InProcessCodeLocationOrigin(
                LoadableTargetOrigin(executable_path=sys.executable, module_name=CODE_LOCATION_MODULE),
                location_name=LOCATION_NAME)
            context = WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin))
            _workspaces[id(instance)] = context
        return context.create_request_context()


def close_workspace(instance: dg.DagsterInstance) -> None:
    """Close the workspace loaded for `instance` (if any)."""
    with _workspace_lock:
        context = _workspaces.pop(id(instance), None)
    if context is not None:
        with contextlib.suppress(Exception):
            context.__exit__(None, None, None)


@contextlib.contextmanager
def _repository_lock(engine: Engine, names: list[str]) -> Iterator[None]:
    """Postgres advisory locks, one per repository: two requests never both see 'none in flight'."""
    with engine.begin() as conn:
        for name in sorted(names):
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                         {"key": f"repo_scoping.refresh:{name}"})
        yield


def in_flight_run(instance: dg.DagsterInstance, name: str):
    records = instance.get_run_records(
        filters=dg.RunsFilter(job_name=REFRESH_JOB, tags={PARTITION_TAG: name}, statuses=IN_FLIGHT), limit=1)
    return records[0] if records else None


def queue_refreshes(instance: dg.DagsterInstance, engine: Engine, names: list[str], *, full: bool = False,
                    requested_by: str | None = None, trigger: str = "api") -> list[dict]:
    """Queue one refresh run per repository, or return the run already queued or running for it.

    Raises DaemonDown (nothing queued) when no daemon would start the runs. The names must be registered
    repositories (the caller checks); their partitions are added when missing.
    """
    from repo_scoping_pipelines.operations.refresh import ensure_partitions

    problem = queue_daemon_problem(instance)
    if problem:
        raise DaemonDown(problem)
    out = []
    with _repository_lock(engine, names):
        pending = []
        for name in names:
            existing = in_flight_run(instance, name)
            if existing is not None:
                out.append({"run_id": existing.dagster_run.run_id, "repository": name,
                            "status": status_group(existing.dagster_run.status), "existing": True})
            else:
                pending.append(name)
        if pending:
            ensure_partitions(instance, pending)
            workspace = _workspace(instance)
            location = workspace.get_code_location(LOCATION_NAME)
            repository = location.get_repository(next(iter(location.get_repository_names())))
            remote_job = repository.get_full_job(REFRESH_JOB)
            plan = location.get_execution_plan(remote_job, {}, step_keys_to_execute=None, known_state=None,
                                               instance=instance).execution_plan_snapshot
            for name in pending:
                tags = {**remote_job.tags, PARTITION_TAG: name, TRIGGER_TAG: trigger}
                if full:
                    tags[FULL_REFRESH_TAG] = "true"
                if requested_by:
                    tags[REQUESTED_BY_TAG] = requested_by
                run = instance.create_run(
                    job_name=REFRESH_JOB, run_id=None, run_config={}, resolved_op_selection=None,
                    step_keys_to_execute=plan.step_keys_to_execute, op_selection=None, status=None,
                    root_run_id=None, parent_run_id=None, tags=tags, job_snapshot=remote_job.job_snapshot,
                    execution_plan_snapshot=plan, parent_job_snapshot=remote_job.parent_job_snapshot,
                    remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin(),
                    asset_selection=None, asset_check_selection=None, asset_graph=repository.asset_graph)
                submitted = instance.submit_run(run.run_id, workspace)
                out.append({"run_id": run.run_id, "repository": name, "status": status_group(submitted.status),
                            "existing": False})
    order = {n: i for i, n in enumerate(names)}
    return sorted(out, key=lambda r: order[r["repository"]])
