"""Recompute the daily author metrics of the days whose commits changed in a commit_history run."""

from datetime import UTC, date, datetime

import dagster as dg

from repo_scoping_pipelines.metrics.history import EARLIEST_PLAUSIBLE
from repo_scoping_pipelines.schedules.jobs import author_metrics_daily_job

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def changed_days(records) -> tuple[date | None, date | None]:
    first = last = None
    for record in records:
        metadata = record.asset_materialization.metadata if record.asset_materialization else {}
        lo, hi = metadata.get("first_changed_day"), metadata.get("last_changed_day")
        if lo is None or hi is None or not lo.value or not hi.value:
            continue
        lo, hi = date.fromisoformat(lo.value), date.fromisoformat(hi.value)
        first = lo if first is None else min(first, lo)
        last = hi if last is None else max(last, hi)
    return first, last


@dg.sensor(job=author_metrics_daily_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def author_metrics_daily_after_history(context: dg.SensorEvaluationContext):
    """After commit_history materializations, one run over the range of days they changed (a
    single-run backfill of author_metrics_daily), clamped to the partitions (1980 .. today)."""
    result = context.instance.fetch_materializations(dg.AssetKey("commit_history"), limit=500,
                                                      cursor=context.cursor, ascending=True)
    if not result.records:
        return dg.SkipReason("no new commit_history materialization")
    first, last = changed_days(result.records)
    context.update_cursor(result.cursor)
    today = datetime.now(UTC).date()
    if first is None or last is None:
        return dg.SkipReason("no commit changed")
    first, last = max(first, EARLIEST_PLAUSIBLE), min(last, today)
    if first > last:
        return dg.SkipReason("changed days fall outside the daily partitions")
    return dg.RunRequest(run_key=f"days-{first}-{last}-{result.cursor}",
                         tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat()})
