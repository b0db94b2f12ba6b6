"""Operations: health when stores are down, JSON logs with secrets redacted, Prometheus metrics,
backup / restore round trip, maintenance, and the outbound-traffic policy."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import uuid

import dagster as dg
import pytest
import sqlalchemy as sa
from conftest import _admin_engine, _db_url
from fastapi.testclient import TestClient
from pydantic import SecretStr
from samples import SAMPLE_FILES

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.git import SourceError, resolve_source
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.operations.backup import BackupError, backup, maintenance, restore
from repo_scoping_pipelines.operations.health import health_report
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.safety.egress import EgressError, check_url
from repo_scoping_pipelines.search.query import search_code
from repo_scoping_pipelines.services import close_all, open_services
from repo_scoping_pipelines.storage.chunks import index_generation
from repo_scoping_pipelines.storage.operations import table_row_counts


def test_health_is_degraded_not_a_crash_when_postgres_is_down(settings):
    down = settings.model_copy(update={"database_url": SecretStr("postgresql://postgres@127.0.0.1:9/none")})
    report = health_report(down, open_services)
    assert report["status"] == "degraded"
    assert not report["database"]["ok"] and "latency_ms" in report["database"]
    assert report["checkout_root"]["ok"] and not report["milvus"]["ok"]
    with TestClient(create_app(down)) as client:
        response = client.get("/health")
        assert response.status_code == 200 and response.json()["status"] == "degraded"
        searched = client.get("/search", params={"q": "x"})
        assert searched.status_code == 503 and searched.json()["error"]["code"] == "database_unavailable"


def test_health_configuration_checks(settings, services):
    risky = settings.model_copy(update={"api_token": SecretStr("changeme"), "redmine_url": "http://tracker.corp",
                                        "github_token": SecretStr("your-token-here")})
    services.engine  # noqa: B018
    register_repository(open_services(risky), "plain", "http://localhost:9/plain.git")
    report = health_report(risky, open_services)
    checks = {(i["check"], i.get("variable")) for i in report["configuration"]["issues"]}
    assert ("placeholder_secret", "REPO_SCOPING_API_TOKEN") in checks
    assert ("placeholder_secret", "REPO_SCOPING_GITHUB_TOKEN") in checks
    assert ("remote", "REPO_SCOPING_REDMINE_URL") in checks
    assert report["status"] == "degraded"
    assert set(report["guardrails"]["counters"]) >= {"prompt_injection", "ungrounded_claim", "schema_violation",
                                                     "unsafe_content"}
    assert "changeme" not in json.dumps(report)


def test_json_logs_redact_secrets(settings):
    secret = "op-token-" + uuid.uuid4().hex
    ops_log.configure(settings.model_copy(update={"api_token": SecretStr(secret)}))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ops_log.JsonFormatter())
    ops_log.log.addHandler(handler)
    try:
        ops_log.event("registration", repository="r", source=f"https://bob:{secret}@example.com/r.git",
                      note=f"Authorization: Bearer {secret}", nested={"key": secret}, github="ghp_" + "a" * 36)
        ops_log.log.error("failure with %s", secret)
    finally:
        ops_log.log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["registration", f"failure with {'***'}"]
    assert lines[0]["repository"] == "r" and lines[0]["level"] == "INFO" and lines[0]["logger"] == ops_log.LOGGER_NAME
    assert secret not in stream.getvalue() and "ghp_aaaa" not in stream.getvalue()


def test_log_level_and_cli_log_file(settings, tmp_path):
    env = {k: v for k, v in __import__("os").environ.items()}
    env.update(REPO_SCOPING_LOG_LEVEL="debug", REPO_SCOPING_LOG_FILE=str(tmp_path / "ops.jsonl"))
    result = subprocess.run([sys.executable, "-m", "repo_scoping_pipelines.cli", "register", "bad", "/nonexistent"],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: ")
    events = [json.loads(line) for line in (tmp_path / "ops.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "registration.refused" and events[-1]["repository"] == "bad"


@pytest.fixture
def refreshed(settings, services, make_repo):
    register_repository(services, "payments", str(make_repo("payments", SAMPLE_FILES).path))
    with dg.instance_for_test() as instance:
        assert refresh_in_process(instance, "payments").success
    return services


def test_prometheus_metrics(settings, refreshed):
    with TestClient(create_app(settings)) as client:
        assert client.get("/repositories/payments").status_code == 200
        assert client.get("/repositories/nope").status_code == 404
        assert client.get("/search", params={"q": "invoice total"}).status_code == 200
        text = client.get("/metrics/prometheus")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    body = text.text
    assert 'repo_scoping_http_requests_total{method="GET",route="/repositories/{name}",status="200"}' in body
    assert 'route="/repositories/{name}",status="404"' in body
    assert "repo_scoping_http_request_duration_seconds_bucket" in body
    assert 'repo_scoping_search_duration_seconds_count{backend="milvus",mode="hybrid"}' in body
    assert 'repo_scoping_materialized_rows_total{asset="content_chunks"}' in body
    assert 'repo_scoping_guardrail_events{counter="prompt_injection"}' in body
    assert 'repo_scoping_stored_rows{table="content_chunks"}' in body


def test_backup_restore_round_trip(settings, refreshed, tmp_path):
    services = refreshed
    before_counts = table_row_counts(services.engine)
    before = [(h["chunk_id"], h["score"]) for h in search_code(services, "compute invoice total", limit=5)]
    manifest = backup(services, tmp_path / "backup")
    assert manifest["row_counts"] == before_counts and manifest["versions"]["migrations"]
    assert (tmp_path / "backup" / "repo_scoping.dump").stat().st_size > 0

    # Restore into another, empty database with an empty Milvus.
    name = f"rsp_restore_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        target = settings.model_copy(update={"database_url": SecretStr(_db_url(name)),
                                             "milvus_uri": str(tmp_path / "restored-milvus.db"),
                                             "home": tmp_path / "restored-home"})
        fresh = open_services(target)
        with pytest.raises(BackupError, match="--force"):
            restore(fresh, tmp_path / "backup", force=False)
        report = restore(fresh, tmp_path / "backup", force=True)
        assert report["row_counts"] == before_counts
        # The backup carried the source's generation token; the restore must not reuse it, or a
        # search cached under that token elsewhere could be served for the rebuilt collection.
        assert index_generation(fresh.reader, fresh.collection) not in ("", index_generation(
            services.reader, services.collection))
        after = [(h["chunk_id"], h["score"]) for h in search_code(fresh, "compute invoice total", limit=5)]
        assert after == before
        done = maintenance(fresh)
        assert "content_chunks" in done["vacuumed"] and "error" not in done["milvus"]
    finally:
        close_all()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_outbound_policy(settings):
    allowed = settings.model_copy(update={"allowed_hosts": "github.com,api.openai.com"})
    assert check_url("https://api.openai.com/v1", allowed, "llm")
    assert check_url("http://localhost:11434/v1", allowed, "llm")  # localhost: development
    for url, message in [("https://evil.example/v1", "not in REPO_SCOPING_ALLOWED_HOSTS"),
                         ("http://github.com/x", "plain http"), ("file:///etc/passwd", "scheme")]:
        with pytest.raises(EgressError, match=message):
            check_url(url, allowed, "test")
    for source, message in [("ext::sh -c id", "transport not allowed"), ("file:///etc", "scheme"),
                            ("https://evil.example/r.git", "ALLOWED_HOSTS"), ("git@evil.example:r.git", "ALLOWED_HOSTS")]:
        with pytest.raises(SourceError, match=message):
            resolve_source(source, allowed)
    assert resolve_source("https://github.com/o/r.git", allowed).kind == "git_url"
