"""Dagster schedules and the jobs they target."""

import dagster as dg

from . import refresh
from .jobs import ability_registry_job, author_metrics_daily_job, refresh_repository_job


def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[refresh_repository_job, author_metrics_daily_job, ability_registry_job], schedules=[*refresh.SCHEDULES])
