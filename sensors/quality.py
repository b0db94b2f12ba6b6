"""Launch the data_quality job when any asset with a great-expectations suite was materialized.

Cursor: the newest materialization event id seen. Several refreshes between two ticks make one
run, since the suites read whole tables.
"""

import dagster as dg

from repo_scoping_pipelines.quality.suites import SUITES
from repo_scoping_pipelines.schedules.jobs import data_quality_job

CHECKED_ASSETS = sorted({s.asset for s in SUITES})


def newest_materialization(instance: dg.DagsterInstance, after: int) -> tuple[int, list[str]]:
    """The newest materialization id of a checked asset after `after`, and which assets changed
    (one asset-records query for all checked assets)."""
    records = instance.get_asset_records([dg.AssetKey(name) for name in CHECKED_ASSETS])
    latest = {r.asset_entry.asset_key.to_user_string(): r.asset_entry.last_materialization_storage_id or 0
              for r in records}
    changed = sorted(name for name, storage_id in latest.items() if storage_id > after)
    return max([after, *latest.values()]), changed


@dg.sensor(job=data_quality_job, minimum_interval_seconds=120, default_status=dg.DefaultSensorStatus.RUNNING)
def data_quality_after_changes(context: dg.SensorEvaluationContext):
    """One data_quality run per batch of materializations of the checked assets."""
    seen = int(context.cursor or 0)
    newest, changed = newest_materialization(context.instance, seen)
    if newest <= seen:
        return dg.SkipReason(f"no checked asset materialized after event #{seen}")
    context.update_cursor(str(newest))
    return dg.RunRequest(run_key=f"quality-{newest}", tags={"repo_scoping/changed": ",".join(changed)[:200]})
