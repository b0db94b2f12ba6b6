"""Dagster sensors."""

import dagster as dg

from . import metrics, registrations, remote_heads, reviews


def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[*registrations.SENSORS, *remote_heads.SENSORS, *metrics.SENSORS, *reviews.SENSORS])
