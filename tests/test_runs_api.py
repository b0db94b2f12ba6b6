"""The runs API and `repo-scoping runs` over a real Dagster instance in the test Postgres."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import SecretStr

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.cli import main
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
from repo_scoping_pipelines.operations.refresh import refresh_in_process

TOKEN = "runs-admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sse_events(text: str) -> list[tuple[str, dict]]:
    """(event, data) pairs of a text/event-stream body."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line and not line.startswith(":") and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "data" in fields:
            out.append((fields.get("event", "message"), json.loads(fields["data"])))
    return out


@pytest.fixture
def refreshed(settings, services, make_repo):
    """One repository refreshed successfully, one whose source vanished (its refresh failed)."""
    good = make_repo("ledger", {"ledger/app.py": "def post_entry(amount):\n    return amount\n",
                                "README.md": "# Ledger\n"})
    register_repository(services, "ledger", str(good.path))
    bad = make_repo("vanished")
    register_repository(services, "vanished", str(bad.path))
    shutil.rmtree(bad.path)
    with dagster_instance(settings) as instance:
        ok = refresh_in_process(instance, "ledger")
        failed = refresh_in_process(instance, "vanished")
    assert ok.success and not failed.success
    app = create_app(settings.model_copy(update={"api_token": SecretStr(TOKEN)}))
    with TestClient(app) as client:
        client.ok_run, client.failed_run = ok.run_id, failed.run_id
        yield client


def test_runs_list_filters_and_failed_first(refreshed):
    runs = refreshed.get("/runs").json()["runs"]
    by_id = {r["run_id"]: r for r in runs}
    assert by_id[refreshed.ok_run]["status"] == "success" and by_id[refreshed.ok_run]["repository"] == "ledger"
    assert by_id[refreshed.failed_run]["status"] == "failure"
    assert by_id[refreshed.ok_run]["job"] == "refresh_repository" and by_id[refreshed.ok_run]["duration_s"] > 0

    failed = refreshed.get("/runs", params={"status": "failed"}).json()["runs"]
    assert [r["run_id"] for r in failed] == [refreshed.failed_run]
    ledger = refreshed.get("/runs", params={"repository": "ledger"}).json()["runs"]
    assert {r["repository"] for r in ledger} == {"ledger"}
    first = refreshed.get("/runs", params={"failed_first": "true", "limit": 1}).json()["runs"]
    assert [r["run_id"] for r in first] == [refreshed.failed_run]
    newest = refreshed.get("/runs", params={"limit": 1}).json()["runs"]
    assert len(newest) == 1

    for params, status in (({"status": "sideways"}, 400), ({"repository": "nope"}, 404), ({"limit": 0}, 400)):
        response = refreshed.get("/runs", params=params)
        assert response.status_code == status and response.json()["error"]["message"], params


def test_run_detail_steps_materializations_and_error(refreshed):
    detail = refreshed.get(f"/runs/{refreshed.ok_run}").json()
    assert detail["status"] == "success" and detail["error"] is None
    steps = {s["step_key"]: s for s in detail["steps"]}
    assert "repository_snapshot" in steps and all(s["status"] == "success" for s in steps.values())
    assert all(s["duration_s"] is not None and s["started_at"] for s in steps.values())
    assets = {m["asset"]: m for m in detail["materializations"]}
    assert assets["repository_snapshot"]["partition"] == "ledger"
    assert assets["content_chunks"]["rows"] >= 1

    failed = refreshed.get(f"/runs/{refreshed.failed_run}").json()
    assert failed["status"] == "failure"
    assert failed["error"]["step_key"] == "repository_snapshot" and failed["error"]["message"]

    missing = refreshed.get("/runs/0123456789abcdef0123456789abcdef")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert refreshed.get("/runs/NOT-AN-ID!").status_code in (400, 404)
    assert refreshed.get("/runs/0123456789abcdef/events").status_code == 404


def test_event_stream_of_an_ended_run_ends_with_a_final_event(refreshed):
    with refreshed.stream("GET", f"/runs/{refreshed.ok_run}/events") as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    kinds = [data.get("type") for event, data in events if event == "event"]
    assert "RUN_START" in kinds and kinds.index("RUN_START") < kinds.index("RUN_SUCCESS")
    assert "ASSET_MATERIALIZATION" in kinds and "RUN_SUCCESS" in kinds
    assert events[-1] == ("end", {"run_id": refreshed.ok_run, "status": "success", "dagster_status": "SUCCESS"})
    # Resuming after an event id replays only what came later.
    last_id = [d["storage_id"] for e, d in events if e == "event"][-2]
    with refreshed.stream("GET", f"/runs/{refreshed.ok_run}/events",
                          headers={"Last-Event-ID": str(last_id)}) as response:
        resumed = sse_events(response.read().decode())
    assert [d["type"] for e, d in resumed if e == "event"] == [kinds[-1]] and resumed[-1][0] == "end"


def test_refreshes_refused_without_daemon_unknown_or_unauthorized(refreshed, settings):
    before = len(refreshed.get("/runs").json()["runs"])
    unknown = refreshed.post("/refreshes", headers=AUTH, json={"repositories": ["ledger", "nope", "gone"]})
    assert unknown.status_code == 404
    assert "'nope'" in unknown.json()["error"]["message"] and "'gone'" in unknown.json()["error"]["message"]
    down = refreshed.post("/refreshes", headers=AUTH, json={"repositories": ["ledger"]})
    assert down.status_code == 503 and down.json()["error"]["code"] == "daemon_unavailable"
    assert "daemon" in down.json()["error"]["message"]
    assert refreshed.post("/refreshes", headers=AUTH, json={"repositories": []}).status_code == 400
    assert refreshed.post("/refreshes", headers=AUTH, content=b"{nope").status_code == 400
    assert refreshed.post("/refreshes", json={"repositories": ["ledger"]}).status_code == 401
    assert len(refreshed.get("/runs").json()["runs"]) == before  # nothing queued


def test_health_counts_runs_by_status(refreshed):
    runs = refreshed.get("/health").json()["runs"]
    counts = runs["counts"]
    assert counts["success"] == 1 and counts["failure"] == 1
    assert counts["queued"] == 0 and counts["started"] == 0
    # Each asset's latest materialization: the good refresh's, for its partition; never-materialized: null.
    snapshot = runs["assets"]["repository_snapshot"]
    assert snapshot["run_id"] == refreshed.ok_run and snapshot["partition"] == "ledger" and snapshot["at"] > 0
    assert runs["assets"]["content_chunks"]["run_id"] == refreshed.ok_run
    assert runs["assets"]["cross_repository_coupling"] is None  # only its weekly schedule materializes it


def test_cli_runs_lists_failed_runs_with_their_error(refreshed):
    result = CliRunner().invoke(main, ["runs", "--status", "failed"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert refreshed.failed_run[:8] in result.output and refreshed.ok_run[:8] not in result.output
    assert "repository_snapshot:" in result.output
    listed = CliRunner().invoke(main, ["runs", "--repository", "ledger", "--json"], catch_exceptions=False)
    rows = json.loads(listed.stdout)
    assert [r["run_id"] for r in rows] == [refreshed.ok_run] and rows[0]["status"] == "success"
    assert CliRunner().invoke(main, ["runs", "--status", "sideways"]).exit_code == 2
