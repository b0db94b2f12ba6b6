"""Metrics stage: commit_history, author_metrics_daily, author_metrics_window, file_ownership, what_shipped;
pull_request_details, author_prs_window and people (issue 16)."""

import logging
from datetime import UTC, datetime, timedelta

import dagster as dg

from repo_scoping_pipelines.metrics.history import (
    EARLIEST_PLAUSIBLE,
    HistoryError,
    count_reachable,
    head_commit,
)
from repo_scoping_pipelines.metrics.pipeline import (
    author_daily,
    author_windows,
    compute_ownership,
    compute_people,
    compute_pr_windows,
    compute_shipped,
    extract_history,
    people_inputs,
    sync_pull_request_details,
)
from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.run_tags import is_full_refresh
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import metrics as metric_store

from ._metadata import preview
from ._skip import Gate, code_version
from .collection import repository_snapshot
from .trackers import pull_requests, tracker_issues

# Days from 1980 (older author dates are reported as implausible) through today, in UTC.
daily_partitions = dg.DailyPartitionsDefinition(start_date=EARLIEST_PLAUSIBLE.isoformat(), timezone="UTC",
                                                end_offset=1)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _day(value) -> str:
    return value.isoformat() if value else ""


def _without_history(context: dg.AssetExecutionContext, check_name: str) -> dg.MaterializeResult:
    """An uploaded zip archive carries files, not history: nothing to extract, and nothing to fail."""
    context.log.info(f"{context.partition_key}: zip archive, no git history")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": 0, "mode": "no_history", "reason": "zip archive", "changed": False},
        check_results=[dg.AssetCheckResult(check_name=check_name, passed=True, metadata={"no_history": True})],
    )


