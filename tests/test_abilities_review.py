"""Human review through the API and the CLI, and the approved registry published by the sensor."""

from __future__ import annotations

import dagster as dg
import pytest
from abilities_samples import SERVICE_FILES, materialize_abilities
from click.testing import CliRunner
from fastapi.testclient import TestClient

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.cli import main
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.definitions import defs
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.sensors.reviews import review_decisions_sensor
from repo_scoping_pipelines.storage import abilities as ability_store

TOKEN = "review-token-0123456789abcdef"


@pytest.fixture
def reviewed(settings, services, make_repo, monkeypatch):
    monkeypatch.setenv("REPO_SCOPING_API_TOKEN", TOKEN)
    repo = make_repo("invoicer", SERVICE_FILES)
    register_repository(services, "invoicer", str(repo.path))
    with dg.instance_for_test() as instance:
        materialize_abilities(instance, "invoicer")
        app_settings = Settings(**{**settings.model_dump(), "api_token": TOKEN})
        with TestClient(create_app(app_settings)) as client:
            candidates = client.get("/repositories/invoicer/candidates").json()["candidates"]
            client.by_key = {c["key"]: c for c in candidates}
            client.instance = instance
            yield client


def post(client, body, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/reviews", json=body, headers=headers)


def test_review_needs_the_token_and_a_known_candidate(reviewed, services):
    cid = reviewed.by_key["http_api"]["candidate_id"]
    body = {"candidate_id": cid, "decision": "approve", "note": "routes checked", "reviewer": "ada"}
    for token in (None, "wrong-token", ""):
        response = post(reviewed, body, token)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert reviewed.post("/reviews", json=body, headers={"Authorization": f"Token {TOKEN}"}).status_code == 401
    assert ability_store.decision_history(services.engine, cid) == []  # nothing stored without a valid token
    assert ability_store.last_decision_id(services.engine) == 0

    missing = post(reviewed, {**body, "candidate_id": "cand_0000000000000000"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    for bad in ({**body, "decision": "maybe"}, {"decision": "approve"}, [1, 2]):
        response = post(reviewed, bad)
        assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
    response = reviewed.post("/reviews", content=b"{not json", headers={"Authorization": f"Bearer {TOKEN}",
                                                                         "Content-Type": "application/json"})
    assert response.status_code == 400


def test_newest_review_wins_and_history_keeps_both(reviewed, services):
    cid = reviewed.by_key["datastore:redis"]["candidate_id"]
    first = post(reviewed, {"candidate_id": cid, "decision": "approve", "note": "uses redis", "reviewer": "ada"})
    assert first.status_code == 201 and first.json()["candidate"]["status"] == "approved"
    second = post(reviewed, {"candidate_id": cid, "decision": "reject", "note": "cache only", "reviewer": "bob"})
    assert second.status_code == 201 and second.json()["candidate"]["status"] == "rejected"
    detail = reviewed.get(f"/candidates/{cid}").json()
    assert detail["status"] == "rejected"
    assert [(r["decision"], r["reviewer"], r["note"]) for r in detail["reviews"]] == [
        ("approve", "ada", "uses redis"), ("reject", "bob", "cache only")]
    assert all(r["created_at"] for r in detail["reviews"])
    rejected = reviewed.get("/repositories/invoicer/candidates", params={"status": "rejected"}).json()
    assert [c["candidate_id"] for c in rejected["candidates"]] == [cid]


def test_approved_candidate_reaches_the_registry_after_the_sensor_run(reviewed, services):
    instance = reviewed.instance
    approve = reviewed.by_key["datastore:postgresql"]["candidate_id"]
    reject = reviewed.by_key["http_api"]["candidate_id"]
    assert post(reviewed, {"candidate_id": approve, "decision": "approve", "reviewer": "ada"}).status_code == 201
    assert post(reviewed, {"candidate_id": reject, "decision": "reject", "reviewer": "ada"}).status_code == 201
    assert reviewed.get("/repositories/invoicer/abilities").json()["abilities"] == []  # not published yet

    context = dg.build_sensor_context(instance=instance, resources={"repo_scoping": RepoScopingResource()})
    request = review_decisions_sensor(context)
    assert isinstance(request, dg.RunRequest) and context.cursor == "2"
    job = defs.resolve_job_def(review_decisions_sensor.job_name)
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} == {"ability_registry"}
    result = job.execute_in_process(instance=instance, tags=request.tags, run_config={})
    assert result.success
    meta = result.asset_materializations_for_node("ability_registry")[0].metadata
    assert meta["dagster/row_count"].value == 1 and meta["added"].value == 1

    abilities = reviewed.get("/repositories/invoicer/abilities").json()["abilities"]
    assert [(a["candidate_id"], a["name"], a["approved_by"]) for a in abilities] == [
        (approve, "Stores data in PostgreSQL", "ada")]
    assert abilities[0]["evidence"] and abilities[0]["repository"] == "invoicer"
    found = reviewed.get("/abilities", params={"q": "postgres"}).json()
    assert found["repositories"] == ["invoicer"] and found["abilities"][0]["candidate_id"] == approve
    assert reviewed.get("/abilities", params={"q": "kafka"}).json()["abilities"] == []
    assert reviewed.get("/repositories/nope/abilities").status_code == 404

    again = review_decisions_sensor(dg.build_sensor_context(
        instance=instance, cursor=context.cursor, resources={"repo_scoping": RepoScopingResource()}))
    assert isinstance(again, dg.SkipReason)


def test_cli_review(reviewed, services):
    cid = reviewed.by_key["cli"]["candidate_id"]
    runner = CliRunner()
    result = runner.invoke(main, ["review", "approve", cid, "--note", "ships a console script",
                                  "--reviewer", "carol"])
    assert result.exit_code == 0, result.output
    assert "approved" in result.output and "Is a command-line tool" in result.output
    history = ability_store.decision_history(services.engine, cid)
    assert [(h["decision"], h["reviewer"], h["note"]) for h in history] == [
        ("approve", "carol", "ships a console script")]
    result = runner.invoke(main, ["review", "reject", "cand_unknown"])
    assert result.exit_code == 1 and "does not exist" in result.output
    listing = runner.invoke(main, ["review", "list", "invoicer", "--status", "approved"])
    assert listing.exit_code == 0 and cid in listing.output and "pyproject.toml" in listing.output


def test_definitions_wire_the_abilities_stage():
    graph = defs.resolve_asset_graph()
    candidates = graph.get(dg.AssetKey("ability_candidates"))
    assert {dg.AssetKey("observed_facts"), dg.AssetKey("content_chunks")} <= candidates.parent_keys
    assert candidates.partitions_def.name == "repositories"
    assert graph.get(dg.AssetKey("ability_registry")).partitions_def is None
    refresh = defs.resolve_job_def("refresh_repository")
    keys = {k.to_user_string() for k in refresh.asset_layer.executable_asset_keys}
    assert "ability_candidates" in keys and "ability_registry" not in keys
    assert defs.resolve_sensor_def("review_decisions_sensor")
