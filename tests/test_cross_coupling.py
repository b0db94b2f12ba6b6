"""Change coupling across repositories (cross_repository_coupling): two real git repositories whose commits
name the same Jira keys, pairs and degrees known by construction and recomputed from `git log`; a bare `#12`
is its own repository's issue where that repository's GitHub slug is known (and meets `owner/repo#12`
written elsewhere), else no key; a change set above the maximum size is left out. Key extraction unit
tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from itertools import product

import dagster as dg
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.config import get_settings
from repo_scoping_pipelines.insight import cross_coupling as cross

MAX_CHANGESET = 4


# --- key extraction ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("subject", "keys"), [
    ("PAY-1: charge endpoint", ["PAY-1"]),
    ("feat(PAY-12): refunds [OPS-3] PAY-12", ["OPS-3", "PAY-12"]),
    ("feature/PAY-77 merged", ["PAY-77"]),
    ("fix #12", []),  # a bare number is per repository
    ("refs #12, fixes #13", []),  # Redmine style: no shared tracker is known
    ("acme/payments#12 and Acme/Payments#12", ["acme/payments#12"]),
    ("see group/sub/project#9", ["group/sub/project#9"]),
    ("https://github.com/Acme/Api/issues/7 https://gitlab.com/g/p/-/merge_requests/9", ["acme/api#7", "g/p#9"]),
    ("https://github.com/acme/api/pull/3#issuecomment-1", ["acme/api#3"]),
    ("UTF-8, SHA-256, ISO-8601, CVE-2024-1234, PEP-8, RFC-7231", []),
    ("xPAY-1 PAY-1a PAY-01 PAY-0 P-1 pay-1", []),
    ("", []),
])
def test_issue_keys(subject, keys):
    assert cross.issue_keys(subject) == keys


@pytest.mark.parametrize(("subject", "keys"), [
    ("fix #12", ["acme/pay#12"]),
    ("feat: refunds (#345)", ["acme/pay#345"]),  # GitHub's squash-merge subject: the pull request
    ("refs #7, see other/repo#7", ["acme/pay#7", "other/repo#7"]),
    ("&#38; ##4 #0 #12a issue#5", []),  # an HTML entity, a doubled #, no number, glued: none is a reference
])
def test_bare_numbers_are_the_home_repository_issues(subject, keys):
    assert cross.issue_keys(subject, home="Acme/Pay") == keys


def test_extract_keys_is_one_row_per_subject_and_key():
    frame = cross.extract_keys(pd.Series(["PAY-1 PAY-1 PAY-2", "nothing", None, "a/b#1"], index=[10, 11, 12, 13]))
    assert sorted(map(tuple, frame.to_numpy().tolist())) == [(10, "PAY-1"), (10, "PAY-2"), (13, "a/b#1")]


def test_change_sets_drop_large_commits_and_large_sets():
    rows = [("r1", "c1", "PAY-1 big", f"f{i}") for i in range(5)]  # a commit of 5 files > 4
    rows += [("r1", "c2", "PAY-2", "a"), ("r1", "c3", "PAY-2 again", "b"), ("r2", "c4", "PAY-2", "x")]
    rows += [("r2", "c5", "PAY-3", f"g{i}") for i in range(3)] + [("r2", "c6", "PAY-3", f"h{i}") for i in range(2)]
    changes = pd.DataFrame(rows, columns=["repository", "sha", "subject", "path"])
    sets, stats = cross.change_sets(changes, max_changeset_size=MAX_CHANGESET)
    assert sorted(map(tuple, sets.to_numpy().tolist())) == [("r1", "PAY-2", "a"), ("r1", "PAY-2", "b"),
                                                            ("r2", "PAY-2", "x")]
    assert (stats["commits_too_large"], stats["change_sets_too_large"], stats["keys"]) == (1, 1, 1)
    pairs = cross.cross_coupling(sets, min_revs=1, min_shared_revs=1, min_coupling=0.1)
    assert pairs[["repository_a", "path_a", "repository_b", "path_b", "shared_revisions", "degree"]].to_numpy(
    ).tolist() == [["r1", "a", "r2", "x", 1, 1.0], ["r1", "b", "r2", "x", 1, 1.0]]
    assert pairs["shared_keys"].tolist() == [["PAY-2"], ["PAY-2"]]


# --- two repositories through Dagster and the API -----------------------------------------------------------

def _build(make_repo):
    pay = make_repo("payments")  # "initial commit": README.md, no key
    pay.git("remote", "add", "origin", "https://github.com/acme/payments.git")  # its bare #N: acme/payments#N
    web = make_repo("storefront")  # no remote: its bare #N are no keys
    pay.commit({"api/charge.py": "def charge():\n    pass\n"}, "PAY-1: charge endpoint")
    web.commit({"web/pay.js": "charge()\n"}, "feat: PAY-1 call charge")
    pay.commit({"api/charge.py": "def charge(x):\n    pass\n", "api/refund.py": "def refund():\n    pass\n"},
               "PAY-2 refunds")
    web.commit({"web/pay.js": "charge(1)\n", "web/cart.js": "refund()\n"}, "PAY-2: refund button")
    pay.commit({"api/charge.py": "def charge(x):\n    return round(x)\n"}, "fix(PAY-3): rounding")
    web.commit({"web/pay.js": "charge(round(1))\n"}, "PAY-3 rounding")
    pay.commit({"api/refund.py": "def refund():\n    return 0\n"}, "PAY-3 follow-up")  # PAY-3 in payments: 2 files
    # Bare #12 in both: acme/payments#12 in payments, no key in storefront (whose slug is unknown) ...
    pay.commit({"api/refund.py": "def refund():\n    return 1\n"}, "fix #12")
    web.commit({"web/cart.js": "refund(1)\n"}, "fix #12")
    # ... which storefront meets by naming it: refund.py and cart.js now share PAY-2 and acme/payments#12.
    web.commit({"web/cart.js": "refund(2)\n"}, "follow-up to acme/payments#12")
    # PAY-4 in payments: two small commits, 5 files together > MAX_CHANGESET: that change set is left out.
    pay.commit({"api/charge.py": "def charge(x):\n    return round(x, 2)\n", "gen/a.py": "A = 1\n",
                "gen/b.py": "B = 1\n"}, "PAY-4 generated clients")
    pay.commit({"gen/c.py": "C = 1\n", "gen/d.py": "D = 1\n"}, "PAY-4 more clients")
    web.commit({"web/pay.js": "charge(round(1, 2))\n"}, "PAY-4 two decimals")  # storefront's PAY-4 set: kept
    return pay, web


def _git_change_sets(repo, home: str | None = None) -> dict[str, set[str]]:
    """key -> files, from git's own log, with plain regexes: independent of the project's parsing."""
    sets: dict[str, set[str]] = {}
    out = repo.git("log", "--no-merges", "--format=%x00%s", "--name-only")
    for block in out.split("\0")[1:]:
        subject, *files = [line for line in block.splitlines() if line.strip()]
        keys = set(re.findall(r"\b[A-Z]{2,}-[1-9]\d*\b", subject))
        keys |= {f"{slug.lower()}#{n}" for slug, n in re.findall(r"([\w.-]+/[\w.-]+)#(\d+)", subject)}
        if home:
            keys |= {f"{home}#{n}" for n in re.findall(r"(?:^|\s)#(\d+)", subject)}
        for key in keys:
            sets.setdefault(key, set()).update(files)
    return {k: v for k, v in sets.items() if len(v) <= MAX_CHANGESET}


def _expected_pairs(a_sets: dict[str, set[str]], b_sets: dict[str, set[str]], min_shared: int) -> dict:
    revs_a: dict[str, int] = {}
    revs_b: dict[str, int] = {}
    for sets, revs in ((a_sets, revs_a), (b_sets, revs_b)):
        for files in sets.values():
            for f in files:
                revs[f] = revs.get(f, 0) + 1
    out = {}
    for fa, fb in product(revs_a, revs_b):
        shared = sum(1 for k in set(a_sets) & set(b_sets) if fa in a_sets[k] and fb in b_sets[k])
        if shared >= min_shared:
            out[(fa, fb)] = (shared, revs_a[fa], revs_b[fb], shared / ((revs_a[fa] + revs_b[fb]) / 2))
    return out


def _materialize_history(instance, name: str):
    from repo_scoping_pipelines.assets.collection import repository_snapshot
    from repo_scoping_pipelines.assets.metrics import commit_history
    from repo_scoping_pipelines.resources import RepoScopingResource

    if name not in instance.get_dynamic_partitions("repositories"):
        instance.add_dynamic_partitions("repositories", [name])
    result = dg.materialize([repository_snapshot, commit_history], partition_key=name, instance=instance,
                            resources={"repo_scoping": RepoScopingResource()})
    assert result.success


def _run_cross(instance) -> dict:
    from repo_scoping_pipelines.definitions import defs

    result = defs.resolve_job_def("cross_repository_coupling_job").execute_in_process(instance=instance)
    assert result.success
    (mat,) = [e.event_specific_data.materialization for e in result.all_events
              if e.event_type_value == "ASSET_MATERIALIZATION"]
    (check,) = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    assert check.passed
    return {k: v.value for k, v in mat.metadata.items()}


@pytest.fixture
def coupled(settings, services, make_repo, monkeypatch):
    for key, value in {"MIN_REVS": "1", "MIN_SHARED_REVS": "2", "MIN_DEGREE": "0.3",
                       "MAX_CHANGESET": str(MAX_CHANGESET)}.items():
        monkeypatch.setenv(f"REPO_SCOPING_INSIGHT_COUPLING_{key}", value)
    get_settings.cache_clear()
    pay, web = _build(make_repo)
    register_repository(services, "payments", str(pay.path))
    register_repository(services, "storefront", str(web.path))
    with dg.instance_for_test() as instance:
        for name in ("payments", "storefront"):
            _materialize_history(instance, name)
        first = _run_cross(instance)
        second = _run_cross(instance)
        yield pay, web, first, second, instance


def test_cross_repository_pairs_match_construction_and_git_log(settings, coupled):
    pay, web, meta, again, _ = coupled
    with TestClient(create_app(settings)) as client:
        from_pay = client.get("/metrics/coupling", params={"repository": "payments", "scope": "cross"})
        from_web = client.get("/metrics/coupling", params={"repository": "storefront", "scope": "cross"}).json()
        one_file = client.get("/metrics/coupling", params={"repository": "storefront", "scope": "cross",
                                                           "path": "web/cart.js"}).json()
        within = client.get("/metrics/coupling", params={"repository": "payments"}).json()
        missing = client.get("/metrics/coupling", params={"repository": "nope", "scope": "cross"})
        bad = client.get("/metrics/coupling", params={"repository": "payments", "scope": "everywhere"})
    assert from_pay.status_code == 200
    body = from_pay.json()
    assert body["repository"] == "payments" and body["scope"] == "cross"
    # By construction: charge.py under PAY-1..3 (PAY-4's 5-file set left out), refund.py under PAY-2, PAY-3
    # and acme/payments#12; pay.js under PAY-1..4, cart.js under PAY-2 and acme/payments#12 (its own bare
    # #12 is no key).
    assert body["pairs"] == [
        {"repository_a": "payments", "path_a": "api/charge.py", "repository_b": "storefront", "path_b": "web/pay.js",
         "shared_revisions": 3, "revisions_a": 3, "revisions_b": 4, "degree": pytest.approx(3 / 3.5, abs=1e-6),
         "shared_keys": ["PAY-1", "PAY-2", "PAY-3"]},
        {"repository_a": "payments", "path_a": "api/refund.py", "repository_b": "storefront", "path_b": "web/cart.js",
         "shared_revisions": 2, "revisions_a": 3, "revisions_b": 2, "degree": pytest.approx(2 / 2.5, abs=1e-6),
         "shared_keys": ["PAY-2", "acme/payments#12"]},
        {"repository_a": "payments", "path_a": "api/refund.py", "repository_b": "storefront", "path_b": "web/pay.js",
         "shared_revisions": 2, "revisions_a": 3, "revisions_b": 4, "degree": pytest.approx(2 / 3.5, abs=1e-6),
         "shared_keys": ["PAY-2", "PAY-3"]},
    ]
    # The same figures from `git log` of both repositories.
    expected = _expected_pairs(_git_change_sets(pay, "acme/payments"), _git_change_sets(web), min_shared=2)
    assert {(p["path_a"], p["path_b"]): (p["shared_revisions"], p["revisions_a"], p["revisions_b"],
                                         pytest.approx(p["degree"], abs=1e-6)) for p in body["pairs"]} == expected
    # Seen from the other repository: the same pairs, that repository on side a.
    assert [(p["repository_a"], p["path_a"], p["path_b"], p["revisions_a"], p["revisions_b"])
            for p in from_web["pairs"]] == [("storefront", "web/pay.js", "api/charge.py", 4, 3),
                                            ("storefront", "web/cart.js", "api/refund.py", 2, 3),
                                            ("storefront", "web/pay.js", "api/refund.py", 4, 3)]
    # cart.js: with refund.py only (its own bare #12 does not count; with charge.py it shares PAY-2 alone).
    assert [(p["path_b"], p["shared_keys"]) for p in one_file["pairs"]] == [
        ("api/refund.py", ["PAY-2", "acme/payments#12"])]
    # The default scope is the within-repository coupling, unchanged in shape.
    assert within["scope"] == "within" and all("repository_a" not in p for p in within["pairs"])
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    assert bad.status_code == 400
    assert (meta["pairs"], meta["repositories"], meta["change_sets_too_large"]) == (3, 2, 1)
    assert meta["keys"] == 5 and meta["repositories_with_keys"] == 2
    assert again["pairs"] == 3 and again["dagster/row_count"] == 3  # a rerun replaces, it does not add


def test_rows_are_ordered_once_and_the_schedule_requests_a_run(services, coupled):
    import sqlalchemy as sa

    from repo_scoping_pipelines.definitions import defs
    from repo_scoping_pipelines.storage.tables import cross_repository_coupling

    *_, instance = coupled
    with services.engine.connect() as conn:
        rows = conn.execute(sa.select(cross_repository_coupling)).mappings().all()
    assert len(rows) == 3 and all(r["repository_a_id"] < r["repository_b_id"] for r in rows)
    assert all(0 < r["degree"] <= 1 for r in rows)
    schedule = defs.resolve_schedule_def("daily_cross_repository_coupling")
    (request,) = schedule.evaluate_tick(dg.build_schedule_context(
        instance=instance, scheduled_execution_time=datetime(2026, 12, 7, 4, 30, tzinfo=UTC))).run_requests
    assert request.run_key == "cross-coupling-2026-12-07"