@dg.asset(
    partitions_def=repositories,
    deps=[repository_snapshot],
    group_name="metrics",
    kinds={"git", "postgres"},
    code_version=code_version("metrics"),
    check_specs=[dg.AssetCheckSpec("commits_match_git", asset="commit_history",
                                   description="Stored commits = git rev-list --no-merges --count HEAD.")],
)
def commit_history(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Every non-merge commit reachable from the default branch head, author and committer resolved
    through .mailmap, with per-file numstat. Incremental from the last seen head; a force-push, a
    .mailmap change or a run tagged repo_scoping/full_refresh=true re-extracts everything."""
    gate = Gate(context)  # the head is in the snapshot's commit: same commit, same history
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    name = context.partition_key
    repo = catalog.get_repository(services.engine, name)
    checkout = services.settings.checkouts / name
    if repo.source_kind == "zip":
        return gate.finish(_without_history(context, "commits_match_git"), changed=False)
    try:
        result = extract_history(services.engine, repo.id, checkout, full=is_full_refresh(context.run.tags))
    except HistoryError as exc:
        ops_log.event("metrics.history_failed", level=logging.ERROR, repository=name, error=str(exc))
        raise dg.Failure(description=f"commit_history for {name}: {exc}") from None
    context.log.info(f"{name}: {result.mode} ({result.reason}); +{result.commits_added} commits, "
                     f"{result.total_commits} stored")
    if result.implausible_dates:
        message = (f"{name}: {result.implausible_dates} commits are dated before {EARLIEST_PLAUSIBLE} or in the "
                   "future; they count in all-time metrics but fall outside the daily partitions")
        context.log.warning(message)
        ops_log.event("metrics.implausible_dates", level=logging.WARNING, repository=name,
                      commits=result.implausible_dates)
    expected = count_reachable(checkout, result.head)
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.total_commits,
            "head": result.head,
            "mode": result.mode,
            "reason": result.reason,
            "commits_added": result.commits_added,
            "file_changes_added": result.files_added,
            "first_changed_day": _day(result.first_day),
            "last_changed_day": _day(result.last_day),
            "implausible_dates": result.implausible_dates,
            "seconds": round(result.seconds, 3),
        },
        data_version=dg.DataVersion(result.head),
        check_results=[dg.AssetCheckResult(check_name="commits_match_git", passed=expected == result.total_commits,
                                           metadata={"stored": result.total_commits, "git": expected})],
    ), changed=result.changed)


@dg.asset(
    partitions_def=daily_partitions,
    deps=[dg.AssetDep(commit_history, partition_mapping=dg.AllPartitionMapping())],
    backfill_policy=dg.BackfillPolicy.single_run(),
    group_name="metrics",
    kinds={"postgres"},
    check_specs=[dg.AssetCheckSpec("daily_matches_history", asset="author_metrics_daily",
                                   description="The days' commits per author sum to the stored commits of those days.")],
)
def author_metrics_daily(context: dg.AssetExecutionContext,
                         repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Commits, lines added/deleted and files touched per repository, author and UTC day (author date).
    Daily partitions; a backfill of any date range recomputes those days from the stored history
    in one run."""
    services = repo_scoping.services()
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    result = author_daily(services.engine, start, end)
    context.log.info(f"days {start}..{end - timedelta(days=1)}: {result.rows} author-days")
    return dg.MaterializeResult(
        metadata={"dagster/row_count": result.rows, "first_day": start.isoformat(),
                  "last_day": (end - timedelta(days=1)).isoformat(), "commits": result.daily_commits,
                  "seconds": round(result.seconds, 3)},
        check_results=[dg.AssetCheckResult(
            check_name="daily_matches_history", passed=result.daily_commits == result.history_commits,
            metadata={"daily": result.daily_commits, "history": result.history_commits})],
    )


@dg.asset(
    partitions_def=repositories,
    deps=[commit_history],
    group_name="metrics",
    kinds={"postgres"},
    code_version=code_version("metrics"),
    check_specs=[dg.AssetCheckSpec("all_time_matches_history", asset="author_metrics_window",
                                   description="All-time commits per author sum to the stored commits.")],
)
def author_metrics_window(context: dg.AssetExecutionContext,
                          repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Per author: commits, lines added/deleted, files touched and active days over the last 7, 30
    and 90 days and all time (what GET /metrics/authors answers)."""
    # The 7/30/90-day windows move with the calendar: recomputed once a day even without commits.
    gate = Gate(context, inputs={"day": _today()})
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    repo = catalog.get_repository(services.engine, context.partition_key)
    result = author_windows(services.engine, repo.id)
    stored = metric_store.commit_count(services.engine, repo.id)
    top = metric_store.window_authors(services.engine, repo.id, "30d")[:10]
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": result.rows["all"], **{f"authors_{w}": n for w, n in result.rows.items()},
                  "as_of": result.as_of.isoformat(timespec="seconds"), "seconds": round(result.seconds, 3),
                  **preview(
                      ["author (30 days)", "commits", "+", "-"],
                      [(a["author_name"], a["commits"], a["lines_added"], a["lines_deleted"]) for a in top])},
        check_results=[dg.AssetCheckResult(check_name="all_time_matches_history",
                                           passed=result.commits_all == stored,
                                           metadata={"window_all": result.commits_all, "history": stored})],
    ), changed=True)


@dg.asset(
    partitions_def=repositories,
    deps=[commit_history],
    group_name="metrics",
    kinds={"postgres"},
    code_version=code_version("metrics"),
    check_specs=[dg.AssetCheckSpec("ownership_rows_valid", asset="file_ownership",
                                   description="No negative line counts; every row has a commit.")],
)
def file_ownership(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """For each path of the head's tree, the authors' changed lines (renames followed), a
    recency-weighted variant (half-life REPO_SCOPING_OWNERSHIP_HALF_LIFE_DAYS) and the main owner;
    GET /metrics/ownership also answers for folders."""
    services = repo_scoping.services()
    # Recency weights age with the calendar: recomputed once a day, or when the half-life changes.
    gate = Gate(context, inputs={"day": _today(), "half_life_days": services.settings.ownership_half_life_days})
    if gate.skipped:
        return gate.result()
    name = context.partition_key
    repo = catalog.get_repository(services.engine, name)
    checkout = services.settings.checkouts / name
    if repo.source_kind == "zip":
        return gate.finish(_without_history(context, "ownership_rows_valid"), changed=False)
    try:
        head = head_commit(checkout)
    except HistoryError as exc:
        raise dg.Failure(description=f"file_ownership for {name}: {exc}") from None
    result = compute_ownership(services.engine, repo.id, checkout, head,
                               half_life_days=services.settings.ownership_half_life_days,
                               force=is_full_refresh(context.run.tags))
    problems = metric_store.owner_problems(services.engine, repo.id)
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": result.rows, "paths": result.paths,
                  "seconds": round(result.seconds, 3),
                  **preview(["author", "lines changed"], result.top)},
        check_results=[dg.AssetCheckResult(check_name="ownership_rows_valid", passed=not any(problems.values()),
                                           metadata=problems)],
    ), changed=not result.skipped)


@dg.asset(
    partitions_def=repositories,
    deps=[commit_history, pull_requests],
    group_name="metrics",
    kinds={"postgres"},
    code_version=code_version("metrics"),
    check_specs=[dg.AssetCheckSpec("weeks_cover_history", asset="what_shipped",
                                   description="From commits: every stored commit is in exactly one week.")],
)
def what_shipped(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Per ISO week: the merged pull requests (when GitHub is synced for the repository) or else the
    commits that landed, grouped by conventional-commit type (feat, fix, ... other)."""
    gate = Gate(context)
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    repo = catalog.get_repository(services.engine, context.partition_key)
    result = compute_shipped(services.engine, repo.id, force=is_full_refresh(context.run.tags))
    total = metric_store.shipped_total(services.engine, repo.id)
    expected = (metric_store.commit_count(services.engine, repo.id) if result.source == "commits"
                else result.items)
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": result.weeks, "source": result.source, "items": result.items,
                  "latest_week": _day(result.latest_week), "seconds": round(result.seconds, 3),
                  **preview(["type", "latest week"],
                                                                sorted(result.latest_counts.items()))},
        check_results=[dg.AssetCheckResult(check_name="weeks_cover_history", passed=total == expected,
                                           metadata={"in_weeks": total, "expected": expected})],
    ), changed=not result.skipped)


