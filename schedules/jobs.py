"""Jobs that sensors, schedules and the CLI launch."""

import dagster as dg

from repo_scoping_pipelines.assets import partitioned_assets

refresh_repository_job = dg.define_asset_job(
    "refresh_repository",
    selection=dg.AssetSelection.assets(*partitioned_assets()),
    description="Materialize every per-repository asset for one repository (partition).",
    tags={"repo_scoping/kind": "refresh"},
)
