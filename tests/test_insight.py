"""Hotspots and change coupling (change_insight) on a repository whose couples and hotspots are known
by construction, cross-checked against `git log`; through a real Dagster refresh and the API."""

from __future__ import annotations

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from git_blame import blame_lines

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.refresh import refresh_in_process

# billing.py: 1 function + if + for + elif = complexity 4; tax.py: 1 function, no decision = 1.
BILLING = ("def total(lines, region):\n    s = 0\n    for line in lines:\n        s += line\n"
           "    if region == 'eu':\n        return s * 1.2\n    elif region == 'us':\n        return s\n"
           "    return s\n")
TAX = "def rate():\n    return 0.2\n"


def _build(make_repo):
    repo = make_repo("ledger", empty=True)
    repo.commit({"ledger/billing.py": BILLING, "ledger/tax.py": TAX, "ledger/notes.py": "X = 0\n",
                 "README.md": "# Ledger\n"}, "initial commit", date="2025-12-01T12:00:00+00:00")
    # billing.py and tax.py change together 6 times: degree 1.0 once the initial commit is counted (7 and 7).
    for i in range(6):
        repo.commit({"ledger/billing.py": BILLING + f"# {i}\n", "ledger/tax.py": TAX + f"# {i}\n"}, f"feat: rate {i}",
                    date=f"2026-0{1 + i % 5}-10T12:00:00+00:00")
    # notes.py alone 6 times, and twice with billing.py: shared 2 < 5, no pair.
    for i in range(6):
        repo.commit({"ledger/notes.py": f"X = {i + 1}\n"}, f"docs: note {i}", date="2026-07-01T12:00:00+00:00")
    for i in range(2):
        repo.commit({"ledger/notes.py": f"X = {i + 10}\n", "ledger/billing.py": BILLING + f"# n{i}\n"}, "fix: both",
                    date="2026-07-02T12:00:00+00:00")
    # A reformatting commit of 35 files, billing.py and tax.py among them: too large to pair (> 30).
    bulk = {f"gen/f{i}.py": f"V = {i}\n" for i in range(33)}
    repo.commit({**bulk, "ledger/billing.py": BILLING + "# fmt\n", "ledger/tax.py": TAX + "# fmt\n"}, "style: fmt",
                date="2026-07-03T12:00:00+00:00")
    return repo


def _git_revisions(repo, path: str) -> int:
    return len(repo.git("log", "--no-merges", "--format=%H", "--", path).split())


@pytest.fixture
def ledger(services, make_repo):
    repo = _build(make_repo)
    register_repository(services, "ledger", str(repo.path))
    with dg.instance_for_test() as instance:
        outcome = refresh_in_process(instance, "ledger")
        assert outcome.success, outcome.error
        repo.outcome = outcome
        repo.instance_rerun = refresh_in_process(instance, "ledger")
    return repo


def test_hotspots_and_coupling_match_git_log(settings, ledger):
    meta = ledger.outcome.assets["change_insight"]
    assert meta["coupled_pairs"] == 1 and meta["change_sets_change_sets_too_large"] == 1
    # The facts stage measured every parsed file's complexity on the same blob: nothing parsed twice.
    assert meta["complexity_parsed"] == 0 and meta["complexity_reused"] == meta["files_measured"] >= 3, meta
    with TestClient(create_app(settings)) as client:
        hot = client.get("/metrics/hotspots", params={"repository": "ledger", "window": "all"}).json()["hotspots"]
        pairs = client.get("/metrics/coupling", params={"repository": "ledger"}).json()["pairs"]
        only_notes = client.get("/metrics/coupling", params={"repository": "ledger", "path": "ledger/notes.py"})
        missing = client.get("/metrics/hotspots", params={"repository": "nope"})
        bad = client.get("/metrics/hotspots", params={"repository": "ledger", "window": "3w"})
    by_path = {h["path"]: h for h in hot}
    for path in ("ledger/billing.py", "ledger/tax.py", "ledger/notes.py"):
        assert by_path[path]["revisions"] == _git_revisions(ledger, path), path
    assert by_path["ledger/billing.py"]["complexity"] == 4 and by_path["ledger/tax.py"]["complexity"] == 1
    assert by_path["ledger/notes.py"]["complexity"] == 0  # no function, no decision
    billing = by_path["ledger/billing.py"]
    assert billing["score"] == billing["revisions"] * 4 and billing["rank"] == 1
    assert [h["rank"] for h in hot] == sorted(h["rank"] for h in hot)
    # The pair by construction: 7 shared change sets (initial + 6), the 35-file commit left out.
    assert pairs == [{"path_a": "ledger/billing.py", "path_b": "ledger/tax.py", "shared_revisions": 7,
                      "revisions_a": 9, "revisions_b": 7, "degree": pytest.approx(7 / 8)}]
    assert only_notes.json()["pairs"] == []
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]
    assert bad.status_code == 400


