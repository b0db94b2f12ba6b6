"""Insight stage (issue 16): change_insight (hotspots and change coupling from the stored history) and
knowledge_risk (line authorship at the head, islands, bus factor, CODEOWNERS compared with it)."""

from datetime import UTC, datetime

import dagster as dg

from repo_scoping_pipelines.metrics.history import HistoryError, head_commit
from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import insight as insight_store

from ._metadata import markdown_table, preview
from ._skip import Gate, code_version
from .metrics import commit_history


def _head_or_none(context: dg.AssetExecutionContext, checkout) -> str | None:
    """The checkout's head commit; None (logged) for a zip source or an empty repository."""
    try:
        return head_commit(checkout)
    except HistoryError as exc:
        context.log.info(f"{context.partition_key}: no history ({exc})")
        return None


@dg.asset(
    partitions_def=repositories,
    # observed_facts: the complexity its extraction measured on each code file (no second parse).
    deps=[commit_history, "observed_facts"],
    group_name="metrics",
    kinds={"pandas", "postgres"},
    code_version=code_version("insight"),
    check_specs=[dg.AssetCheckSpec("coupling_degrees_valid", asset="change_insight",
                                   description="0 < degree <= 1 and shared revisions <= either file's revisions.")],
)
def change_insight(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Hotspots (per 30d / 90d / 365d / all window ending at the newest commit: revisions x cyclomatic
    complexity of the file at the head, from tree-sitter) and change coupling (code-maat's degree =
    shared commits / average commits of the two files; min revisions, min shared, max change set from
    REPO_SCOPING_INSIGHT_COUPLING_*), computed with pandas over the stored history."""
    services = repo_scoping.services()
    settings = services.settings
    thresholds = {"min_revs": settings.insight_coupling_min_revs,
                  "min_shared_revs": settings.insight_coupling_min_shared_revs,
                  "min_degree": settings.insight_coupling_min_degree,
                  "max_changeset": settings.insight_coupling_max_changeset}
    gate = Gate(context, inputs=thresholds)
    if gate.skipped:
        return gate.result()
    name = context.partition_key
    repo = catalog.get_repository(services.engine, name)
    checkout = settings.checkouts / name
    head = _head_or_none(context, checkout)
    if head is None:
        insight_store.replace_insight(services.engine, repo.id, [], [])
        counts = insight_store.insight_counts(services.engine, repo.id)
        return gate.finish(dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "history": "none"},
            check_results=[dg.AssetCheckResult(check_name="coupling_degrees_valid", passed=True,
                                               metadata=counts)]), changed=True)
    from repo_scoping_pipelines.insight.pipeline import compute_insight  # pandas: imported when it runs

    result = compute_insight(services.engine, repo.id, checkout, head, **thresholds)
    counts = insight_store.insight_counts(services.engine, repo.id)
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": counts["hotspot_rows"] + counts["coupled_pairs"],
                  "commits": result.commits, "files_measured": result.files_measured,
                  "complexity_reused": result.complexity_reused, "complexity_parsed": result.complexity_parsed,
                  **{f"hotspots_{w}": n for w, n in result.hotspots.items()},
                  "coupled_pairs": result.pairs, **{f"change_sets_{k}": v for k, v in result.coupling_stats.items()},
                  "seconds": round(result.seconds, 3),
                  **preview(["path (90d)", "revisions", "complexity", "score"], result.top_hotspots),
                  "coupling_preview": dg.MetadataValue.md(markdown_table(
                      ["file a", "file b", "shared", "degree"], result.top_pairs))},
        check_results=[dg.AssetCheckResult(check_name="coupling_degrees_valid",
                                           passed=counts["coupling_rows_invalid"] == 0, metadata=counts)],
    ), changed=True)


@dg.asset(
    partitions_def=repositories,
    # observed_facts: the CODEOWNERS rules; people: @login owners resolved to git e-mails.
    deps=[commit_history, "observed_facts", "people"],
    group_name="metrics",
    kinds={"git", "pandas", "postgres"},
    code_version=code_version("insight"),
    check_specs=[dg.AssetCheckSpec("knowledge_values_in_range", asset="knowledge_risk",
                                   description="active lines <= lines, 0 <= active share <= 1, bus factor >= 0."),
                 dg.AssetCheckSpec("codeowners_files_counted_once", asset="knowledge_risk",
                                   description="CODEOWNERS comparison: every file at the head is governed or "
                                               "unowned, and each governed file belongs to one rule per section.")],
)
def knowledge_risk(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Who knows the code that is there now: line authorship at the head (git blame, only files whose
    content changed are blamed again), the share of lines by active authors (a commit within
    REPO_SCOPING_INSIGHT_ACTIVE_DAYS), knowledge islands (one active author holds >= 95% of a file),
    the bus factor of every folder and of the repository, and what each person's leaving would orphan.
    In the same run, the CODEOWNERS file that applies is compared with those line authors: per rule the
    files it governs (the last matching rule wins), the share of their lines written by a declared owner,
    inactive owners, an undeclared top author, rules matching nothing, and the files no rule governs."""
    services = repo_scoping.services()
    settings = services.settings
    knobs = {"active_days": settings.insight_active_days, "island_share": settings.insight_island_share}
    # "Active" moves with the calendar: recomputed once a day even without commits.
    gate = Gate(context, inputs={**knobs, "day": datetime.now(UTC).date().isoformat()})
    if gate.skipped:
        return gate.result()
    name = context.partition_key
    repo = catalog.get_repository(services.engine, name)
    checkout = settings.checkouts / name
    head = _head_or_none(context, checkout)
    if head is None:
        counts = insight_store.knowledge_counts(services.engine, repo.id)
        owned = insight_store.codeowners_counts(services.engine, repo.id)
        return gate.finish(dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "history": "none"},
            check_results=[dg.AssetCheckResult(check_name="knowledge_values_in_range", passed=True,
                                               metadata=counts),
                           dg.AssetCheckResult(check_name="codeowners_files_counted_once", passed=True,
                                               metadata=owned)]), changed=False)
    inventory = catalog.previous_inventory(services.engine, repo.id)
    from repo_scoping_pipelines.insight.pipeline import compute_knowledge

    result = compute_knowledge(services.engine, repo.id, checkout, head, inventory,
                               workers=settings.insight_blame_workers, **knobs)
    if result.blame_failed:
        context.log.warning(f"{name}: git blame failed for {len(result.blame_failed)} files: "
                            f"{', '.join(result.blame_failed[:5])}")
    counts = insight_store.knowledge_counts(services.engine, repo.id)
    owned = insight_store.codeowners_counts(services.engine, repo.id)
    whole = result.repository
    co = result.codeowners
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": counts["knowledge_rows"], "files_blamed": result.files_blamed,
                  "files_unchanged": result.files_kept, "files_removed": result.files_removed,
                  "blame_failed": len(result.blame_failed), "authors_without_email": result.authors_without_email,
                  "active_authors": result.active_authors, "bus_factor": whole.get("bus_factor", 0),
                  "active_share": whole.get("active_share", 0.0), "islands": whole.get("islands", 0),
                  "seconds": round(result.seconds, 3),
                  **preview(["island", "author", "lines", "share"], result.top_islands),
                  "codeowners_file": co.file or "none found", "rules": co.rules,
                  "rules_with_drift": co.rules_with_drift, "unowned_files": co.unowned_files,
                  "unowned_lines": co.unowned_lines,
                  "codeowners_preview": dg.MetadataValue.md(markdown_table(
                      ["line", "pattern", "owners", "declared share", "drift"], co.top_drift))},
        check_results=[dg.AssetCheckResult(check_name="knowledge_values_in_range",
                                           passed=counts["knowledge_rows_invalid"] == 0, metadata=counts),
                       dg.AssetCheckResult(check_name="codeowners_files_counted_once",
                                           passed=owned["codeowners_count_errors"] == 0, metadata=owned)],
    ), changed=True)
