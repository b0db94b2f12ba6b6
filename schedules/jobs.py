"""Jobs that sensors, schedules and the CLI launch."""

import dagster as dg

from repo_scoping_pipelines.assets import partitioned_assets
from repo_scoping_pipelines.assets.quality import great_expectations_suites

refresh_repository_job = dg.define_asset_job(
    "refresh_repository",
    selection=dg.AssetSelection.assets(*partitioned_assets()) - dg.AssetSelection.checks(great_expectations_suites),
    description="Materialize every per-repository asset for one repository (partition).",
    tags={"repo_scoping/kind": "refresh"},
)

# Unpartitioned, across repositories: launched by the review_decisions sensor when decisions arrive.
ability_registry_job = dg.define_asset_job(
    "publish_ability_registry",
    selection=dg.AssetSelection.assets("ability_registry"),
    description="Rebuild the approved ability registry from the newest review decisions.",
    tags={"repo_scoping/kind": "abilities"},
)

# Daily-partitioned (all repositories per day): its own job, since the refresh job is per repository.
author_metrics_daily_job = dg.define_asset_job(
    # Not "author_metrics_daily": a job named like its asset breaks the code location when served
    # (`dagster definitions validate`, code server: conflicting op/graph names).
    "author_metrics_daily_job",
    selection=dg.AssetSelection.assets("author_metrics_daily"),
    description="Recompute per-author daily metrics for a day or a range of days (backfills: one run).",
    tags={"repo_scoping/kind": "metrics"},
)

# great-expectations suites, apart from the refresh (GX costs seconds to import): launched by the
# data_quality_after_changes sensor when a checked asset changed.
data_quality_job = dg.define_asset_job(
    "data_quality",
    selection=dg.AssetSelection.checks(great_expectations_suites),
    description="Validate the great-expectations suites of every stage's tables in Postgres.",
    tags={"repo_scoping/kind": "quality"},
)

# Unpartitioned, across repositories: the weekly digest of ability changes.
ability_digest_job = dg.define_asset_job(
    "weekly_ability_digest_job",
    selection=dg.AssetSelection.assets("ability_changes_digest"),
    description="Write the digest of the week's ability changes across every repository.",
    tags={"repo_scoping/kind": "exports"},
)

# Unpartitioned, across repositories: change coupling between repositories through shared issue keys.
cross_repository_coupling_job = dg.define_asset_job(
    "cross_repository_coupling_job",
    selection=dg.AssetSelection.assets("cross_repository_coupling"),
    description="Recompute change coupling across repositories (shared issue keys) from the stored history.",
    tags={"repo_scoping/kind": "metrics"},
)