def test_rerun_skips_and_windows_end_at_the_newest_commit(settings, ledger):
    rerun = ledger.instance_rerun
    assert rerun.success and rerun.assets["change_insight"]["skipped"] is True
    with TestClient(create_app(settings)) as client:
        recent = client.get("/metrics/hotspots", params={"repository": "ledger", "window": "30d"}).json()["hotspots"]
    # The 30 days before 2026-07-03: notes.py (8 commits) and billing.py (3), tax.py (1: the bulk commit).
    revisions = {h["path"]: h["revisions"] for h in recent}
    assert revisions["ledger/notes.py"] == 8 and revisions["ledger/billing.py"] == 3
    assert revisions["ledger/tax.py"] == 1
    assert {h["trend"] for h in recent} <= {"rising", "falling", "steady"}


def _lines(prefix: str, n: int, start: int = 0) -> str:
    return "".join(f"{prefix}_{i} = {i}\n" for i in range(start, start + n))


def test_knowledge_islands_bus_factor_and_orphans(settings, services, make_repo):
    import sqlalchemy as sa

    from repo_scoping_pipelines.storage import catalog
    from repo_scoping_pipelines.storage.tables import line_authors

    repo = make_repo("team", empty=True)
    # Bob wrote b.py two years ago (inactive); Ada wrote a.py and the first 30 lines of c.py; Carol added 20.
    repo.commit({"core/b.py": _lines("b", 10)}, "init", author="Bob <bob@example.com>",
                date="2024-12-01T12:00:00+00:00")
    repo.commit({"core/a.py": _lines("a", 100), "core/c.py": _lines("c", 30)}, "feat: a and c")
    repo.commit({"core/c.py": _lines("c", 50)}, "feat: more c", author="Carol <carol@example.com>")
    register_repository(services, "team", str(repo.path))
    with dg.instance_for_test() as instance:
        first = refresh_in_process(instance, "team")
        assert first.success, first.error
        assert first.assets["knowledge_risk"]["files_blamed"] == 3
        with TestClient(create_app(settings)) as client:
            whole = client.get("/metrics/knowledge", params={"repository": "team"}).json()
            b = client.get("/metrics/knowledge", params={"repository": "team", "path": "core/b.py"}).json()
            ada = client.get("/metrics/knowledge", params={"repository": "team", "person": "ada@example.com"}).json()
            nobody = client.get("/metrics/knowledge", params={"repository": "team", "person": "x@example.com"})
            nowhere = client.get("/metrics/knowledge", params={"repository": "team", "path": "lib"})

        # Line authorship equals git's own blame, file by file.
        repo_id = catalog.get_repository(services.engine, "team").id
        with services.engine.connect() as conn:
            stored = conn.execute(sa.select(line_authors.c.path, line_authors.c.author, line_authors.c.lines)
                                  .where(line_authors.c.repository_id == repo_id)).all()
        for path in ("core/a.py", "core/b.py", "core/c.py"):
            assert {a: n for p, a, n in stored if p == path} == blame_lines(repo, path), path

        # 160 lines; Bob's 10 have no active author; Ada leaving orphans 10 + 130 >= 80: bus factor 1.
        assert (whole["lines"], whole["active_lines"], whole["bus_factor"]) == (160, 150, 1)
        assert [i["path"] for i in whole["islands_list"]] == ["core/a.py"]  # Ada holds 100% of a.py
        assert whole["islands"] == 1 and whole["top_author"] == "ada@example.com"
        assert (b["active_share"], b["bus_factor"], b["is_island"]) == (0.0, 0, False)
        assert ada["person"]["orphaned_files"] == 1 and ada["person"]["orphaned_lines"] == 100
        assert ada["person"]["lines"] == 130 and ada["person"]["active"] is True
        assert nobody.status_code == 404 and "x@example.com" in nobody.json()["error"]["message"]
        assert nowhere.status_code == 404 and "lib" in nowhere.json()["error"]["message"]

        # One file changes: only that file is blamed again.
        repo.commit({"core/c.py": _lines("c", 60)}, "feat: even more c", author="Carol <carol@example.com>")
        second = refresh_in_process(instance, "team")
        assert second.success, second.error
        meta = second.assets["knowledge_risk"]
        assert (meta["files_blamed"], meta["files_unchanged"]) == (1, 2)
