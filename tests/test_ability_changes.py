"""Abilities over time (/repositories/{name}/abilities/changes) and similar repositories
(/repositories/{name}/similar), from real snapshots of real git repositories through Dagster."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
from abilities_samples import SERVICE_FILES, materialize_abilities
from fastapi.testclient import TestClient

from repo_scoping_pipelines.abilities.pipeline import review_candidate
from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.exports.timeline import jaccard, similar
from repo_scoping_pipelines.storage import abilities as ability_store
from repo_scoping_pipelines.storage import catalog


def test_dropping_a_framework_shows_the_lost_ability(settings, services, make_repo):
    repo = make_repo("invoicer", SERVICE_FILES)
    register_repository(services, "invoicer", str(repo.path))
    first = repo.head()
    with dg.instance_for_test() as instance, TestClient(create_app(settings)) as client:
        materialize_abilities(instance, "invoicer")
        body = client.get("/repositories/invoicer/abilities/changes").json()
        assert [s["commit"] for s in body["snapshots"]] == [first] and body["changes"] == []

        # The next commit drops Redis and adds a route: redis is lost, the HTTP API's evidence moves.
        app = SERVICE_FILES["invoicer/app.py"] + '\n\n@app.get("/health")\ndef health():\n    return "ok"\n'
        pyproject = SERVICE_FILES["pyproject.toml"].replace('    "redis>=5",\n', "")
        repo.commit({"invoicer/app.py": app, "pyproject.toml": pyproject}, "add health, drop redis")
        second = repo.head()
        materialize_abilities(instance, "invoicer")

        body = client.get("/repositories/invoicer/abilities/changes").json()
        assert [s["commit"] for s in body["snapshots"]] == [first, second]
        (change,) = body["changes"]
        assert (change["from_commit"], change["to_commit"]) == (first, second)
        assert [a["key"] for a in change["lost"]] == ["datastore:redis"]
        assert change["gained"] == []
        lost = change["lost"][0]
        assert lost["locations"] and lost["locations"][0].startswith("pyproject.toml:")
        changed = {a["key"]: a for a in change["changed"]}
        assert "http_api" in changed
        assert any(loc.startswith("invoicer/app.py:21") for loc in changed["http_api"]["evidence_added"])
        # Every candidate that is in both snapshots with the same evidence is not reported.
        stored = ability_store.ability_timeline(services.engine,
                                                catalog.get_repository(services.engine, "invoicer").id)
        unchanged = set(stored[0]["candidates"]) & set(stored[1]["candidates"])
        assert unchanged and len(change["changed"]) < len(unchanged)
        repository_id = catalog.get_repository(services.engine, "invoicer").id
        assert ability_store.ability_snapshot_problems(services.engine, repository_id) == \
            {"members_without_snapshot": 0, "count_mismatches": 0}

        # since: a commit (or a prefix) or a time; a later commit has nothing after it.
        assert client.get("/repositories/invoicer/abilities/changes",
                          params={"since": first[:8]}).json()["changes"] == body["changes"]
        assert client.get("/repositories/invoicer/abilities/changes",
                          params={"since": second}).json()["changes"] == []
        earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        assert len(client.get("/repositories/invoicer/abilities/changes",
                              params={"since": earlier}).json()["changes"]) == 1
        bad = client.get("/repositories/invoicer/abilities/changes", params={"since": "last tuesday"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
        assert client.get("/repositories/nope/abilities/changes").status_code == 404

        # Running again on the same commit replaces its record, it does not add a snapshot.
        materialize_abilities(instance, "invoicer")
        again = client.get("/repositories/invoicer/abilities/changes").json()
        assert [s["commit"] for s in again["snapshots"]] == [first, second]

        # The weekly digest (an asset, launched by its schedule) lists the lost and the moved ability.
        from repo_scoping_pipelines.definitions import defs

        result = defs.resolve_job_def("weekly_ability_digest_job").execute_in_process(instance=instance)
        assert result.success
        (mat,) = [e.event_specific_data.materialization for e in result.all_events
                  if e.event_type_value == "ASSET_MATERIALIZATION"]
        meta = {k: v.value for k, v in mat.metadata.items()}
        assert (meta["repositories_changed"], meta["lost"], meta["gained"]) == (1, 1, 0)
        assert meta["changed"] == len(change["changed"])
        assert "## invoicer" in meta["digest"] and "- lost: **" in meta["digest"]
        assert lost["name"] in meta["digest"] and "pyproject.toml:" in meta["digest"]
        schedule = defs.resolve_schedule_def("weekly_ability_digest")
        (request,) = schedule.evaluate_tick(dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2026, 12, 7, 6, tzinfo=UTC))).run_requests
        assert request.run_key == "ability-digest-2026-12-07"


BILLING = {
    "pyproject.toml": '[project]\nname = "billing"\nversion = "0.1.0"\n'
                      'dependencies = ["flask>=3.0", "psycopg[binary]>=3.1"]\n',
    "billing/__init__.py": "",
    "billing/app.py": 'from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get("/bills")\ndef bills():\n'
                      "    return []\n",
}
NOTES = {
    "package.json": json.dumps({"name": "notes", "version": "1.0.0", "dependencies": {"express": "4.18.2"}}) + "\n",
    "server.js": "const express = require('express');\nconst app = express();\n"
                 "app.get('/notes', (req, res) => res.send([]));\n",
}


def test_similar_ranks_by_shared_abilities_frameworks_and_dependencies(settings, services, make_repo):
    with dg.instance_for_test() as instance, TestClient(create_app(settings)) as client:
        for name, files in (("invoicer", SERVICE_FILES), ("billing", BILLING), ("notes", NOTES)):
            register_repository(services, name, str(make_repo(name, files).path))
            materialize_abilities(instance, name)
        for name in ("invoicer", "billing"):
            candidates = client.get(f"/repositories/{name}/candidates").json()["candidates"]
            postgres = next(c for c in candidates if c["key"] == "datastore:postgresql")
            review_candidate(services.engine, postgres["candidate_id"], "approve", reviewer="ada", note="ok")
        ability_store.publish_registry(services.engine)

        body = client.get("/repositories/invoicer/similar").json()
        assert body["repository"] == "invoicer" and "Jaccard" in body["method"]
        (billing,) = body["similar"]  # notes (Express, npm) shares nothing with invoicer: left out
        assert billing["repository"] == "billing"
        assert billing["shared"]["abilities"] == ["datastore:postgresql"]
        assert {"Flask", "psycopg"} <= set(billing["shared"]["frameworks"])
        assert {"pypi:flask", "pypi:psycopg"} <= set(billing["shared"]["dependencies"])
        assert 0 < billing["score"] < 1
        assert billing["score"] == round(sum(billing["scores"].values()) / len(billing["scores"]), 4)
        back = client.get("/repositories/billing/similar").json()["similar"]
        assert back[0]["repository"] == "invoicer" and back[0]["score"] == billing["score"]  # symmetric
        assert client.get("/repositories/notes/similar").json()["similar"] == []
        assert client.get("/repositories/nope/similar").status_code == 404


def test_similarity_is_mean_jaccard_over_non_empty_aspects():
    assert jaccard({"a", "b"}, {"b", "c"}) == 1 / 3 and jaccard(set(), set()) == 0.0
    target = {"abilities": set(), "frameworks": {"Flask", "Celery"}, "dependencies": {"pypi:flask"}}
    ranked = similar(target, {
        "x": {"abilities": set(), "frameworks": {"Flask"}, "dependencies": {"pypi:flask"}},
        "y": {"abilities": {"cli"}, "frameworks": {"Flask", "Celery"}, "dependencies": {"pypi:other"}},
        "z": {"abilities": set(), "frameworks": {"Django"}, "dependencies": set()},
    })
    assert [(r["repository"], r["score"]) for r in ranked] == [("x", 0.75), ("y", 0.3333)]
    assert ranked[0]["scores"] == {"frameworks": 0.5, "dependencies": 1.0}  # abilities empty on both sides
    assert ranked[1]["shared"] == {"abilities": [], "frameworks": ["Celery", "Flask"], "dependencies": []}


def test_digest_nets_out_an_ability_gained_then_lost_within_the_week():
    from repo_scoping_pipelines.exports.timeline import digest_markdown, summarise

    def ability(key):
        return {"key": key, "name": key.title(), "category": "x", "status": "pending", "candidate_id": key,
                "locations": [f"{key}.py:1"]}

    week = [{"gained": [ability("queue")], "lost": [ability("cache")], "changed": []},
            {"gained": [], "lost": [ability("queue")], "changed": [ability("api")]}]
    entry = summarise("svc", week)
    assert [a["key"] for a in entry["gained"]] == [] and [a["key"] for a in entry["lost"]] == ["cache"]
    assert [a["key"] for a in entry["changed"]] == ["api"]
    assert summarise("svc", [{"gained": [ability("q")], "lost": [], "changed": []},
                             {"gained": [], "lost": [ability("q")], "changed": []}]) is None
    since = datetime(2026, 11, 30, tzinfo=UTC)
    assert "No ability was gained" in digest_markdown([], since)
    assert "- lost: **Cache** (x) at cache.py:1" in digest_markdown([entry], since)
