"""`repo-scoping up | status | down` as an operator uses them: real processes, test Postgres, Milvus Lite server."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from deployment_support import deployment_settings

from repo_scoping_pipelines.operations import deployment
from repo_scoping_pipelines.operations.embedded import _pid_alive, stop_milvus_server
from repo_scoping_pipelines.services import close_all

CLI = [sys.executable, "-m", "repo_scoping_pipelines.cli"]


def run_cli(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=dict(os.environ), capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def stack(tmp_path, database_url, monkeypatch):
    settings, milvus_owner = deployment_settings(tmp_path, database_url, monkeypatch)
    try:
        yield settings
    finally:
        deployment.down(settings, echo=lambda _: None, timeout_s=10)
        close_all()
        stop_milvus_server(milvus_owner)


def test_up_status_health_down(stack):
    settings = stack
    started = run_cli("up")
    assert started.returncode == 0, started.stdout + started.stderr
    for name in ("code-server", "webserver", "daemon", "api"):
        assert f"{name:<11} pid" in started.stdout

    shown = run_cli("status", "--json")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    rows = {r["name"]: r for r in json.loads(shown.stdout)}
    assert all(r["health"]["ok"] for r in rows.values()), rows
    assert rows["webserver"]["port"] == settings.webserver_port and rows["api"]["port"] == settings.api_port
    assert rows["code-server"]["port"] == settings.code_server_port
    assert rows["daemon"]["health"]["heartbeat_age_s"] < 75
    assert rows["postgres"]["external"] and rows["milvus"]["external"]

    # The read API reports the daemon's heartbeat.
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.api_port}/health", timeout=60) as response:
        report = json.loads(response.read())
    assert report["dagster"]["daemon"]["alive"] is True
    assert report["dagster"]["daemon"]["heartbeat_age_s"] < 75
    # The UI serves the code location from the gRPC code server.
    query = json.dumps({"query": "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
                                 "locationOrLoadError { __typename } } } } }"}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{settings.webserver_port}/graphql", data=query,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        (entry,) = json.loads(response.read())["data"]["workspaceOrError"]["locationEntries"]
    assert entry["name"] == deployment.LOCATION_NAME
    assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"

    pids = [r["pid"] for r in rows.values() if r["pid"]]
    stopped = run_cli("down")
    assert stopped.returncode == 0, stopped.stderr
    assert not [pid for pid in pids if _pid_alive(pid)]
    after = run_cli("status")
    assert after.returncode == 1 and "DOWN: not running" in after.stdout


def test_port_taken_is_a_clear_error_naming_it(stack):
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as squatter:
        squatter.bind(("127.0.0.1", stack.webserver_port))
        squatter.listen()
        result = run_cli("up", timeout=60)
    assert result.returncode == 1
    assert f"port {stack.webserver_port} is already in use (webserver)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not any(deployment.read_state(stack, c.name) for c in deployment.COMPONENTS
                   if c.name != "milvus"), "nothing starts when a port is taken"


def test_code_location_that_fails_to_load_is_reported_not_hung(stack, tmp_path, monkeypatch):
    (tmp_path / "broken_location.py").write_text("import not_a_real_dependency_xyz  # a missing dependency\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(deployment, "CODE_LOCATION_MODULE", "broken_location")
    rows = {r["name"]: r for r in deployment.up(stack, echo=print, only=["code-server"])}
    health = rows["code-server"]["health"]
    assert health["ok"] is False
    assert "failed to load" in health["error"] and "not_a_real_dependency_xyz" in health["error"]
    shown = run_cli("status", timeout=60)
    assert shown.returncode == 1
    assert "code location failed to load" in shown.stdout and "not_a_real_dependency_xyz" in shown.stdout
