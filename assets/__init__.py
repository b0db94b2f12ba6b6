"""Dagster software-defined assets, one module per stage."""

import dagster as dg

from repo_scoping_pipelines.partitions import repositories

from . import abilities, collection, content, facts, metrics, trackers

MODULES = [collection, content, trackers, metrics, facts, abilities]


def partitioned_assets() -> list:
    """Every asset partitioned by repository alone: what one refresh of one repository materializes."""
    return [a for m in MODULES for a in m.ASSETS if getattr(a, "partitions_def", None) == repositories]


def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[a for m in MODULES for a in m.ASSETS],
        asset_checks=[c for m in MODULES for c in getattr(m, "CHECKS", [])],
    )
