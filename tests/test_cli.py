"""The `repo-scoping` command as a user runs it: a separate process, real storage."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import pytest
from deployment_support import free_port
from samples import SAMPLE_FILES

from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.operations.embedded import running_milvus_server, stop_milvus_server

CLI = [sys.executable, "-m", "repo_scoping_pipelines.cli"]


def run_cli(*args: str, env: dict[str, str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli_env(settings) -> dict[str, str]:
    # The conftest `settings` fixture exported REPO_SCOPING_* (test database, Milvus Lite path).
    return dict(os.environ)


def test_register_refresh_search_health(cli_env, make_repo):
    repo = make_repo("payments", SAMPLE_FILES)
    registered = run_cli("register", "payments", str(repo.path), env=cli_env)
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip() == "registered payments (local_path)"

    refreshed = run_cli("refresh", env=cli_env)
    assert refreshed.returncode == 0, refreshed.stderr
    assert "[1/1] payments: refreshing" in refreshed.stdout
    rows = {line.split()[0]: line.split()[1] for line in refreshed.stdout.splitlines()
            if line.split() and line.split()[0] in ("repository_snapshot", "content_chunks", "chunk_embeddings")}
    assert rows == {"repository_snapshot": "done", "content_chunks": "done", "chunk_embeddings": "done"}, \
        refreshed.stdout
    assert "done in " in refreshed.stdout and "failed" not in refreshed.stdout
    assert "Warning" not in refreshed.stderr, refreshed.stderr  # no Dagster BetaWarning in the terminal

    # Nothing changed: the content assets are skipped, and the table says so.
    again = run_cli("refresh", "payments", env=cli_env)
    assert again.returncode == 0, again.stderr
    skipped = [line.split()[0] for line in again.stdout.splitlines() if " skipped " in f" {line} "]
    assert {"content_chunks", "chunk_embeddings", "observed_facts"} <= set(skipped), again.stdout
    assert "skipped;" in again.stdout or "skipped," in again.stdout

    scripted = run_cli("refresh", "payments", "--json", env=cli_env)
    assert scripted.returncode == 0, scripted.stderr
    report = json.loads(scripted.stdout)["repositories"]
    assert [r["repository"] for r in report] == ["payments"] and report[0]["success"] is True
    assets = report[0]["assets"]
    assert assets["repository_snapshot"]["metadata"]["commit"] == repo.head()
    assert assets["content_chunks"]["state"] == "skipped" and assets["content_chunks"]["metadata"]["skipped"] is True
    assert assets["repository_snapshot"]["state"] == "done"

    # The three refreshes ran in other processes: Prometheus reads them from the Dagster instance.
    from fastapi.testclient import TestClient

    from repo_scoping_pipelines.api import create_app

    with TestClient(create_app(Settings())) as client:
        body = client.get("/metrics/prometheus").text
    assert 'repo_scoping_dagster_refresh_runs{status="success"} 3.0' in body, body[-3000:]
    assert 'repo_scoping_dagster_refresh_runs{status="failure"} 0.0' in body
    assert "repo_scoping_dagster_refresh_run_seconds_count 3.0" in body
    assert 'repo_scoping_dagster_materialized_partitions{asset="content_chunks"} 1.0' in body

    found = run_cli("search", "compute invoice total", "--repository", "payments", env=cli_env)
    assert found.returncode == 0, found.stderr
    assert "payments:payments/invoices.py:5-7  code/function compute_invoice_total" in found.stdout.splitlines()[0]

    health = run_cli("health", env=cli_env)
    report = json.loads(health.stdout)
    assert health.returncode == 0 and report["status"] == "ok", health.stdout
    assert report["dagster"]["partitions"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("register", "bad name!", "{repo}"), "invalid repository name"),
        (("register", "x", "{tmp}"), "not a git repository"),
        (("register", "x", "ext::sh -c id"), "git transport not allowed"),
        (("refresh", "unknown"), "not registered: unknown"),
    ],
)
def test_bad_input_is_one_clear_line(cli_env, make_repo, tmp_path, args, message):
    repo = make_repo("real")
    empty = tmp_path / "plain-dir"
    empty.mkdir()
    result = run_cli(*[a.format(repo=repo.path, tmp=empty) for a in args], env=cli_env)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_duplicate_registration_exits_non_zero(cli_env, make_repo):
    repo = make_repo("real")
    assert run_cli("register", "dup", str(repo.path), env=cli_env).returncode == 0
    again = run_cli("register", "dup", str(repo.path), env=cli_env)
    assert again.returncode == 2 and "already registered" in again.stderr


def test_bad_configuration_names_the_variable(cli_env):
    result = run_cli("health", env={**cli_env, "REPO_SCOPING_LOG_LEVEL": "LOUD"})
    assert result.returncode == 2 and "REPO_SCOPING_LOG_LEVEL" in result.stderr


def test_embedded_default_demo(make_repo):
    """No configuration at all: pgserver Postgres and a managed Milvus Lite server under REPO_SCOPING_HOME."""
    repo = make_repo("demo-src", SAMPLE_FILES)
    # pgserver runs Postgres as an unprivileged user when started as root: it needs a traversable home.
    home = Path(tempfile.mkdtemp(prefix="rsp-embedded-"))
    home.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_SCOPING_") and k != "DAGSTER_HOME"}
    env["REPO_SCOPING_HOME"] = str(home / "var")
    try:
        result = run_cli("demo", str(repo.path), "--name", "demo", "--query", "overdue invoices", env=env, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "== demo @" in result.stdout and f"{len(SAMPLE_FILES)} files" in result.stdout
        assert "TableMetadataValue" not in result.stdout  # typed previews stay in the Dagster UI
        assert "Python" in result.stdout
        assert "payments/invoices.py:19-20  method InvoiceRepository.find_overdue_invoices" in result.stdout
        # The demo ends by answering one question about what it indexed, with citations.
        assert "\nask " in result.stdout
        assert re.search(r"\[\d+\] demo payments/\S+:\d+(-\d+)? @ [0-9a-f]{12}", result.stdout), result.stdout[-2000:]
        assert (home / "var" / "pgdata" / "PG_VERSION").exists()
        settings = Settings(home=home / "var")
        assert running_milvus_server(settings) is not None  # shared by later processes
        # A second process reuses both servers and sees the data.
        listed = run_cli("list", env=env)
        assert listed.returncode == 0 and listed.stdout.startswith("demo\tlocal_path\tmain")
    finally:
        stop_milvus_server(Settings(home=home / "var"))
        shutil.rmtree(home, ignore_errors=True)


def test_serve_with_worker_processes(cli_env, make_repo):
    assert run_cli("register", "payments", str(make_repo("payments", SAMPLE_FILES).path), env=cli_env).returncode == 0
    port = free_port()
    server = subprocess.Popen([*CLI, "serve", "--port", str(port), "--workers", "2"], env=cli_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        answer = None
        for _ in range(120):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/repositories/payments", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        assert answer is not None and answer.status_code == 200, server.stderr
        assert answer.json()["name"] == "payments"
        workers = [p for p in psutil.Process(server.pid).children() if "spawn" in " ".join(p.cmdline())]
        assert len(workers) == 2
        # Each request on a new connection, so both workers serve some; every scrape, whichever
        # worker answers it, counts all of them.
        for _ in range(29):
            assert httpx.get(f"http://127.0.0.1:{port}/repositories/payments", timeout=10).status_code == 200
        line = 'repo_scoping_http_requests_total{method="GET",route="/repositories/{name}",status="200"}'
        for _ in range(4):
            scrape = httpx.get(f"http://127.0.0.1:{port}/metrics/prometheus", timeout=10).text
            assert f"{line} 30.0" in scrape.splitlines()
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_approve_then_refresh_publishes_the_ability_without_a_daemon(cli_env, make_repo, services):
    """No daemon runs the review sensor here: `refresh` itself republishes the approved registry."""
    from abilities_samples import SERVICE_FILES

    from repo_scoping_pipelines.storage import abilities as ability_store
    from repo_scoping_pipelines.storage import catalog

    repo = make_repo("invoicer", SERVICE_FILES)
    assert run_cli("register", "invoicer", str(repo.path), env=cli_env).returncode == 0
    first = run_cli("refresh", "invoicer", env=cli_env)
    assert first.returncode == 0, first.stderr
    repo_id = catalog.get_repository(services.engine, "invoicer").id
    candidate = next(c for c in ability_store.list_candidates(services.engine, repo_id) if c["status"] == "pending")
    approved = run_cli("review", "approve", candidate["candidate_id"], "--reviewer", "ada", env=cli_env)
    assert approved.returncode == 0, approved.stderr
    assert ability_store.repository_abilities(services.engine, repo_id) == []  # not published yet

    second = run_cli("refresh", "invoicer", env=cli_env)
    assert second.returncode == 0, second.stderr
    names = [a["name"] for a in ability_store.repository_abilities(services.engine, repo_id)]
    assert names == [candidate["name"]]
