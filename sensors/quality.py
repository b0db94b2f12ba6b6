"""Launch the data_quality job when any asset with a great-expectations suite was materialized.

Cursor: the newest materialization event id seen. Several refreshes between two ticks make one
run, since the suites read whole tables.
"""

import dagster as dg

from repo_scoping_pipelines.quality.suites import SUITES
from repo_scoping_pipelines.schedules.jobs import data_quality_job

CHECKED_ASSETS = sorted({s.asset for s in SUITES})


def newest_materialization(instance: dg.DagsterInstance, after: int) -> tuple[int, list[str]]:
    """The newest materialization id of a checked asset after `after`, and which assets changed."""
    newest, changed = after, []
    for name in CHECKED_ASSETS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(name), after_storage_id=after or None),
            limit=1, ascending=False).records
        if records:
            changed.append(name)
            newest = max(newest, records[0].storage_id)
    return newest, changed


@dg.sensor(job=data_quality_job, minimum_interval_seconds=120, default_status=dg.DefaultSensorStatus.RUNNING)
def data_quality_after_changes(context: dg.SensorEvaluationContext):
    """One data_quality run per batch of materializations of the checked assets."""
    seen = int(context.cursor or 0)
    newest, changed = newest_materialization(context.instance, seen)
    if newest <= seen:
        return dg.SkipReason(f"no checked asset materialized after event #{seen}")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"quality-{newest}", tags={"repo_scoping/changed": ",".join(changed)[:200]})
