"""Faults in the stores: Postgres stopped mid-refresh, Milvus unavailable."""

from __future__ import annotations

import threading
import time

import dagster as dg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from faults import ThrowawayPostgres, big_repo_files, count_rows, row_sets, wait_for
from samples import SAMPLE_FILES

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.config import Settings, get_settings
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.search.query import search
from repo_scoping_pipelines.services import close_all, open_services
from repo_scoping_pipelines.storage.db import IDLE_PING_S
from repo_scoping_pipelines.storage.tables import content_chunks


@pytest.fixture
def throwaway_pg():
    pg = ThrowawayPostgres()
    pg.start()
    yield pg
    close_all()
    pg.destroy()


def test_postgres_stopped_mid_refresh(throwaway_pg, tmp_path, monkeypatch, make_repo):
    values = {"home": str(tmp_path / "var"), "database_url": throwaway_pg.url,
              "milvus_uri": str(tmp_path / "milvus.db")}
    for key, value in values.items():
        monkeypatch.setenv(f"REPO_SCOPING_{key.upper()}", value)
    get_settings.cache_clear()
    settings = Settings(**values)
    services = open_services(settings)
    files = big_repo_files(modules=60)
    register_repository(services, "victim", str(make_repo("victim", files).path))
    register_repository(services, "twin", str(make_repo("twin", files).path))

    with dg.instance_for_test() as instance:
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.update(run=refresh_in_process(instance, "victim")))
        worker.start()
        wait_for(lambda: count_rows(services.engine, content_chunks) > 0 or not worker.is_alive())
        throwaway_pg.stop("immediate")  # the server dies under the run
        worker.join(timeout=180)
        failed = outcome["run"]
        assert not failed.success
        assert "database unavailable" in failed.error, failed.error

        throwaway_pg.start()
        services.engine.dispose()
        again = refresh_in_process(instance, "victim")
        assert again.success, again.error
        clean = refresh_in_process(instance, "twin")
        assert clean.success, clean.error
    recovered, reference = row_sets(services.engine, "victim"), row_sets(services.engine, "twin")
    assert recovered == reference  # nothing half-written survived, nothing duplicated
    assert reference["vectors"] == len(reference["chunks"]) > 500
    assert services.vectors.count(services.collection, "victim") == len(reference["chunks"])


def test_milvus_unavailable_search_falls_back_then_catches_up(settings, monkeypatch, make_repo):
    dead = "http://127.0.0.1:9"  # nothing listens there: connections are refused at once
    monkeypatch.setenv("REPO_SCOPING_MILVUS_URI", dead)
    get_settings.cache_clear()
    down = settings.model_copy(update={"milvus_uri": dead})
    services = open_services(down)
    register_repository(services, "payments", str(make_repo("payments", SAMPLE_FILES).path))

    with dg.instance_for_test() as instance:
        first = refresh_in_process(instance, "payments")
        assert not first.success and "chunk_embeddings" in first.error
        assert first.assets["content_chunks"]["dagster/row_count"] > 0  # Postgres side done

        with TestClient(create_app(down)) as client:
            body = client.get("/search", params={"q": "compute invoice total with tax"}).json()
        assert body["fallback"] == "postgres_keyword" and "unavailable" in body["notice"]
        top = body["results"][0]
        assert (top["path"], top["symbol"], top["start_line"], top["end_line"]) == \
            ("payments/invoices.py", "compute_invoice_total", 5, 7)
        assert set(top) >= {"repository", "path", "start_line", "end_line", "kind", "symbol", "score",
                            "chunk_id", "snippet"}
        health = create_app(down)
        with TestClient(health) as client:
            report = client.get("/health").json()
        assert report["status"] == "degraded" and not report["milvus"]["ok"] and report["database"]["ok"]

        # Milvus is back: the next run embeds what the failed one could not.
        monkeypatch.setenv("REPO_SCOPING_MILVUS_URI", settings.milvus_uri)
        get_settings.cache_clear()
        second = refresh_in_process(instance, "payments")
        assert second.success, second.error
        chunks = second.assets["content_chunks"]["dagster/row_count"]
        assert second.assets["chunk_embeddings"]["embedded"] == chunks
    up = open_services(settings)
    result = search(up, "compute invoice total with tax", repository="payments")
    assert result.fallback is None and result.results[0]["symbol"] == "compute_invoice_total"


def test_api_replaces_connections_dropped_while_idle(settings, services, make_repo):
    """The read API pings a pooled connection only after it sat idle; one the server dropped
    meanwhile (a Postgres restart, an idle timeout in between) is replaced, not served as an error."""
    register_repository(services, "payments", str(make_repo("payments", SAMPLE_FILES).path))
    with TestClient(create_app(settings)) as client:
        assert client.get("/repositories/payments").status_code == 200
        with services.engine.connect() as conn:
            dropped = conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        assert dropped >= 1  # the reader pool's connection(s)
        time.sleep(IDLE_PING_S + 0.2)
        answer = client.get("/repositories/payments")
        assert answer.status_code == 200, answer.text
        assert answer.json()["name"] == "payments"
