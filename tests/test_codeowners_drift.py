"""CODEOWNERS compared with who actually wrote the code (issue 16): a real git repository whose rules,
line authors and flags are known by construction, cross-checked with `git blame --line-porcelain`,
through a real Dagster refresh (knowledge_risk) and GET /metrics/codeowners; plus pure tests of which
rule governs which file."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from git_blame import blame_lines

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.facts import codeowners
from repo_scoping_pipelines.insight.codeowners_drift import DriftRule, assign, drift, resolve_owner
from repo_scoping_pipelines.operations.refresh import refresh_in_process

ADA = "Ada Lovelace <ada@example.com>"
BOB = "Bob <9+bob@users.noreply.github.com>"  # a GitHub noreply address: the registry links it to github:bob
BOB_EMAIL = "9+bob@users.noreply.github.com"
CAROL = "Carol <carol@example.com>"

CODEOWNERS = (
    "# owners\n"                                   # 1
    "/api/ ada@example.com\n"                      # 2  rule 0: the api folder, one e-mail owner
    "/api/util.py @bob\n"                          # 3  rule 1: last match wins for util.py; @bob via the registry
    "*.md @acme/writers\n"                         # 4  rule 2: a team: unresolved
    "/docs/ zed@example.com   # never committed\n"  # 5  rule 3: an owner who wrote nothing
    "/nothing/ @ada\n"                             # 6  rule 4: matches nothing
    "/api/ not-an-owner\n"                         # 7  malformed: ignored, with a warning
)


def _lines(prefix: str, n: int) -> str:
    return "".join(f"{prefix}_{i} = {i}\n" for i in range(n))


def _build(make_repo):
    repo = make_repo("owned", empty=True)
    repo.commit({"legacy/old.py": _lines("old", 15)}, "init", author=CAROL, date="2024-01-10T12:00:00+00:00")
    repo.commit({"api/server.py": _lines("s", 20), "docs/guide.md": _lines("g", 20), "README.md": _lines("r", 5),
                 ".github/CODEOWNERS": CODEOWNERS}, "feat: server and docs", author=ADA)
    # Bob appends 30 lines to Ada's 20 in server.py and writes util.py.
    repo.commit({"api/server.py": _lines("s", 50), "api/util.py": _lines("u", 30)}, "feat: util", author=BOB)
    return repo


@pytest.fixture
def owned(services, make_repo):
    repo = _build(make_repo)
    register_repository(services, "owned", str(repo.path))
    instance = dg.instance_for_test()
    repo.instance = instance.__enter__()
    outcome = refresh_in_process(repo.instance, "owned")
    assert outcome.success, outcome.error
    repo.outcome = outcome
    yield repo
    instance.__exit__(None, None, None)


def test_rules_compared_with_line_authors(settings, owned):
    blame = {p: blame_lines(owned, p) for p in ("api/server.py", "api/util.py", "docs/guide.md", "README.md",
                                               "legacy/old.py", ".github/CODEOWNERS")}
    # By construction, and equal to git's own blame.
    assert blame["api/server.py"] == {"ada@example.com": 20, BOB_EMAIL: 30}
    assert blame["api/util.py"] == {BOB_EMAIL: 30} and blame["docs/guide.md"] == {"ada@example.com": 20}

    meta = owned.outcome.assets["knowledge_risk"]
    assert (meta["codeowners_file"], meta["rules"], meta["rules_with_drift"]) == (".github/CODEOWNERS", 5, 3)
    assert meta["unowned_files"] == 2  # legacy/old.py and the CODEOWNERS file itself
    assert meta["unowned_lines"] == sum(blame["legacy/old.py"].values()) + sum(blame[".github/CODEOWNERS"].values())
    assert "/docs/" in meta["codeowners_preview"]

    with TestClient(create_app(settings)) as client:
        response = client.get("/metrics/codeowners", params={"repository": "owned"})
        missing = client.get("/metrics/codeowners", params={"repository": "nope"})
    assert response.status_code == 200
    body = response.json()
    summary = body["codeowners"]
    assert summary["file"] == ".github/CODEOWNERS" and summary["syntax"] == "github"
    assert (summary["rules"], summary["rules_with_drift"], summary["unowned_files"]) == (5, 3, 2)
    assert summary["files"] == 6 and summary["governed_files"] == 4
    assert summary["lines"] == sum(sum(v.values()) for v in blame.values())
    assert len(summary["warnings"]) == 1 and summary["warnings"][0].startswith(".github/CODEOWNERS:7:")
    rules = {r["line"]: r for r in body["rules"]}
    assert sorted(rules) == [2, 3, 4, 5, 6]  # the malformed line 7 is no rule

    # /api/: only server.py (util.py goes to the later rule); Ada wrote 20 of 50 lines; Bob (active) is on top.
    api = rules[2]
    server = blame["api/server.py"]
    assert (api["files"], api["lines"]) == (1, sum(server.values()))
    assert api["declared_share"] == pytest.approx(server["ada@example.com"] / sum(server.values())) == 0.4
    assert api["top_authors"][0] == {"author": BOB_EMAIL, "author_name": "Bob", "lines": 30, "share": 0.6,
                                     "active": True, "declared": False}
    assert (api["undeclared_top_author"], api["owner_inactive"], api["no_files"]) == (True, False, False)

    # @bob resolves through the people registry (his noreply address): he wrote all of util.py.
    util = rules[3]
    assert util["declared_share"] == 1.0 and util["files"] == 1 and util["unresolved_owners"] == []
    assert util["owner_status"][0]["resolved"] is True and util["owner_status"][0]["emails"] == [BOB_EMAIL]
    assert (util["undeclared_top_author"], util["owner_inactive"]) == (False, False)

    # A team cannot be resolved: no share, no verdict on the top author; README.md only (docs/ is later).
    team = rules[4]
    assert team["unresolved_owners"] == ["@acme/writers"] and team["declared_share"] is None
    assert team["undeclared_top_author"] is None and team["files"] == 1 and team["lines"] == 5
    assert team["owner_status"][0]["kind"] == "team" and team["owner_status"][0]["resolved"] is False

    # zed@example.com wrote nothing: inactive owner, share 0, Ada undeclared on top.
    docs = rules[5]
    assert (docs["owner_inactive"], docs["inactive_owners"], docs["declared_share"]) == (True, ["zed@example.com"], 0.0)
    assert docs["undeclared_top_author"] is True and docs["top_authors"][0]["author"] == "ada@example.com"

    nothing = rules[6]
    assert (nothing["no_files"], nothing["files"], nothing["lines"], nothing["declared_share"]) == (True, 0, 0, None)
    assert nothing["unresolved_owners"] == ["@ada"]  # no GitHub login ada in the registry: never guessed

    # Every governed file counted once.
    assert sum(r["files"] for r in body["rules"]) == summary["governed_files"]
    assert missing.status_code == 404 and "nope" in missing.json()["error"]["message"]


def _check_passed(instance) -> bool:
    key = dg.AssetCheckKey(dg.AssetKey("knowledge_risk"), "codeowners_files_counted_once")
    (record,) = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).values()
    return record.event.dagster_event.event_specific_data.passed


def test_check_passes_and_replace_is_idempotent(services, owned):
    from repo_scoping_pipelines.storage import catalog
    from repo_scoping_pipelines.storage import insight as store

    assert _check_passed(owned.instance) is True
    # Drop the team and the empty rule: the stored comparison is replaced, not appended to.
    owned.commit({".github/CODEOWNERS": "/api/ ada@example.com\n/api/util.py @bob\n"}, "chore: owners", author=ADA)
    second = refresh_in_process(owned.instance, "owned")
    assert second.success, second.error
    meta = second.assets["knowledge_risk"]
    assert (meta["rules"], meta["rules_with_drift"]) == (2, 1)
    assert _check_passed(owned.instance) is True
    engine = services.engine
    repo_id = catalog.get_repository(engine, "owned").id
    summary, rules = store.codeowners_drift_of(engine, repo_id)
    assert [r["line"] for r in rules] == [1, 2] and summary["rules"] == 2
    assert store.codeowners_counts(engine, repo_id) == {"codeowners_rules": 2, "codeowners_count_errors": 0}


def test_repository_without_codeowners_invents_no_owner(settings, services, make_repo):
    repo = make_repo("plain", {"app.py": _lines("a", 3)})
    register_repository(services, "plain", str(repo.path))
    with dg.instance_for_test() as instance:
        outcome = refresh_in_process(instance, "plain")
    assert outcome.success, outcome.error
    assert outcome.assets["knowledge_risk"]["codeowners_file"] == "none found"
    with TestClient(create_app(settings)) as client:
        body = client.get("/metrics/codeowners", params={"repository": "plain"}).json()
    assert body["codeowners"] is None and body["rules"] == []
    assert "no CODEOWNERS file found" in body["message"]


# --- pure: which rule governs which file ------------------------------------------------------------------

FILES = ["api/server.py", "api/util.py", "api/v1/routes.py", "docs/guide.md", "docs/deep/x.md", "README.md",
         "lib/api/x.py", "src/app.py"]


def _rules(text: str) -> list[DriftRule]:
    parsed = codeowners.parse(text, "CODEOWNERS")
    return [DriftRule(r.order, r.pattern, r.owners, r.line, r.section) for r in parsed.rules]


def _governing(text: str, files=FILES) -> dict[tuple[str, str], int]:
    frame = assign(_rules(text), files)
    return {(s, p): int(o) for s, p, o in frame[["section", "path", "order"]].itertuples(index=False)}


def test_last_matching_rule_wins():
    got = _governing("* @all\n/api/ @api\n/api/util.py @util\n*.md @docs\n")
    assert got[("", "api/util.py")] == 2 and got[("", "api/server.py")] == 1 and got[("", "api/v1/routes.py")] == 1
    assert got[("", "docs/guide.md")] == 3 and got[("", "README.md")] == 3 and got[("", "src/app.py")] == 0
    assert got[("", "lib/api/x.py")] == 0  # /api/ is anchored at the root
    assert len(got) == len(FILES)  # every file once
    # The same rules in the other order: * last takes everything.
    assert set(_governing("/api/ @api\n*.md @docs\n* @all\n").values()) == {2}


def test_patterns_follow_codeowners_globs():
    got = _governing("docs/* @a\napi/ @b\n")
    assert ("", "docs/guide.md") in got and ("", "docs/deep/x.md") not in got  # * does not cross /
    assert got[("", "lib/api/x.py")] == 1  # api/ without a leading / matches at any depth
    assert ("", "src/app.py") not in got


def test_gitlab_sections_each_govern_their_files():
    text = "* @all\n[Docs] @docs-team\n*.md\ndocs/ @writer\n^[Backend][2] @be\n/api/\n"
    got = _governing(text)
    # Outside sections * governs everything; in Docs the last match wins (docs/ over *.md); Backend: /api/.
    assert all(got[("", p)] == 0 for p in FILES)
    assert got[("Docs", "README.md")] == 1 and got[("Docs", "docs/guide.md")] == 2
    assert ("Docs", "src/app.py") not in got
    assert {p for (s, p) in got if s == "Backend"} == {"api/server.py", "api/util.py", "api/v1/routes.py"}
    rules = _rules(text)
    assert rules[1].owners == ["@docs-team"] and rules[1].section == "Docs"  # section defaults apply


def test_owner_resolution_and_declared_share():
    identities = {"github:ada": ["ada@example.com", "ada@work.example"],
                  "email:ada@example.com": ["ada@example.com", "ada@work.example"]}
    assert resolve_owner("@Ada", identities)[1] == ["ada@example.com", "ada@work.example"]
    assert resolve_owner("@org/team", identities)[1] is None and resolve_owner("@@developer", {})[0] == "role"
    assert resolve_owner("@ghost", identities)[1] is None
    owners = pd.DataFrame([("a/x.py", "ada@work.example", "Ada", 6), ("a/x.py", "bo@example.com", "Bo", 4),
                           ("b/y.py", "bo@example.com", "Bo", 10)],
                          columns=["path", "author", "author_name", "lines"])
    rules = [DriftRule(0, "/a/", ["ADA@example.com"], 1), DriftRule(1, "/b/", ["@ada", "@org/t"], 2)]
    result = drift(rules, ["a/x.py", "b/y.py", "c.txt"], owners, {"bo@example.com"}, identities)
    a, b = result.rules
    # The e-mail owner matches Ada's other address through her person; Ada is not active.
    assert a["declared_share"] == 0.6 and a["owner_inactive"] is True and a["undeclared_top_author"] is True
    # Bo (active) on top of b/, but @org/t could be Bo: no verdict; @ada resolves, and is inactive.
    assert b["owner_inactive"] is True and b["inactive_owners"] == ["@ada"]
    assert b["declared_share"] == 0.0 and b["undeclared_top_author"] is None and b["unresolved_owners"] == ["@org/t"]
    assert (result.unowned_files, result.unowned_lines, result.governed_files) == (1, 0, 2)
    assert result.rules_with_drift == 2
