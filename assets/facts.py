"""Facts stage: observed_facts and dependency_graph."""

import dagster as dg

from repo_scoping_pipelines.facts.pipeline import build_repository_graph, observe_repository
from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.run_tags import is_full_refresh
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import facts as fact_store

from ._metadata import preview
from ._skip import Gate, code_version
from .collection import repository_snapshot


@dg.asset(
    partitions_def=repositories,
    deps=[repository_snapshot],
    group_name="facts",
    kinds={"python", "postgres"},
    code_version=code_version("facts"),
    check_specs=[
        dg.AssetCheckSpec("evidence_exists", asset="observed_facts",
                          description="Every fact's evidence file is in the snapshot with the content hash it was "
                                      "read from, and its line lies within that file."),
        dg.AssetCheckSpec("keys_not_empty", asset="observed_facts",
                          description="kind, subject, path and commit are set on every fact."),
        dg.AssetCheckSpec("values_in_range", asset="observed_facts",
                          description="Confidence in [0, 1], language lines >= 0 and shares within 0-100 %, "
                                      "every fact on the latest snapshot."),
    ],
)
def observed_facts(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """What the repository is made of, each fact with the file and line that prove it: languages,
    manifests and dependencies, frameworks, entry points, HTTP routes, CI jobs, Dockerfiles, compose
    services, Helm charts, license, tests and documentation. Only files whose content changed are read."""
    gate = Gate(context)
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    name = context.partition_key
    result = observe_repository(services, name, full=is_full_refresh(context.run.tags))
    for warning in result.sync.new_warnings[:50]:
        context.log.warning(warning)
    repo = catalog.get_repository(services.engine, name)
    problems = fact_store.fact_problems(services.engine, repo.id)
    evidence = {k: problems[k] for k in ("evidence_missing", "evidence_changed", "line_out_of_range")}
    ranges = {k: problems[k] for k in ("confidence_out_of_range", "language_lines_out_of_range", "stale_snapshot")}
    total = sum(result.by_kind.values())
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "commit": result.commit,
            "files_extracted": result.sync.extracted,
            "files_unchanged": result.sync.cached,
            "files_removed": result.sync.removed,
            "facts_added": result.added,
            "facts_removed": result.removed,
            "facts_unchanged": result.unchanged,
            "facts_by_kind": dg.MetadataValue.json(result.by_kind),
            **{f"facts/{kind}": n for kind, n in result.by_kind.items()},
            "warnings": len(result.warnings),
            "warning_list": dg.MetadataValue.json(result.warnings[:50]),
            "seconds": round(result.seconds, 3),
            **preview(["kind", "subject", "evidence", "confidence"],
                                                          result.preview),
        },
        check_results=[
            dg.AssetCheckResult(check_name="evidence_exists", passed=not any(evidence.values()), metadata=evidence),
            dg.AssetCheckResult(check_name="keys_not_empty", passed=problems["empty_keys"] == 0,
                                metadata={"empty_keys": problems["empty_keys"]}),
            dg.AssetCheckResult(check_name="values_in_range", passed=not any(ranges.values()), metadata=ranges),
        ],
    ), changed=bool(result.added or result.removed))


@dg.asset(
    partitions_def=repositories,
    # After observed_facts so the files are parsed once: both read the same per-file extraction cache.
    deps=[repository_snapshot, observed_facts],
    group_name="facts",
    kinds={"python", "postgres"},
    code_version=code_version("facts"),
    check_specs=[
        dg.AssetCheckSpec("edges_resolve", asset="dependency_graph",
                          description="Every edge joins two stored nodes and cites an importing file and line of "
                                      "the snapshot; every internal node is a file (or package folder) in it."),
        dg.AssetCheckSpec("graph_values_in_range", asset="dependency_graph",
                          description="Degrees and line counts >= 0; PageRank over internal nodes sums to 1."),
    ],
)
def dependency_graph(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """The import graph: modules (Python/JS/TS files, Go packages, Java classes) with language, lines,
    in/out degree and PageRank rank, and import edges, internal or to external/stdlib packages."""
    gate = Gate(context)
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    name = context.partition_key
    result = build_repository_graph(services, name)
    repo = catalog.get_repository(services.engine, name)
    problems = fact_store.graph_problems(services.engine, repo.id)
    nodes, edges = result.graph.nodes, result.graph.edges
    internal = [n for n in nodes if n["internal"]]
    edge_kinds = {k: sum(1 for e in edges if e["kind"] == k) for k in ("internal", "external", "stdlib")}
    top = [(n["rank"], n["name"], n["language"], n["lines"], n["in_degree"], n["out_degree"], round(n["pagerank"], 4))
           for n in internal[:10]]
    structure = {k: problems[k] for k in ("dangling_edges", "edge_evidence_missing", "internal_nodes_without_file")}
    ranges = {k: problems[k] for k in ("negative_counts", "pagerank_sum_off")}
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(nodes) + len(edges),
            "commit": result.commit,
            "nodes": len(nodes),
            "internal_nodes": len(internal),
            "external_nodes": len(nodes) - len(internal),
            "edges": len(edges),
            **{f"edges/{kind}": n for kind, n in edge_kinds.items()},
            "unresolved_relative_imports": result.graph.unresolved,
            "files_extracted": result.sync.extracted,
            "seconds": round(result.seconds, 3),
            **preview(
                ["rank", "module", "language", "lines", "in", "out", "pagerank"], top),
        },
        check_results=[
            dg.AssetCheckResult(check_name="edges_resolve", passed=not any(structure.values()), metadata=structure),
            dg.AssetCheckResult(check_name="graph_values_in_range", passed=not any(ranges.values()),
                                metadata=ranges),
        ],
    ), changed=True)
