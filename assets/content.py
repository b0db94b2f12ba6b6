"""Content stage: content_chunks and chunk_embeddings."""


import dagster as dg

from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.search.pipeline import chunk_repository, embed_repository
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import chunks as chunk_store

from ._metadata import preview
from ._skip import Gate, code_version
from .collection import repository_snapshot


@dg.asset(
    partitions_def=repositories,
    deps=[repository_snapshot],
    group_name="content",
    kinds={"python", "postgres"},
    code_version=code_version("chunking", "search", "collectors"),
    check_specs=[dg.AssetCheckSpec("chunk_spans_valid", asset="content_chunks",
                                   description="1-based inclusive spans; every chunk belongs to a current file.")],
)
def content_chunks(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Syntax-aware chunks of code (one per function, class, method via tree-sitter), Markdown
    sections and text windows. Only files whose content hash changed are re-chunked."""
    gate = Gate(context)
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    name = context.partition_key
    result = chunk_repository(services, name)
    for warning in result.warnings[:50]:
        context.log.warning(warning)
    repo = catalog.get_repository(services.engine, name)
    problems = chunk_store.chunk_problems(services.engine, repo.id)
    total = sum(result.by_kind.values())
    changed = bool(result.files_chunked or result.chunks_removed)
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "files_chunked": result.files_chunked,
            "chunks_added": result.chunks_added,
            "chunks_removed": result.chunks_removed,
            "warnings": len(result.warnings),
            "seconds": round(result.seconds, 3),
            **preview(["kind", "chunks"], sorted(result.by_kind.items())),
        },
        check_results=[dg.AssetCheckResult(check_name="chunk_spans_valid",
                                            passed=not any(problems.values()), metadata=problems)],
    ), changed=changed)


@dg.asset(
    partitions_def=repositories,
    deps=[content_chunks, "pull_requests", "tracker_issues"],  # PR and issue text is embedded in the same run
    group_name="content",
    kinds={"milvus"},
    code_version=code_version("embedding", "search"),
    check_specs=[dg.AssetCheckSpec("vectors_match_chunks", asset="chunk_embeddings",
                                   description="Milvus holds exactly one vector per stored chunk.")],
)
def chunk_embeddings(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Dense vectors (and Milvus BM25 sparse vectors of the normalised text) for every chunk, in the
    collection named after the embedding model. New chunks are embedded, removed ones deleted."""
    services = repo_scoping.services()
    # The collection names the embedding model and dimension: another model re-embeds everything.
    gate = Gate(context, inputs={"collection": services.collection})
    if gate.skipped:
        return gate.result()
    name = context.partition_key
    result = embed_repository(services, name)
    repo = catalog.get_repository(services.engine, name)
    chunks = chunk_store.chunk_total(services.engine, repo.id)
    in_milvus = services.vectors.count(result.collection, name)
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.total,
            "collection": result.collection,
            "embedded": result.embedded,
            "deleted": result.deleted,
            "seconds": round(result.seconds, 3),
        },
        check_results=[dg.AssetCheckResult(
            check_name="vectors_match_chunks", passed=chunks == result.total == in_milvus,
            metadata={"chunks": chunks, "recorded_vectors": result.total, "milvus_rows": in_milvus})],
    ), changed=bool(result.embedded or result.deleted))
