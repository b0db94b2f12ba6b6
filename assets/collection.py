"""Collection stage: repository_snapshot."""


import dagster as dg

from repo_scoping_pipelines.collectors.pipeline import take_snapshot
from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage.metrics import row_count
from repo_scoping_pipelines.storage.tables import files

from ._metadata import preview
from ._skip import code_version


@dg.asset(
    partitions_def=repositories,
    group_name="collection",
    kinds={"git", "postgres"},
    code_version=code_version("collectors"),
    check_specs=[dg.AssetCheckSpec("inventory_matches_tree", asset="repository_snapshot",
                                   description="Every file of the commit's tree is inventoried, nothing else.")],
)
def repository_snapshot(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Clone or fetch the repository, record its head commit and inventory every file
    (size, content hash, language, binary / vendored / generated / documentation flags)."""
    services = repo_scoping.services()
    name = context.partition_key
    result = take_snapshot(services, name)
    context.log.info(f"{name}: {result.commit[:12]} with {result.files} files "
                     f"(+{result.added} ~{result.changed} -{result.removed})")
    repo = catalog.get_repository(services.engine, name)
    stored = row_count(services.engine, files, repo.id)
    top = list(result.languages.items())[:8]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.files,
            "commit": result.commit,
            "branch": result.branch or "",
            "new_snapshot": result.new_snapshot,
            "files_added": result.added,
            "files_changed": result.changed,
            "files_removed": result.removed,
            "files_unchanged": result.unchanged,
            "bytes": result.bytes,
            "skipped": dg.MetadataValue.json(result.skipped),
            "seconds": round(result.seconds, 3),
            **preview(["language", "lines"], top),
        },
        data_version=dg.DataVersion(result.commit),
        check_results=[dg.AssetCheckResult(
            check_name="inventory_matches_tree", passed=stored == result.files,
            metadata={"stored": stored, "tree": result.files})],
    )
