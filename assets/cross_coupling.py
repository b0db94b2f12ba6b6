"""Change coupling across repositories (issue 16): one unpartitioned asset over every repository's
stored history, since an issue key's change sets span repositories."""

import dagster as dg

from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.storage import cross_coupling as cross_store

from ._metadata import preview
from .metrics import commit_history


@dg.asset(
    deps=[commit_history],
    group_name="metrics",
    kinds={"pandas", "postgres"},
    check_specs=[dg.AssetCheckSpec("cross_coupling_pairs_valid", asset="cross_repository_coupling",
                                   description="0 < degree <= 1, shared revisions <= either file's revisions, "
                                               "each pair once (repository a < repository b), shared keys listed.")],
)
def cross_repository_coupling(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource
                              ) -> dg.MaterializeResult:
    """Files of different repositories that change under the same issue keys: commits whose subject names a
    Jira-style key (`PAY-123`), a qualified `owner/repo#123`, or a bare `#123` in a repository whose GitHub
    slug is known (it is that repository's `owner/repo#123`; elsewhere a bare number is no key)
    form one change set per repository and key; pairs get code-maat's degree = shared keys / average keys
    of the two files, with the within-repository REPO_SCOPING_INSIGHT_COUPLING_* minimums and maximum
    change-set size. Rebuilt whole by the daily_cross_repository_coupling schedule (04:30 UTC, after the
    refreshes) from whatever history is stored."""
    from repo_scoping_pipelines.insight.cross_pipeline import compute_cross_coupling  # pandas: when it runs

    services = repo_scoping.services()
    settings = services.settings
    result = compute_cross_coupling(
        services.engine, settings, min_revs=settings.insight_coupling_min_revs,
        min_shared_revs=settings.insight_coupling_min_shared_revs, min_degree=settings.insight_coupling_min_degree,
        max_changeset=settings.insight_coupling_max_changeset)
    counts = cross_store.cross_coupling_counts(services.engine)
    stats = result.stats
    return dg.MaterializeResult(
        metadata={"dagster/row_count": counts["cross_pairs"], "pairs": result.pairs, "keys": stats.get("keys", 0),
                  "repositories": result.repositories,
                  "repositories_with_keys": stats.get("repositories_with_keys", 0),
                  "commits_read": stats.get("commits", 0), "commits_with_keys": stats.get("commits_with_keys", 0),
                  "commits_too_large": stats.get("commits_too_large", 0),
                  "change_sets": stats.get("change_sets", 0),
                  "change_sets_too_large": stats.get("change_sets_too_large", 0),
                  "seconds": round(result.seconds, 3),
                  **preview(["file a", "file b", "shared", "degree", "keys"], result.top_pairs)},
        check_results=[dg.AssetCheckResult(check_name="cross_coupling_pairs_valid",
                                           passed=counts["cross_rows_invalid"] == 0, metadata=counts)],
    )
