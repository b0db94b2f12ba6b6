"""Outside trackers: pull_requests (GitHub) and tracker_issues (Redmine), both optional.

Both run before chunk_embeddings in a refresh (it depends on them), so PR and issue text is
embedded and searchable in the same run.
"""

import dagster as dg

from repo_scoping_pipelines.metrics.pipeline import SyncResult, sync_pull_requests, sync_tracker_issues
from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.run_tags import is_full_refresh

from ._skip import Gate, code_version
from .collection import repository_snapshot


def _result(context: dg.AssetExecutionContext, result: SyncResult, check: str) -> dg.MaterializeResult:
    name = context.partition_key
    # Fed from outside the graph: never skipped, but a sync that fetched nothing keeps the data
    # version, so chunk_embeddings and what_shipped skip; one that fetched something gets a new one.
    gate = Gate(context, decide=False)
    gate.rerun_because = "outside service, polled every refresh"
    if result.status == "error":
        # The service failed: say so loudly, keep what is stored, let the other assets go on.
        context.log.error(f"{name}: {result.source} sync failed: {result.error}")
    elif result.status == "not_configured":
        context.log.info(f"{name}: {result.source} not configured ({result.reason})")
    else:
        context.log.info(f"{name}: {result.source} {result.status}: {result.reason}")
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": result.stored, "status": result.status, "reason": result.reason,
                  "error": result.error or "", "target": result.target or "", "fetched": result.fetched,
                  "changed": result.fetched > 0, "chunks_added": result.chunks_added,
                  "requests": result.requests, "seconds": round(result.seconds, 3), **result.details},
        check_results=[dg.AssetCheckResult(
            check_name=check, passed=result.status != "error", severity=dg.AssetCheckSeverity.ERROR,
            metadata={"status": result.status, "error": result.error or ""})],
    ), changed=result.fetched > 0 or result.status == "error", fresh=True)


@dg.asset(
    partitions_def=repositories,
    deps=[repository_snapshot],
    group_name="collection",
    kinds={"github", "postgres"},
    pool="github",
    code_version=code_version("collectors", "metrics"),
    check_specs=[dg.AssetCheckSpec("github_sync_succeeded", asset="pull_requests",
                                   description="The last GitHub sync answered (or GitHub is not configured).")],
)
def pull_requests(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Pull requests from the GitHub REST API when REPO_SCOPING_GITHUB_TOKEN is set and the repository
    is on GitHub: paginated, ETag-conditional, rate limits waited out, incremental by updated_at.
    Titles and bodies become searchable chunks (source 'pull_request')."""
    services = repo_scoping.services()
    result = sync_pull_requests(services, context.partition_key, full=is_full_refresh(context.run.tags))
    return _result(context, result, "github_sync_succeeded")


@dg.asset(
    partitions_def=repositories,
    deps=[repository_snapshot],
    group_name="collection",
    kinds={"postgres"},
    pool="redmine",
    code_version=code_version("collectors", "metrics"),
    check_specs=[dg.AssetCheckSpec("redmine_sync_succeeded", asset="tracker_issues",
                                   description="The last Redmine sync answered (or Redmine is not configured).")],
)
def tracker_issues(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Issues of the repository's Redmine project (REPO_SCOPING_REDMINE_PROJECTS, default: its name)
    when REPO_SCOPING_REDMINE_URL and _API_KEY are set, incremental by updated_on. Subjects and
    descriptions become searchable chunks (source 'issue')."""
    services = repo_scoping.services()
    result = sync_tracker_issues(services, context.partition_key, full=is_full_refresh(context.run.tags))
    return _result(context, result, "redmine_sync_succeeded")
