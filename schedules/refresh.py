"""Daily refresh of every registered repository."""

import dagster as dg

from .jobs import refresh_repository_job


@dg.schedule(job=refresh_repository_job, cron_schedule="0 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def daily_refresh(context: dg.ScheduleEvaluationContext):
    """02:00 UTC: one incremental refresh run per registered repository."""
    scheduled = context.scheduled_execution_time.strftime("%Y-%m-%d")
    for key in context.instance.get_dynamic_partitions("repositories"):
        yield dg.RunRequest(run_key=f"daily-{scheduled}-{key}", partition_key=key)


SCHEDULES = [daily_refresh]