# --- people and pull-request metrics (issue 16) ------------------------------------------------------

@dg.asset(
    partitions_def=repositories,
    deps=[pull_requests],
    group_name="metrics",
    kinds={"github", "postgres"},
    pool="github",
    code_version=code_version("collectors", "metrics"),
    check_specs=[dg.AssetCheckSpec("details_sync_succeeded", asset="pull_request_details",
                                   description="GitHub answered for every PR that needed details "
                                               "(or GitHub is not configured).")],
)
def pull_request_details(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Reviews, changed files (lines, paths) and commits of each pull request, from the GitHub REST API
    (paginated), fetched only for PRs new or updated since their details were last fetched. The
    commits carry GitHub's commit-author linkage (login <-> git e-mail) that the people registry uses."""
    services = repo_scoping.services()
    name = context.partition_key
    result = sync_pull_request_details(services, name)
    # Fed from outside the graph like pull_requests: never skipped, but fetching nothing keeps the data
    # version, so author_prs_window and people can skip.
    gate = Gate(context, decide=False)
    gate.rerun_because = "outside service, polled every refresh"
    if result.status == "error":
        context.log.error(f"{name}: pull request details failed after {result.fetched} PRs: {result.error}")
    else:
        context.log.info(f"{name}: pull request details {result.status}: {result.reason}")
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": result.totals.get("prs_with_details", 0), "status": result.status,
                  "reason": result.reason, "error": result.error or "", "pending": result.pending,
                  "fetched": result.fetched, "changed": result.fetched > 0, "requests": result.requests,
                  "skipped_records": result.skipped_records, "seconds": round(result.seconds, 3),
                  "reviews": result.totals.get("reviews", 0), "files": result.totals.get("files", 0)},
        check_results=[dg.AssetCheckResult(check_name="details_sync_succeeded", passed=result.status != "error",
                                           metadata={"status": result.status, "error": result.error or ""})],
    ), changed=result.fetched > 0 or result.status == "error", fresh=True)


