"""Dagster software-defined assets, one module per stage.

Nothing here lists the assets: `repo_scoping_pipelines.definitions` loads every asset and asset
check defined in this package's modules (Dagster's package loading), so a new asset module is
picked up by being here.
"""

import sys

import dagster as dg

from repo_scoping_pipelines.partitions import repositories


def partitioned_assets() -> list[dg.AssetsDefinition]:
    """Every asset partitioned by repository alone: what one refresh of one repository materializes."""
    return [a for a in dg.load_assets_from_package_module(sys.modules[__name__])
            if isinstance(a, dg.AssetsDefinition) and a.partitions_def == repositories]
