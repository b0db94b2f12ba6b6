"""User story: a repository with several authors, a .mailmap, a merge, a binary file and a rename is
refreshed through Dagster; /metrics/authors equals what `git log --no-merges --use-mailmap --numstat`
says, author by author; ownership and what shipped answer too."""

from __future__ import annotations

import re

import dagster as dg
import pytest
from fastapi.testclient import TestClient

from repo_scoping_pipelines.api.app import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.refresh import refresh_in_process

ADA = "Ada Lovelace <ada@example.com>"
BOB_OLD = "bob <bob@old.example>"
BOB = "Bob Builder <bob@example.com>"
CY = "Cy Twombly <cy@example.com>"


METRIC_ASSETS = [dg.AssetKey(k) for k in ("repository_snapshot", "commit_history", "author_metrics_window",
                                          "file_ownership", "what_shipped")]


def refresh_metrics(instance, name, tags=None):
    """The refresh job restricted to the snapshot and the metrics assets (fast), recorded in the instance."""
    from repo_scoping_pipelines.definitions import defs
    from repo_scoping_pipelines.operations.refresh import ensure_partitions

    ensure_partitions(instance, [name])
    result = defs.resolve_job_def("refresh_repository").execute_in_process(
        instance=instance, partition_key=name, asset_selection=METRIC_ASSETS, tags=tags or {}, raise_on_error=True)
    out = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_MATERIALIZATION":
            mat = event.event_specific_data.materialization
            out[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    return out


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def build_history(make_repo):
    """Five authorships (two of them one person per .mailmap), a merge, a binary file, a rename."""
    repo = make_repo("ledger", {"README.md": "# Ledger\n"})
    repo.commit({".mailmap": "Bob Builder <bob@example.com> <bob@old.example>\n",
                 "src/ledger/core.py": "def total(xs):\n    return sum(xs)\n"},
                "feat(core): add totals", author=ADA, date="2024-01-02T10:00:00+00:00")
    repo.commit({"src/ledger/core.py": "def total(xs):\n    return sum(x for x in xs)\n\n\ndef avg(xs):\n"
                 "    return total(xs) / len(xs)\n"}, "feat: averages", author=BOB_OLD,
                date="2024-01-03T11:00:00+00:00")
    repo.commit({"assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00binary\x00data"}, "docs: logo",
                author=CY, date="2024-01-03T12:00:00+00:00")
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit({"src/ledger/report.py": "def report():\n    return 'ok'\n"}, "feat(report): first report",
                author=BOB, date="2024-01-04T09:00:00+00:00")
    repo.git("checkout", "-q", "main")
    repo.commit({"docs/guide.md": "# Guide\n\nUse it.\n"}, "docs: guide", author=ADA,
                date="2024-01-04T10:00:00+00:00")
    env = {"GIT_AUTHOR_NAME": "Ada Lovelace", "GIT_AUTHOR_EMAIL": "ada@example.com",
           "GIT_COMMITTER_NAME": "Ada Lovelace", "GIT_COMMITTER_EMAIL": "ada@example.com",
           "GIT_AUTHOR_DATE": "2024-01-05T10:00:00+00:00", "GIT_COMMITTER_DATE": "2024-01-05T10:00:00+00:00"}
    repo.git("merge", "-q", "--no-ff", "-m", "Merge branch 'feature'", "feature", env=env)
    repo.git("mv", "src/ledger/core.py", "src/ledger/totals.py")
    repo.commit({"src/ledger/totals.py": "def total(xs):\n    return sum(x for x in xs)\n\n\ndef avg(xs):\n"
                 "    return total(xs) / len(xs)\n\n\ndef count(xs):\n    return len(xs)\n"},
                "refactor: rename core to totals", author=CY, date="2024-01-08T08:00:00+00:00")
    repo.commit({"assets/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00other\x00bytes"}, "chore: new logo",
                author=BOB_OLD, date="2024-01-09T08:00:00+00:00")
    return repo


def git_log_truth(repo) -> dict[str, dict]:
    """Per author email: commits, lines added, lines deleted, read from git's own plain output."""
    out = repo.git("log", "--no-merges", "--use-mailmap", "--numstat", "HEAD")
    truth: dict[str, dict] = {}
    current = None
    for line in out.splitlines():
        if line.startswith("Author: "):
            name, email = re.match(r"Author: (.*) <(.*)>$", line).groups()
            current = truth.setdefault(email, {"name": name, "commits": 0, "added": 0, "deleted": 0})
            current["commits"] += 1
        elif m := re.match(r"^(\d+|-)\t(\d+|-)\t", line):
            current["added"] += 0 if m.group(1) == "-" else int(m.group(1))
            current["deleted"] += 0 if m.group(2) == "-" else int(m.group(2))
    return truth


def test_authors_all_time_equal_git_log(services, settings, make_repo, instance):
    repo = build_history(make_repo)
    register_repository(services, "ledger", str(repo.path))
    outcome = refresh_in_process(instance, "ledger")
    assert outcome.success, outcome.error
    history = outcome.assets["commit_history"]
    assert history["mode"] == "full" and history["dagster/row_count"] == 8  # the merge is not counted

    client = TestClient(create_app(settings))
    answer = client.get("/metrics/authors", params={"repository": "ledger", "window": "all"})
    assert answer.status_code == 200, answer.text
    authors = answer.json()["authors"]
    got = {a["author_email"]: {"name": a["author_name"], "commits": a["commits"], "added": a["lines_added"],
                               "deleted": a["lines_deleted"]} for a in authors}
    truth = git_log_truth(repo)
    assert got == truth
    assert set(truth) == {"ada@example.com", "bob@example.com", "cy@example.com"}  # .mailmap merged Bob
    assert truth["bob@example.com"]["name"] == "Bob Builder"
    assert set(authors[0]) == {"author_email", "author_name", "commits", "lines_added", "lines_deleted",
                               "files_touched", "active_days"}
    by_email = {a["author_email"]: a for a in authors}
    # Cy: logo.png (binary, 0 lines) and the renamed totals.py; Bob: core.py, report.py, logo.png.
    assert by_email["cy@example.com"]["files_touched"] == 2
    assert by_email["bob@example.com"]["files_touched"] == 3
    assert by_email["bob@example.com"]["active_days"] == 3

    # Windows end now: of all commits only the undated initial one (made now) is within 7 days.
    recent = client.get("/metrics/authors", params={"repository": "ledger", "window": "7d"}).json()["authors"]
    assert [(a["author_email"], a["commits"], a["active_days"]) for a in recent] == [("ada@example.com", 1, 1)]
    bad = client.get("/metrics/authors", params={"repository": "ledger", "window": "year"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    missing = client.get("/metrics/authors", params={"repository": "nope"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"

    # Ownership follows the rename: Ada's and Bob's lines on core.py count for totals.py.
    own = client.get("/metrics/ownership", params={"repository": "ledger", "path": "src/ledger/totals.py"}).json()
    assert own["kind"] == "file"
    shares = {a["author_email"]: a["lines"] for a in own["authors"]}
    assert set(shares) == {"ada@example.com", "bob@example.com", "cy@example.com"}
    folder = client.get("/metrics/ownership", params={"repository": "ledger", "path": "src/"}).json()
    assert folder["kind"] == "folder" and folder["files"] == 2
    assert abs(sum(a["share"] for a in folder["authors"]) - 1.0) < 0.01
    assert folder["owner"]["author_email"] == max(folder["authors"], key=lambda a: a["lines"])["author_email"]
    recency = client.get("/metrics/ownership", params={"repository": "ledger", "path": "src",
                                                       "weighting": "recency"}).json()
    assert recency["weighting"] == "recency"
    logo = client.get("/metrics/ownership", params={"repository": "ledger", "path": "assets/logo.png"}).json()
    assert {a["author_email"]: a["share"] for a in logo["authors"]} == {"cy@example.com": 0.5,
                                                                       "bob@example.com": 0.5}
    assert client.get("/metrics/ownership", params={"repository": "ledger", "path": "nowhere"}).status_code == 404
    assert client.get("/metrics/ownership", params={"repository": "ledger", "path": "../etc"}).status_code == 400

    # What shipped in the week of 2024-01-01 (Mon): commits grouped by conventional type.
    week = client.get("/metrics/shipped", params={"repository": "ledger", "week": "2024-W01"}).json()
    assert week["source"] == "commits" and week["week_start"] == "2024-01-01"
    groups = {g["type"]: [i["title"] for i in g["items"]] for g in week["groups"]}
    assert groups["feat"] == ["feat(core): add totals", "feat: averages", "feat(report): first report"]
    assert groups["docs"] == ["docs: logo", "docs: guide"] and set(groups) == {"feat", "docs"}
    latest = client.get("/metrics/shipped", params={"repository": "ledger"}).json()  # the undated initial commit
    assert [(g["type"], g["items"][0]["title"]) for g in latest["groups"]] == [("other", "initial commit")]
    later = client.get("/metrics/shipped", params={"repository": "ledger", "week": "2024-01-10"}).json()
    assert {g["type"] for g in later["groups"]} == {"refactor", "chore"}
    assert client.get("/metrics/shipped", params={"repository": "ledger", "week": "soon"}).status_code == 400


def test_incremental_force_push_and_mailmap_change(services, make_repo, instance):
    repo = make_repo("inc", {"a.txt": "one\n"})
    register_repository(services, "inc", str(repo.path))
    first = refresh_metrics(instance, "inc")["commit_history"]
    assert (first["mode"], first["dagster/row_count"]) == ("full", 1)

    same = refresh_metrics(instance, "inc")["commit_history"]
    # Same head, same code: the skip gate answers before git is asked again.
    assert (same["skipped"], same["changed"], same["dagster/row_count"]) == (True, False, 1)

    repo.commit({"a.txt": "one\ntwo\n"}, "fix: two", author=ADA, date="2024-02-01T10:00:00+00:00")
    keep = repo.commit({"b.txt": "b\n"}, "feat: b", author=CY, date="2024-02-02T10:00:00+00:00")
    inc = refresh_metrics(instance, "inc")["commit_history"]
    assert (inc["mode"], inc["commits_added"], inc["dagster/row_count"]) == ("incremental", 2, 3)
    assert (inc["first_changed_day"], inc["last_changed_day"]) == ("2024-02-01", "2024-02-02")

    # Force-push: rewrite the last commit; the old head is no longer an ancestor.
    repo.git("reset", "-q", "--hard", "HEAD~1")
    repo.commit({"c.txt": "c\nc\n"}, "feat: c instead", author=CY, date="2024-02-03T10:00:00+00:00")
    history = refresh_metrics(instance, "inc")["commit_history"]
    assert history["mode"] == "full" and "force-push" in history["reason"]
    assert history["dagster/row_count"] == 3
    window = {a["author_email"]: a for a in _authors(services, "inc")}
    assert window["cy@example.com"]["lines_added"] == 2  # b.txt's commit is gone
    assert keep not in repo.git("log", "--format=%H")

    # A new .mailmap re-resolves every stored commit.
    repo.commit({".mailmap": "Ada L. <ada@example.com> <test@example.com>\n"}, "chore: mailmap", author=ADA,
                date="2024-02-04T10:00:00+00:00")
    remapped = refresh_metrics(instance, "inc")["commit_history"]
    assert remapped["mode"] == "full" and ".mailmap" in remapped["reason"]
    emails = {a["author_email"] for a in _authors(services, "inc")}
    assert "test@example.com" not in emails and "ada@example.com" in emails


def test_full_refresh_tag_reextracts(services, make_repo, instance):
    repo = make_repo("tagged", {"a.txt": "a\n"})
    register_repository(services, "tagged", str(repo.path))
    refresh_metrics(instance, "tagged")
    outcome = refresh_metrics(instance, "tagged", tags={"repo_scoping/full_refresh": "true"})
    assert outcome["commit_history"]["mode"] == "full"
    assert outcome["commit_history"]["reason"] == "full refresh requested"


def _authors(services, name):
    from repo_scoping_pipelines.metrics.pipeline import authors
    from repo_scoping_pipelines.storage import catalog

    return authors(services.engine, catalog.get_repository(services.engine, name).id, "all")