@dg.asset(
    partitions_def=repositories,
    deps=[pull_request_details],
    group_name="metrics",
    kinds={"pandas", "postgres"},
    code_version=code_version("metrics"),
    check_specs=[dg.AssetCheckSpec("all_time_opened_matches_prs", asset="author_prs_window",
                                   description="All-time PRs opened per author sum to the stored PRs with an author.")],
)
def author_prs_window(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Per GitHub login over the last 7, 30 and 90 days and all time: PRs opened and merged, median
    hours to the first review (by someone else) and to merge, reviews given, median PR size in lines
    and files (what GET /metrics/pull-requests answers). Computed with pandas from the stored PRs."""
    # The 7/30/90-day windows move with the calendar: recomputed once a day even without new PRs.
    gate = Gate(context, inputs={"day": _today()})
    if gate.skipped:
        return gate.result()
    from repo_scoping_pipelines.storage import people as people_store  # pandas: imported when it runs
    services = repo_scoping.services()
    repo = catalog.get_repository(services.engine, context.partition_key)
    result = compute_pr_windows(services.engine, repo.id)
    opened_all = sum(r["opened"] for r in people_store.pr_window_rows(services.engine, repo.id, "all"))
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": result.rows["all"], **{f"authors_{w}": n for w, n in result.rows.items()},
                  "prs": result.prs, **{f"bad_{k}": v for k, v in result.counts.items() if k not in ("prs", "reviews")},
                  "as_of": result.as_of.isoformat(timespec="seconds"), "seconds": round(result.seconds, 3),
                  **preview(["login (30 days)", "opened", "merged", "reviews given", "median h to review",
                             "median h to merge"],
                            [(r["author_login"], r["opened"], r["merged"], r["reviews_given"],
                              r["median_hours_to_first_review"], r["median_hours_to_merge"]) for r in result.top])},
        check_results=[dg.AssetCheckResult(check_name="all_time_opened_matches_prs", passed=opened_all == result.prs,
                                           metadata={"opened_all": opened_all, "prs": result.prs})],
    ), changed=True)


@dg.asset(
    partitions_def=repositories,
    deps=[commit_history, pull_request_details, tracker_issues],
    group_name="metrics",
    kinds={"pandas", "postgres"},
    code_version=code_version("metrics"),
    check_specs=[dg.AssetCheckSpec("every_identity_has_a_person", asset="people",
                                   description="Each identity belongs to exactly one stored person.")],
)
def people(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """The people registry across repositories and tools: git authors (after .mailmap), GitHub logins
    and Redmine users merged by exact e-mail, GitHub noreply addresses, GitHub's commit-author linkage
    and manual `repo-scoping people merge|split` decisions (which survive every recomputation). Similar
    names become suggestions for a person to decide. Partitioned by repository so every refresh keeps
    it current; the (global) registry is rebuilt when the identities seen in any repository or the
    decisions changed, else skipped."""
    from repo_scoping_pipelines.storage import people as people_store  # pandas: imported when it runs
    services = repo_scoping.services()
    inputs = people_inputs(services.engine)
    # The registry is global: this partition's upstreams alone do not say whether it changed.
    gate = Gate(context, inputs={"identities": inputs.fingerprint()})
    if gate.skipped:
        return gate.result()
    result = compute_people(services.engine, inputs)
    totals = people_store.registry_totals(services.engine)
    context.log.info(f"{result.people} people from {result.identities} identities, "
                     f"{result.suggestions} suggestions waiting")
    return gate.finish(dg.MaterializeResult(
        metadata={"dagster/row_count": result.people, "identities": result.identities,
                  "suggestions": result.suggestions, "moved_identities": result.moved,
                  "new_identities": result.new,
                  **result.counts, "seconds": round(result.seconds, 3),
                  **preview(["person", "e-mail", "github", "identities"], result.top)},
        check_results=[dg.AssetCheckResult(
            check_name="every_identity_has_a_person",
            passed=totals["orphans"] == 0 and totals["identities"] == result.identities,
            metadata=totals)],
    ), changed=bool(result.moved or result.new))
