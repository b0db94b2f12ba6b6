"""Daily incremental and weekly full refresh of every registered repository, daily metrics, daily change
coupling across repositories, and the weekly digest of ability changes."""

from datetime import timedelta

import dagster as dg

from repo_scoping_pipelines.run_tags import FULL_REFRESH_TAG

from .jobs import (
    ability_digest_job,
    author_metrics_daily_job,
    cross_repository_coupling_job,
    refresh_repository_job,
)


@dg.schedule(job=refresh_repository_job, cron_schedule="0 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def daily_refresh(context: dg.ScheduleEvaluationContext):
    """02:00 UTC: one incremental refresh run per registered repository."""
    scheduled = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for key in context.instance.get_dynamic_partitions("repositories"):
        yield dg.RunRequest(run_key=f"daily-{scheduled}-{key}", partition_key=key)


@dg.schedule(job=refresh_repository_job, cron_schedule="0 3 * * 0", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def weekly_full_refresh(context: dg.ScheduleEvaluationContext):
    """Sunday 03:00 UTC: one full refresh run per repository; the run tag makes commit_history,
    pull_requests and tracker_issues re-extract everything instead of starting from watermarks."""
    scheduled = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for key in context.instance.get_dynamic_partitions("repositories"):
        yield dg.RunRequest(run_key=f"weekly-full-{scheduled}-{key}", partition_key=key,
                            tags={FULL_REFRESH_TAG: "true"})


# Yesterday's (UTC) daily metrics partition, after the 02:00 refreshes; days that later receive
# commits are recomputed by the author_metrics_daily_after_history sensor.
@dg.schedule(job=author_metrics_daily_job, cron_schedule="45 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def daily_author_metrics(context: dg.ScheduleEvaluationContext):
    """02:45 UTC: yesterday's per-author daily metrics, over every repository."""
    day = (context.scheduled_execution_time - timedelta(days=1)).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"daily-metrics-{day}", partition_key=day)


@dg.schedule(job=ability_digest_job, cron_schedule="0 6 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def weekly_ability_digest(context: dg.ScheduleEvaluationContext):
    """Monday 06:00 UTC: the digest of the last 7 days' ability changes across every repository."""
    return dg.RunRequest(run_key=f"ability-digest-{context.scheduled_execution_time:%Y-%m-%d}")


@dg.schedule(job=cross_repository_coupling_job, cron_schedule="30 4 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def daily_cross_repository_coupling(context: dg.ScheduleEvaluationContext):
    """04:30 UTC, after the daily refreshes: change coupling across repositories over every stored history."""
    return dg.RunRequest(run_key=f"cross-coupling-{context.scheduled_execution_time:%Y-%m-%d}")
