"""Refreshing repositories in-process through the Dagster job (the CLI's `refresh`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import dagster as dg

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.operations import telemetry
from repo_scoping_pipelines.partitions import repositories


@dataclass
class RefreshOutcome:
    repository: str
    success: bool
    run_id: str
    assets: dict[str, dict] = field(default_factory=dict)  # asset -> metadata values
    error: str | None = None


def ensure_partitions(instance: dg.DagsterInstance, names: list[str]) -> None:
    known = set(instance.get_dynamic_partitions(repositories.name))
    missing = [n for n in names if n not in known]
    if missing:
        instance.add_dynamic_partitions(repositories.name, missing)


def refresh_in_process(instance: dg.DagsterInstance, name: str, *, tags: dict | None = None,
                       run_id: str | None = None) -> RefreshOutcome:
    """Materialize every per-repository asset for `name` in this process, recorded in the instance
    (under `run_id` when given, so a watcher can follow the run's events while it executes)."""
    from repo_scoping_pipelines.definitions import defs

    ensure_partitions(instance, [name])
    job = defs.resolve_job_def("refresh_repository")
    started = time.perf_counter()
    ops_log.event("run.start", repository=name, job="refresh_repository")
    result = job.execute_in_process(
        instance=instance, partition_key=name, raise_on_error=False, tags=tags or {}, run_id=run_id,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    outcome = RefreshOutcome(repository=name, success=result.success, run_id=result.run_id)
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            outcome.assets[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
        elif event.event_type_value == "STEP_FAILURE" and outcome.error is None:
            failure = event.event_specific_data.error
            outcome.error = f"{event.step_key}: {_root_message(failure)}"
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    rows = {asset: meta.get("dagster/row_count") for asset, meta in outcome.assets.items()}
    if outcome.success:
        ops_log.event("run.finish", repository=name, run_id=outcome.run_id, duration_ms=duration_ms, rows=rows)
    else:
        ops_log.event("run.fail", level=logging.ERROR, repository=name, run_id=outcome.run_id,
                      duration_ms=duration_ms, error=outcome.error, rows=rows)
    telemetry.record_run(outcome.success, duration_ms / 1000, rows)
    return outcome


def publish_registry_in_process(instance: dg.DagsterInstance) -> bool:
    """Rebuild ability_registry from the newest review decisions, in this process. Without a daemon the
    review sensor never runs, so a refresh does this itself; the publish is idempotent when both do."""
    from repo_scoping_pipelines.definitions import defs

    job = defs.resolve_job_def("publish_ability_registry")
    result = job.execute_in_process(instance=instance, raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    return result.success


_DATABASE_ERRORS = ("OperationalError", "InterfaceError", "AdminShutdown", "ConnectionFailure")


def _root_message(error) -> str:
    chain = [error]
    while error.cause is not None:
        error = error.cause
        chain.append(error)
    message = error.message.strip().splitlines()[-1] if error.message else "failed"
    if any(any(name in (e.cls_name or "") for name in _DATABASE_ERRORS) for e in chain):
        # Postgres went away mid-run: each write is one transaction, so nothing half-written remains.
        return f"database unavailable, run stopped (rerun when Postgres is back): {message}"
    return message
