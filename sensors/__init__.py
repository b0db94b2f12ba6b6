"""Dagster sensors."""

import dagster as dg

from . import registrations


def defs() -> dg.Definitions:
    return dg.Definitions(sensors=[*registrations.SENSORS])
