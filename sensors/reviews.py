"""Publish the ability registry when new review decisions arrive (cursor: the last decision id seen)."""

import dagster as dg

from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.schedules.jobs import ability_registry_job
from repo_scoping_pipelines.storage import abilities as ability_store


@dg.sensor(job=ability_registry_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def review_decisions_sensor(context: dg.SensorEvaluationContext, repo_scoping: RepoScopingResource):
    """One registry run per batch of new approve/reject decisions."""
    seen = int(context.cursor or 0)
    last = ability_store.last_decision_id(repo_scoping.services().engine)
    if last <= seen:
        return dg.SkipReason(f"no review decision after #{seen}")
    context.update_cursor(str(last))
    return dg.RunRequest(run_key=f"reviews-{seen + 1}-{last}", tags={"repo_scoping/decisions": f"{seen + 1}-{last}"})
