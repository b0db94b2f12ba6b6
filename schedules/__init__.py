"""Dagster schedules and the jobs they target."""

import dagster as dg

from . import refresh
from .jobs import refresh_repository_job


def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[refresh_repository_job], schedules=[*refresh.SCHEDULES])
