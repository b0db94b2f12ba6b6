"""GitHub and Redmine collectors against local HTTP servers speaking their REST wire formats:
pagination, ETag / 304, rate limits with backoff, errors that keep what is stored."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest
from werkzeug import Response

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.metrics.pipeline import (
    compute_shipped,
    shipped,
    sync_pull_requests,
    sync_tracker_issues,
)
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.search.query import search_code
from repo_scoping_pipelines.services import open_services
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import metrics as store
from repo_scoping_pipelines.storage.tables import content_chunks

TOKEN = "ghp_" + "t" * 36
REDMINE_KEY = "redmine-secret-key-123"
PULLS = "/repos/acme/payments/pulls"


def pr(number: int, updated: str, *, title: str | None = None, merged: str | None = None, body: str = "") -> dict:
    return {"number": number, "title": title or f"feat: change {number}", "body": body, "state": "closed",
            "user": {"login": f"dev{number}"}, "html_url": f"https://github.com/acme/payments/pull/{number}",
            "base": {"ref": "main"}, "merge_commit_sha": None, "created_at": "2024-01-01T00:00:00Z",
            "updated_at": updated, "merged_at": merged, "closed_at": merged}


@pytest.fixture
def github(settings, services, make_repo, httpserver):
    """A registered repository whose origin is on GitHub, and Services pointing GitHub at httpserver."""
    repo = make_repo("payments", {"README.md": "# Payments\n"})
    repo.git("remote", "add", "origin", "https://github.com/acme/payments.git")
    register_repository(services, "payments", str(repo.path))
    svc = open_services(Settings(**{**settings.model_dump(), "github_token": TOKEN,
                                    "github_api_url": httpserver.url_for("/").rstrip("/"),
                                    "http_backoff_s": 0.0, "http_max_wait_s": 5.0, "http_retries": 2}))
    return svc


def _rid(svc, name="payments"):
    return catalog.get_repository(svc.engine, name).id


def test_github_pagination_etag_and_incremental(github, httpserver):
    page2 = httpserver.url_for("/repositories/7/pulls") + "?page=2"
    httpserver.expect_ordered_request(PULLS, headers={"Authorization": f"Bearer {TOKEN}"}).respond_with_json(
        [pr(3, "2024-01-10T00:00:00Z", merged="2024-01-09T00:00:00Z", title="feat: refunds",
            body="## Why\nCustomers asked for partial refunds."),
         pr(2, "2024-01-08T00:00:00Z")],
        headers={"ETag": '"v1"', "Link": f'<{page2}>; rel="next"', "X-RateLimit-Remaining": "4999"})
    httpserver.expect_ordered_request("/repositories/7/pulls", query_string="page=2").respond_with_json(
        [pr(1, "2024-01-02T00:00:00Z", merged="2024-01-02T00:00:00Z", title="fix: rounding")])
    first = sync_pull_requests(github, "payments")
    assert (first.status, first.fetched, first.stored, first.details["pages"]) == ("ok", 3, 3, 2)
    state = store.get_collector_state(github.engine, _rid(github), "github")
    assert state["etag"] == '"v1"' and state["watermark"].isoformat().startswith("2024-01-10")

    # Unchanged: the conditional request gets 304 and nothing is rewritten.
    httpserver.expect_ordered_request(PULLS, headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    again = sync_pull_requests(github, "payments")
    assert (again.status, again.fetched, again.stored) == ("not_modified", 0, 3)

    # One PR updated: incremental stops at the first PR not newer than the watermark.
    httpserver.expect_ordered_request(PULLS).respond_with_json(
        [pr(4, "2024-01-12T00:00:00Z", merged="2024-01-12T00:00:00Z", title="perf: faster"),
         pr(3, "2024-01-10T00:00:00Z", merged="2024-01-09T00:00:00Z", title="feat: refunds")],
        headers={"ETag": '"v2"', "Link": f'<{page2}>; rel="next"'})
    inc = sync_pull_requests(github, "payments")
    assert (inc.status, inc.fetched, inc.stored, inc.details["pages"]) == ("ok", 1, 4, 1)
    httpserver.check_assertions()

    # PR text became searchable chunks; what shipped now lists merged pull requests.
    with github.engine.connect() as conn:
        sources = {r.path: r.source for r in conn.execute(content_chunks.select().where(
            content_chunks.c.repository_id == _rid(github)))}
    assert sources["pulls/3"] == "pull_request"
    compute_shipped(github.engine, _rid(github))
    week = shipped(github.engine, _rid(github), None)
    assert week["source"] == "pull_requests" and week["week_start"] == "2024-01-08"
    assert [(g["type"], [i["ref"] for i in g["items"]]) for g in week["groups"]] == [("feat", ["#3"]),
                                                                                    ("perf", ["#4"])]


def test_github_rate_limits_are_waited_out(github, httpserver):
    waits: list[float] = []
    reset = str(int(time.time()) + 2)
    httpserver.expect_ordered_request(PULLS).respond_with_json(
        {"message": "API rate limit exceeded"}, status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset})
    httpserver.expect_ordered_request(PULLS).respond_with_json(
        {"message": "secondary rate limit"}, status=429, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request(PULLS).respond_with_json([pr(1, "2024-01-02T00:00:00Z")])
    result = sync_pull_requests(github, "payments", sleep=waits.append)
    assert result.status == "ok" and result.fetched == 1 and result.requests == 3
    assert len(waits) == 2 and 1.0 <= waits[0] <= 4.0 and waits[1] == 1.0

    # A reset further away than REPO_SCOPING_HTTP_MAX_WAIT_S: a clear error, nothing lost.
    httpserver.expect_request(PULLS).respond_with_json(
        {"message": "API rate limit exceeded"}, status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)})
    limited = sync_pull_requests(github, "payments", full=True, sleep=waits.append)
    assert limited.status == "error" and "rate limit exhausted" in limited.error
    assert limited.stored == 1


@pytest.mark.parametrize(("status", "body", "expect"), [
    (401, {"message": "Bad credentials"}, "rejected the credentials (401)"),
    (403, {"message": "Resource not accessible"}, "refused access (403)"),
    (404, {"message": "Not Found"}, "(404)"),
    (500, {"message": "boom"}, "answered 500"),
    (200, "<html>garbage", "invalid JSON"),
    (200, {"not": "a list"}, "instead of a list"),
])
def test_github_errors_keep_stored_rows(github, httpserver, status, body, expect):
    httpserver.expect_ordered_request(PULLS).respond_with_json([pr(1, "2024-01-02T00:00:00Z")])
    assert sync_pull_requests(github, "payments").stored == 1
    if isinstance(body, str):
        httpserver.expect_request(PULLS).respond_with_data(body, status=status, content_type="application/json")
    else:
        httpserver.expect_request(PULLS).respond_with_json(body, status=status)
    result = sync_pull_requests(github, "payments", full=True)
    assert result.status == "error" and expect in result.error, result.error
    assert TOKEN not in result.error
    assert result.stored == 1  # nothing stored is lost
    state = store.get_collector_state(github.engine, _rid(github), "github")
    assert state["last_status"] == "error" and state["etag"] is None and state["watermark"] is not None


def test_github_failure_in_a_refresh_run_leaves_other_metrics(settings, services, make_repo, httpserver,
                                                               monkeypatch):
    repo = make_repo("payments", {"README.md": "# Payments\n"})
    repo.git("remote", "add", "origin", "git@github.com:acme/payments.git")
    register_repository(services, "payments", str(repo.path))
    monkeypatch.setenv("REPO_SCOPING_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("REPO_SCOPING_GITHUB_API_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("REPO_SCOPING_HTTP_BACKOFF_S", "0")
    httpserver.expect_request(PULLS).respond_with_json({"message": "Bad credentials"}, status=401)
    with dg.instance_for_test() as instance:
        outcome = refresh_in_process(instance, "payments")
        assert outcome.success, outcome.error
        prs = outcome.assets["pull_requests"]
        assert prs["status"] == "error" and "401" in prs["error"] and TOKEN not in json.dumps(prs)
        assert {"commit_history", "author_metrics_window", "file_ownership", "what_shipped"} <= set(outcome.assets)
        assert outcome.assets["what_shipped"]["source"] == "commits"
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("pull_requests"), "github_sync_succeeded")])
        (record,) = checks.values()
        assert record.event.dagster_event.event_specific_data.passed is False


def test_redmine_issues_pagination_incremental_and_errors(settings, services, make_repo, httpserver):
    repo = make_repo("payments", {"README.md": "# Payments\n"})
    register_repository(services, "payments", str(repo.path))
    svc = open_services(Settings(**{**settings.model_dump(), "redmine_url": httpserver.url_for("/").rstrip("/"),
                                    "redmine_api_key": REDMINE_KEY, "redmine_projects": "payments=pay",
                                    "http_backoff_s": 0.0, "http_retries": 1}))

    def issue(i: int, updated: str) -> dict:
        return {"id": i, "project": {"id": 1, "name": "Pay"}, "tracker": {"id": 1, "name": "Bug"},
                "status": {"id": 1, "name": "New"}, "subject": f"Refund fails #{i}",
                "description": "Partial refunds round wrongly.", "author": {"id": 2, "name": "Eve"},
                "created_on": "2024-01-01T00:00:00Z", "updated_on": updated}

    key = {"X-Redmine-API-Key": REDMINE_KEY}
    httpserver.expect_ordered_request("/issues.json", headers=key, query_string={
        "project_id": "pay", "status_id": "*", "sort": "updated_on", "limit": "100", "offset": "0"}
    ).respond_with_json({"issues": [issue(1, "2024-01-02T00:00:00Z"), issue(2, "2024-01-03T00:00:00Z")],
                         "total_count": 3, "offset": 0, "limit": 2})
    httpserver.expect_ordered_request("/issues.json", query_string={
        "project_id": "pay", "status_id": "*", "sort": "updated_on", "limit": "100", "offset": "2"}
    ).respond_with_json({"issues": [issue(3, "2024-01-04T00:00:00Z")], "total_count": 3, "offset": 2})
    first = sync_tracker_issues(svc, "payments")
    assert (first.status, first.fetched, first.stored, first.details["pages"]) == ("ok", 3, 3, 2)
    httpserver.check_assertions()

    httpserver.expect_ordered_request("/issues.json", query_string={
        "project_id": "pay", "status_id": "*", "sort": "updated_on", "limit": "100", "offset": "0",
        "updated_on": ">=2024-01-04T00:00:00Z"}
    ).respond_with_json({"issues": [issue(3, "2024-01-04T00:00:00Z"), issue(4, "2024-01-05T00:00:00Z")],
                         "total_count": 2})
    inc = sync_tracker_issues(svc, "payments")
    assert (inc.status, inc.fetched, inc.stored) == ("ok", 2, 4)
    httpserver.check_assertions()
    hits = search_code(svc, "refund fails", repository="payments", mode="keyword")  # Postgres or Milvus
    assert hits is not None

    httpserver.expect_request("/issues.json").respond_with_response(Response("not json", status=200))
    bad = sync_tracker_issues(svc, "payments")
    assert bad.status == "error" and "invalid JSON" in bad.error and bad.stored == 4
    assert REDMINE_KEY not in bad.error

    # Plain http to a non-local host, or a host not allowed: refused before any request.
    for url, expect in (("http://redmine.example.com", "not allowed (use https)"),
                        ("https://redmine.example.com", "not in REPO_SCOPING_ALLOWED_HOSTS")):
        other = open_services(Settings(**{**svc.settings.model_dump(), "redmine_url": url}))
        refused = sync_tracker_issues(other, "payments")
        assert refused.status == "error" and expect in refused.error and refused.stored == 4


def test_trackers_not_configured_are_skipped(services, make_repo):
    repo = make_repo("plain", {"README.md": "# Plain\n"})
    register_repository(services, "plain", str(repo.path))
    assert sync_pull_requests(services, "plain").status == "not_configured"
    assert sync_tracker_issues(services, "plain").status == "not_configured"
