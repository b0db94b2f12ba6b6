"""User story: one person commits under several e-mails (no .mailmap) and works on GitHub under a login;
a refresh through Dagster (GitHub emulated by a local server speaking its REST wire format: pulls,
reviews, files, commits, Link pagination) builds the people registry and the per-author pull-request
metrics; the read API serves them, and the daily route agrees with `git log` day by day."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from repo_scoping_pipelines.api.app import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.definitions import defs
from repo_scoping_pipelines.metrics.pipeline import compute_people
from repo_scoping_pipelines.operations.refresh import refresh_in_process

TOKEN = "ghp_" + "p" * 36
BASE = "/repos/acme/payments/pulls"
ADA = "Ada Lovelace <ada@example.com>"
NOREPLY = "12345+ada-l@users.noreply.github.com"
NOW = datetime.now(UTC).replace(microsecond=0)


def _iso(t: datetime | None) -> str | None:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def fixture_prs(sha: dict[str, str]) -> list[dict]:
    """The pull requests as the test knows them: author, times, reviews, files, commits."""
    return [
        {"number": 1, "author": "ada-l", "created": _t("2024-03-01T09:00:00+00:00"),
         "merged": _t("2024-03-02T09:00:00+00:00"),
         "reviews": [("bob-b", "APPROVED", _t("2024-03-01T12:00:00+00:00")),
                     ("ada-l", "COMMENTED", _t("2024-03-01T10:00:00+00:00")),  # own PR: not a review
                     ("bob-b", "COMMENTED", _t("2024-03-01T15:00:00+00:00"))],
         "files": [("a.py", 10, 2), ("b.py", 5, 0)],
         "commits": [(sha["work"], "ada-l", "ada@work.example", "A. Lovelace")]},
        {"number": 2, "author": "ada-l", "created": _t("2024-03-03T00:00:00+00:00"), "merged": None,
         "reviews": [("bob-b", "CHANGES_REQUESTED", _t("2024-03-03T05:00:00+00:00")),
                     ("carol", "PENDING", None)],  # a draft review: not counted
         "files": [("a.py", 3, 3)],
         "commits": [(sha["ada_upper"], "Ada-L", "ADA@Example.com", "Ada Lovelace")]},
        {"number": 3, "author": "bob-b", "created": _t("2024-03-02T00:00:00+00:00"),
         "merged": _t("2024-03-02T10:00:00+00:00"),
         "reviews": [("ada-l", "APPROVED", _t("2024-03-02T02:00:00+00:00"))],
         "files": [("c.py", 100, 50)],
         "commits": [(sha["bob"], "bob-b", "bob@example.com", "Bob Builder"),
                     ("f" * 40, None, "ghost@example.net", "Ghost")]},  # e-mail of no account: no login
        {"number": 4, "author": "ada-l", "created": _t("2024-03-04T00:00:00+00:00"),
         "merged": _t("2024-03-05T12:00:00+00:00"), "reviews": [],
         "files": [("a.py", 1, 1), ("b.py", 2, 2), ("d.md", 7, 0)], "commits": []},
        {"number": 5, "author": "bob-b", "created": NOW - timedelta(days=2), "merged": NOW - timedelta(days=1),
         "reviews": [("ada-l", "APPROVED", NOW - timedelta(days=2) + timedelta(hours=1, minutes=30))],
         "files": [("c.py", 4, 4)], "commits": []},
    ]


def serve_github(httpserver, prs: list[dict]) -> None:
    pulls = [{"number": p["number"], "title": f"feat: change {p['number']}", "body": "", "state": "closed",
              "user": {"login": p["author"]}, "html_url": f"https://github.com/acme/payments/pull/{p['number']}",
              "base": {"ref": "main"}, "merge_commit_sha": None, "created_at": _iso(p["created"]),
              "updated_at": _iso(p["merged"] or p["created"]), "merged_at": _iso(p["merged"]),
              "closed_at": _iso(p["merged"])} for p in sorted(prs, key=lambda p: p["merged"] or p["created"],
                                                              reverse=True)]
    httpserver.expect_request(BASE, headers={"Authorization": f"Bearer {TOKEN}"}).respond_with_json(pulls)
    for p in prs:
        n = p["number"]
        reviews = [{"id": n * 100 + i, "user": {"login": login}, "state": state, "submitted_at": _iso(at)}
                   for i, (login, state, at) in enumerate(p["reviews"])]
        files = [{"filename": path, "additions": a, "deletions": d, "status": "modified"} for path, a, d in p["files"]]
        commits = [{"sha": s, "commit": {"author": {"email": email, "name": name}},
                    "author": {"login": login} if login else None} for s, login, email, name in p["commits"]]
        if n == 1:  # two pages of reviews, joined by a Link header
            second = httpserver.url_for(f"{BASE}/1/reviews") + "?page=2"
            httpserver.expect_request(f"{BASE}/1/reviews", query_string="page=2").respond_with_json(reviews[1:])
            httpserver.expect_request(f"{BASE}/1/reviews", query_string="per_page=100").respond_with_json(
                reviews[:1], headers={"Link": f'<{second}>; rel="next"'})
        else:
            httpserver.expect_request(f"{BASE}/{n}/reviews").respond_with_json(reviews)
        httpserver.expect_request(f"{BASE}/{n}/files").respond_with_json(files)
        httpserver.expect_request(f"{BASE}/{n}/commits").respond_with_json(commits)


def expected_pr_metrics(prs: list[dict], start: datetime | None, end: datetime | None) -> dict[str, dict]:
    """The per-login metrics computed straight from the fixture, in plain Python."""
    def inside(t):
        return t is not None and (start is None or t >= start) and (end is None or t <= end)

    out: dict[str, dict] = {}

    def row(login):
        return out.setdefault(login, {"opened": 0, "merged": 0, "reviews_given": 0, "to_review": [],
                                      "to_merge": [], "lines": [], "files": []})

    hour = timedelta(hours=1)
    for p in prs:
        real = [(who, at) for who, state, at in p["reviews"] if state != "PENDING" and at and who != p["author"]]
        if inside(p["created"]):
            r = row(p["author"])
            r["opened"] += 1
            if real:
                r["to_review"].append((min(at for _, at in real) - p["created"]) / hour)
            r["lines"].append(sum(a + d for _, a, d in p["files"]))
            r["files"].append(len(p["files"]))
        if inside(p["merged"]):
            row(p["author"])["merged"] += 1
            row(p["author"])["to_merge"].append((p["merged"] - p["created"]) / hour)
        for who, at in real:
            if inside(at):
                row(who)["reviews_given"] += 1

    def med(values):
        return round(statistics.median(values), 2) if values else None

    return {login: {"opened": r["opened"], "merged": r["merged"], "reviews_given": r["reviews_given"],
                    "median_hours_to_first_review": med(r["to_review"]), "median_hours_to_merge": med(r["to_merge"]),
                    "median_lines": med(r["lines"]), "median_files": med(r["files"])} for login, r in out.items()}


def _got(answer: dict) -> dict[str, dict]:
    keys = ("opened", "merged", "reviews_given", "median_hours_to_first_review", "median_hours_to_merge",
            "median_lines", "median_files")
    return {a["author_login"]: {k: a[k] for k in keys} for a in answer["authors"]}


def git_log_days(repo, emails: set[str] | None = None) -> Counter:
    """Non-merge commits per UTC author day (and e-mail filter), as git itself reports them."""
    out = subprocess.run(["git", "log", "--no-merges", "--format=%ae %ad", "--date=format-local:%Y-%m-%d"],
                         cwd=repo.path, env={**os.environ, "TZ": "UTC"}, capture_output=True, text=True,
                         check=True).stdout
    days: Counter = Counter()
    for line in out.splitlines():
        email, day = line.rsplit(" ", 1)
        if emails is None or email.lower() in emails:
            days[day] += 1
    return days


@pytest.fixture
def refreshed(settings, services, make_repo, httpserver, monkeypatch):
    repo = make_repo("payments", {"README.md": "# Payments\n"})  # first commit: ADA, today
    sha = {
        "ada_upper": repo.commit({"a.py": "a = 1\n"}, "feat: a", author="Ada Lovelace <ADA@Example.com>",
                                 date="2024-03-01T10:00:00+00:00"),
        # 01:30 at +02:00 is still March 1st in UTC: days are UTC days
        "work": repo.commit({"a.py": "a = 2\n"}, "fix: a", author="A. Lovelace <ada@work.example>",
                            date="2024-03-02T01:30:00+02:00"),
        "noreply": repo.commit({"b.py": "b = 1\n"}, "feat: b", author=f"Ada Lovelace <{NOREPLY}>",
                               date="2024-03-02T09:00:00+00:00"),
        "bob": repo.commit({"c.py": "c = 1\n"}, "feat: c", author="Bob Builder <bob@example.com>",
                           date="2024-03-02T11:00:00+00:00"),
        "bob2": repo.commit({"c.py": "c = 2\n"}, "fix: c", author="Bob Builder <bob@example.com>",
                            date="2024-03-03T08:00:00+00:00"),
        "ada": repo.commit({"d.md": "# d\n"}, "docs: d", author=ADA, date="2024-03-03T09:00:00+00:00"),
        "personal": repo.commit({"e.py": "e = 1\n"}, "feat: e", author="Ada Lovelace <ada.personal@example.org>",
                                date="2024-03-03T12:00:00+00:00"),
    }
    repo.git("remote", "add", "origin", "https://github.com/acme/payments.git")
    register_repository(services, "payments", str(repo.path))
    prs = fixture_prs(sha)
    serve_github(httpserver, prs)
    monkeypatch.setenv("REPO_SCOPING_GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("REPO_SCOPING_GITHUB_API_URL", httpserver.url_for("/").rstrip("/"))
    monkeypatch.setenv("REPO_SCOPING_HTTP_BACKOFF_S", "0")
    with dg.instance_for_test() as instance:
        outcome = refresh_in_process(instance, "payments")
        assert outcome.success, outcome.error
        daily = defs.resolve_job_def("author_metrics_daily_job")
        assert daily.execute_in_process(instance=instance, tags={
            "dagster/asset_partition_range_start": "2024-03-01",
            "dagster/asset_partition_range_end": "2024-03-05"}).success
        today = datetime.now(UTC).date().isoformat()
        assert daily.execute_in_process(instance=instance, partition_key=today).success
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey(a), c) for a, c in (
                ("pull_request_details", "details_sync_succeeded"),
                ("author_prs_window", "all_time_opened_matches_prs"),
                ("people", "every_identity_has_a_person"))])
        assert len(checks) == 3
        assert all(r.event.dagster_event.event_specific_data.passed for r in checks.values())
    with TestClient(create_app(settings)) as client:
        yield {"repo": repo, "sha": sha, "prs": prs, "outcome": outcome, "client": client}


def test_people_registry_merges_by_rules_with_reasons(refreshed):
    client, outcome = refreshed["client"], refreshed["outcome"]
    details = outcome.assets["pull_request_details"]
    assert (details["status"], details["fetched"], details["dagster/row_count"]) == ("ok", 5, 5)
    assert details["reviews"] == 7 and details["files"] == 8  # two review pages of PR 1 both read
    meta = outcome.assets["people"]
    assert meta["noreply_links"] == 1 and meta["commit_author_links"] == 3

    ada = client.get("/people/github:ada-l")
    assert ada.status_code == 200, ada.text
    ada = ada.json()
    assert (ada["display_name"], ada["primary_email"], ada["github_login"]) == ("Ada Lovelace", "ada@example.com",
                                                                                 "ada-l")
    links = {i["identity"]: (i["reason"], i["confidence"], i["linked_to"]) for i in ada["identity_list"]}
    assert links == {
        # ADA@Example.com and ada@example.com: one identity (exact e-mail, case-insensitive), 3 commits
        "email:ada@example.com": ("github commit author", 0.95, "github:ada-l"),
        "email:ada@work.example": ("github commit author", 0.95, "github:ada-l"),
        f"email:{NOREPLY}": ("github noreply address", 1.0, "github:ada-l"),
        "github:ada-l": ("github noreply address", 1.0, f"email:{NOREPLY}"),
    }
    seen = {i["identity"]: i["seen"] for i in ada["identity_list"]}
    assert seen["email:ada@example.com"] == 3
    assert ada["identities"] == 4
    # The same name under another address is only a suggestion, never applied.
    assert {(s["identity_a"], s["identity_b"], s["reason"]) for s in ada["suggestions"]} == {
        ("email:ada.personal@example.org", "email:ada@example.com", "same name"),
        (f"email:{NOREPLY}", "email:ada.personal@example.org", "same name")}
    assert all(s["confidence"] < 0.9 for s in ada["suggestions"])
    personal = client.get("/people/ada.personal@example.org").json()  # a bare e-mail finds its person too
    assert personal["person_id"] != ada["person_id"] and personal["identities"] == 1
    assert client.get(f"/people/{ada['person_id']}").json()["identity_list"] == ada["identity_list"]

    bob = client.get("/people/bob@example.com").json()
    assert {i["identity"] for i in bob["identity_list"]} == {"email:bob@example.com", "github:bob-b"}
    carol = client.get("/people/github:carol").json()  # only a (draft) reviewer: a person of one login
    assert carol["identities"] == 1 and carol["primary_email"] is None

    listed = client.get("/people").json()["people"]
    assert len(listed) == 4  # Ada, Ada (personal), Bob, Carol; the ghost e-mail has no login and no commit
    assert [p["display_name"] for p in client.get("/people", params={"q": "bob"}).json()["people"]] == [
        "Bob Builder"]

    # 404 names what is unknown; 400 for a value that cannot be an id.
    missing = client.get("/people/p-000000000000")
    assert missing.status_code == 404 and "p-000000000000" in missing.json()["error"]["message"]
    assert client.get("/people/github:nobody").status_code == 404


def test_people_merge_and_split_from_the_command_line(refreshed, settings, services):
    client = refreshed["client"]
    env = dict(os.environ)
    cli = [sys.executable, "-m", "repo_scoping_pipelines.cli", "people"]

    def run(*args):
        return subprocess.run([*cli, *args], env=env, capture_output=True, text=True, timeout=120)

    merged = run("merge", "github:ada-l", "ada.personal@example.org", "--note", "same person")
    assert merged.returncode == 0, merged.stderr
    ada = client.get("/people/github:ada-l").json()
    assert ada["identities"] == 5
    reasons = {i["identity"]: i["reason"] for i in ada["identity_list"]}
    assert reasons["email:ada.personal@example.org"] == "manual merge"
    assert not any("ada.personal" in s["identity_a"] + s["identity_b"] for s in ada["suggestions"])
    compute_people(services.engine)  # a recomputation keeps the decision
    assert client.get("/people/github:ada-l").json()["identities"] == 5

    listed = run("list", "--json", "--suggestions")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["people"]
    assert {p["person_id"] for p in rows} >= {ada["person_id"]}

    split = run("split", "ada@work.example")
    assert split.returncode == 0, split.stderr
    ada = client.get("/people/github:ada-l").json()
    assert "email:ada@work.example" not in {i["identity"] for i in ada["identity_list"]}
    alone = client.get("/people/ada@work.example").json()
    assert alone["identities"] == 1 and alone["identity_list"][0]["reason"] == "own identity"

    unknown = run("merge", "github:ada-l", "nobody@example.com")
    assert unknown.returncode == 1 and "nobody@example.com" in unknown.stderr


def test_people_merge_and_split_through_the_api_need_a_review_token(refreshed, settings, services):
    import sqlalchemy as sa
    from pydantic import SecretStr

    from repo_scoping_pipelines.storage import tokens as token_store
    from repo_scoping_pipelines.storage.tables import person_decisions

    def decisions() -> list[tuple]:
        with services.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.select(
                person_decisions.c.action, person_decisions.c.identity_a, person_decisions.c.identity_b,
                person_decisions.c.decided_by, person_decisions.c.note).order_by(person_decisions.c.id))]

    reader = token_store.create_token(services.engine, "people-reader", "read")
    reviewer = token_store.create_token(services.engine, "people-reviewer", "review")
    app = create_app(settings.model_copy(update={"api_token": SecretStr("bootstrap-" + "x" * 30)}))
    body = {"identities": ["github:ada-l", "ada.personal@example.org"], "note": "same person"}
    with TestClient(app) as client:
        before = client.get("/people", params={"suggestions": "true"}).json()
        assert any("ada.personal" in s["identity_a"] + s["identity_b"] for s in before["suggestions"])
        assert client.get("/people").json().get("suggestions") is None
        # Refused before anything is read or written: 401 without a token, 403 with a read token.
        assert client.post("/people/merge", json=body).status_code == 401
        refused = client.post("/people/merge", json=body, headers={"Authorization": f"Bearer {reader}"})
        assert refused.status_code == 403 and "review" in refused.json()["error"]["message"]
        assert decisions() == []

        review = {"Authorization": f"Bearer {reviewer}"}
        merged = client.post("/people/merge", json=body, headers=review)
        assert merged.status_code == 200, merged.text
        answer = merged.json()
        assert answer["action"] == "merge"
        assert answer["identities"] == ["github:ada-l", "email:ada.personal@example.org"]
        (ada,) = answer["people"]
        assert {i["identity"]: i["reason"] for i in ada["identity_list"]}["email:ada.personal@example.org"] \
            == "manual merge"
        assert client.get("/people/ada.personal@example.org").json()["person_id"] == ada["person_id"]
        assert decisions() == [("merge", "github:ada-l", "email:ada.personal@example.org",
                                "token:people-reviewer", "same person")]
        after = client.get("/people", params={"suggestions": "true"}).json()["suggestions"]
        assert not any("ada.personal" in s["identity_a"] + s["identity_b"] for s in after)

        split = client.post("/people/split", json={"identities": ["ada.personal@example.org"]}, headers=review)
        assert split.status_code == 200, split.text
        alone = split.json()["people"]
        assert len(alone) == 1 and alone[0]["identities"] == 1 and alone[0]["person_id"] != ada["person_id"]

        # Bad input names the problem and writes nothing.
        written = decisions()
        unknown = client.post("/people/merge", json={"identities": ["github:ada-l", "nobody@example.com"]},
                              headers=review)
        assert unknown.status_code == 404 and "nobody@example.com" in unknown.json()["error"]["message"]
        single = client.post("/people/merge", json={"identities": ["github:ada-l"]}, headers=review)
        assert single.status_code == 400 and "two" in single.json()["error"]["message"]
        for bad in (b"{not json", b'{"identities": []}', b'{"identities": ["a@b.example"], "extra": 1}'):
            response = client.post("/people/split", content=bad, headers={**review,
                                                                           "Content-Type": "application/json"})
            assert response.status_code == 400, (bad, response.text)
        assert decisions() == written


def test_pull_request_metrics_equal_an_independent_computation(refreshed):
    client, prs = refreshed["client"], refreshed["prs"]
    everything = client.get("/metrics/pull-requests", params={"repository": "payments", "window": "all"})
    assert everything.status_code == 200, everything.text
    body = everything.json()
    assert body["window"] == "all" and body["as_of"]
    assert _got(body) == expected_pr_metrics(prs, None, None)
    ada = next(a for a in body["authors"] if a["author_login"] == "ada-l")
    # By hand: first reviews after 3 h and 5 h (PR 4 never reviewed), merges after 24 h and 36 h.
    assert (ada["opened"], ada["merged"], ada["median_hours_to_first_review"], ada["median_hours_to_merge"]) == (
        3, 2, 4.0, 30.0)
    assert ada["person_name"] == "Ada Lovelace" and ada["person_id"]
    assert ada["reviews_given"] == 2 and ada["median_lines"] == 13.0 and ada["median_files"] == 2.0

    as_of = datetime.fromisoformat(body["as_of"])
    week = client.get("/metrics/pull-requests", params={"repository": "payments", "window": "7d"}).json()
    assert _got(week) == expected_pr_metrics(prs, as_of - timedelta(days=7), as_of)
    assert set(_got(week)) == {"bob-b", "ada-l"} and _got(week)["bob-b"]["opened"] == 1

    # since/until: inclusive UTC days, computed from the stored PRs (PR 3 opens exactly at midnight).
    ranged = client.get("/metrics/pull-requests", params={"repository": "payments", "since": "2024-03-02",
                                                          "until": "2024-03-03"}).json()
    assert ranged["window"] is None and ranged["since"] == "2024-03-02"
    assert _got(ranged) == expected_pr_metrics(prs, _t("2024-03-02T00:00:00+00:00"),
                                               _t("2024-03-03T23:59:59+00:00"))
    assert _got(ranged)["bob-b"]["opened"] == 1

    # One person, by any of its identities: only that person's logins.
    mine = client.get("/metrics/pull-requests", params={"repository": "payments", "person": "ada@work.example"})
    assert [a["author_login"] for a in mine.json()["authors"]] == ["ada-l"]
    assert mine.json()["authors"][0] == ada

    for params, status, needle in (
            ({"repository": "nope"}, 404, "nope"),
            ({"repository": "payments", "person": "github:nobody"}, 404, "github:nobody"),
            ({"repository": "payments", "since": "2024-13-01"}, 400, "since"),
            ({"repository": "payments", "until": "yesterday"}, 400, "until"),
            ({"repository": "payments", "until": "0001-01-01"}, 400, "between"),
            ({"repository": "payments", "since": "2024-03-05", "until": "2024-03-01"}, 400, "after"),
            ({"repository": "payments", "window": "1y"}, 400, "window")):
        answer = client.get("/metrics/pull-requests", params=params)
        assert answer.status_code == status and needle in answer.json()["error"]["message"], answer.text


def test_daily_route_sums_equal_git_log(refreshed):
    client, repo = refreshed["client"], refreshed["repo"]
    today = datetime.now(UTC).date()
    answer = client.get("/metrics/authors/daily", params={"repository": "payments", "since": "2024-03-01",
                                                          "until": today.isoformat()})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    per_day = Counter()
    for row in body["days"]:
        per_day[row["day"]] += row["commits"]
    assert per_day == git_log_days(repo)
    assert per_day["2024-03-01"] == 2  # the +02:00 commit falls on March 1st in UTC
    assert body["totals"]["commits"] == sum(git_log_days(repo).values()) == 8

    # One person: all of Ada's addresses, found by login, by person id or by any of her e-mails.
    ada_emails = {"ada@example.com", "ada@work.example", NOREPLY}
    by_login = client.get("/metrics/authors/daily", params={"repository": "payments", "since": "2024-03-01",
                                                            "until": "2024-03-31", "author": "github:ada-l"}).json()
    got = Counter()
    for row in by_login["days"]:
        got[row["day"]] += row["commits"]
    march = {d: n for d, n in git_log_days(repo, ada_emails).items() if d.startswith("2024-03")}
    assert got == march and sum(got.values()) == 4
    assert {r["person_id"] for r in by_login["days"]} == {by_login["person_id"]}
    by_person = client.get("/metrics/authors/daily", params={"repository": "payments", "since": "2024-03-01",
                                                             "until": "2024-03-31",
                                                             "author": by_login["person_id"]}).json()
    assert by_person["days"] == by_login["days"]
    by_mail = client.get("/metrics/authors/daily", params={"repository": "payments", "since": "2024-03-01",
                                                           "until": "2024-03-31", "author": "ADA@work.example"})
    assert by_mail.json()["days"] == by_login["days"]

    # /metrics/authors for a range of days: per author as git log counts them in those UTC days.
    ranged = client.get("/metrics/authors", params={"repository": "payments", "since": "2024-03-01",
                                                    "until": "2024-03-02"}).json()
    assert (ranged["since"], ranged["until"]) == ("2024-03-01", "2024-03-02")
    by_email = {a["author_email"].lower(): a["commits"] for a in ranged["authors"]}
    expected = {e: sum(n for d, n in git_log_days(repo, {e}).items() if d in ("2024-03-01", "2024-03-02"))
                for e in {a["author_email"].lower() for a in ranged["authors"]} | {"bob@example.com"}}
    assert by_email == expected == {"ada@example.com": 1, "ada@work.example": 1, NOREPLY: 1, "bob@example.com": 1}

    hers = client.get("/metrics/authors", params={"repository": "payments", "person": "github:ada-l"}).json()
    counted = Counter()
    for a in hers["authors"]:  # ADA@Example.com and ada@example.com are two rows here, one identity there
        counted[a["author_email"].lower()] += a["commits"]
    assert counted == {"ada@example.com": 3, "ada@work.example": 1, NOREPLY: 1}  # all time, as in git log
    assert sum(git_log_days(repo, ada_emails).values()) == 5
    assert client.get("/metrics/authors", params={"repository": "payments", "person": "x@y.z"}).status_code == 404

    # Default range: the 30 days up to today (the first commit is today's).
    recent = client.get("/metrics/authors/daily", params={"repository": "payments"}).json()
    assert recent["until"] == today.isoformat() and recent["totals"]["commits"] == 1
    assert recent["since"] == (today - timedelta(days=29)).isoformat()

    for params, status, needle in (
            ({"repository": "nope"}, 404, "nope"),
            ({"repository": "payments", "author": "nobody@example.com"}, 404, "nobody@example.com"),
            ({"repository": "payments", "author": "github:ghost"}, 404, "github:ghost"),
            ({"repository": "payments", "author": "p-ffffffffffff"}, 404, "p-ffffffffffff"),
            ({"repository": "payments", "since": "2024-02-30"}, 400, "since"),
            ({"repository": "payments", "since": "2024-03-05", "until": "2024-03-01"}, 400, "after"),
            ({"repository": "payments", "since": "1900-01-01", "until": "2200-01-01"}, 400, "days")):
        got = client.get("/metrics/authors/daily", params=params)
        assert got.status_code == status and needle in got.json()["error"]["message"], got.text
    assert date.fromisoformat(recent["since"]) <= today


def _git_log_people(repo, groups: dict[str, set[str]]) -> dict[str, dict]:
    """Per group of e-mails, from `git log --numstat`: commits, lines, distinct files and UTC days."""
    out = {g: {"commits": 0, "lines_added": 0, "lines_deleted": 0, "files": set(), "days": set()} for g in groups}
    log = repo.git("log", "--no-merges", "--format=%x00%ae%x00%aI", "--numstat")
    entries = log.split("\0")[1:]
    for email, rest in zip(entries[0::2], entries[1::2], strict=True):
        when, *numstat = [line for line in rest.splitlines() if line.strip()]
        group = next((g for g, emails in groups.items() if email.lower() in emails), None)
        if group is None:
            continue
        acc = out[group]
        acc["commits"] += 1
        acc["days"].add(datetime.fromisoformat(when).astimezone(UTC).date())
        for line in numstat:
            added, deleted, path = line.split("\t")
            acc["lines_added"] += int(added) if added != "-" else 0
            acc["lines_deleted"] += int(deleted) if deleted != "-" else 0
            acc["files"].add(path)
    return {g: {"commits": a["commits"], "lines_added": a["lines_added"], "lines_deleted": a["lines_deleted"],
                "files_touched": len(a["files"]), "active_days": len(a["days"])} for g, a in out.items()}


def test_authors_by_person_count_each_commit_file_and_day_once(refreshed):
    client, repo = refreshed["client"], refreshed["repo"]
    ada = client.get("/people/github:ada-l").json()
    bob = client.get("/people/bob@example.com").json()
    groups = {p["person_id"]: {i["value"].lower() for i in p["identity_list"] if i["kind"] == "email"}
              for p in (ada, bob)}
    groups["personal"] = {"ada.personal@example.org"}  # a suggestion only: a person of its own
    expected = _git_log_people(repo, groups)
    assert expected[ada["person_id"]]["commits"] == 5 and expected[ada["person_id"]]["files_touched"] == 4

    body = client.get("/metrics/authors", params={"repository": "payments", "by": "person"}).json()
    assert body["by"] == "person" and body["window"] == "all"
    rows = {r["person_id"]: r for r in body["authors"]}
    assert len(body["authors"]) == len(rows) == 3  # Ada (4 addresses), Bob, the unmerged personal address
    for person_id in (ada["person_id"], bob["person_id"]):
        got = rows[person_id]
        assert {k: got[k] for k in expected[person_id]} == expected[person_id], person_id
        assert set(got["emails"]) <= groups[person_id]
    assert rows[ada["person_id"]]["author_name"] == ada["display_name"]
    assert set(rows[ada["person_id"]]["emails"]) == {"ada@example.com", "ada@work.example", NOREPLY}
    personal = next(r for r in body["authors"] if r["emails"] == ["ada.personal@example.org"])
    assert {k: personal[k] for k in expected["personal"]} == expected["personal"]

    # by=person with a range, and with person= (any of her identities): the same figures for those days.
    march = client.get("/metrics/authors", params={"repository": "payments", "by": "person", "since": "2024-03-01",
                                                   "until": "2024-03-02", "person": "ADA@work.example"}).json()
    (row,) = march["authors"]
    assert row["person_id"] == ada["person_id"] and row["commits"] == 3 and row["active_days"] == 2
    # The per-e-mail default is unchanged: ADA@Example.com and ada@example.com are separate rows there.
    plain = client.get("/metrics/authors", params={"repository": "payments"}).json()
    assert plain["by"] == "email" and len(plain["authors"]) > len(body["authors"])
    assert client.get("/metrics/authors", params={"repository": "payments", "by": "team"}).status_code == 400


def test_people_inputs_fingerprint_ignores_row_order_and_sees_every_change():
    import pandas as pd

    from repo_scoping_pipelines.metrics.pipeline import PeopleInputs

    git = pd.DataFrame({"email": ["a@x", "b@x"], "name": ["A", "B"], "commits": [3, 1]})
    empty = pd.DataFrame({"login": [], "seen": []})
    base = PeopleInputs({"git": git, "github": empty}, [])
    shuffled = PeopleInputs({"git": git.iloc[::-1], "github": empty}, [])
    assert base.fingerprint() == shuffled.fingerprint()
    more_commits = PeopleInputs({"git": git.assign(commits=[4, 1]), "github": empty}, [])
    decided = PeopleInputs({"git": git, "github": empty}, [("merge", "a@x", "b@x")])
    assert len({base.fingerprint(), more_commits.fingerprint(), decided.fingerprint()}) == 3
