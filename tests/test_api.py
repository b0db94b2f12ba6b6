"""The read API over a refreshed repository: contract shapes and JSON errors."""

from __future__ import annotations

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from samples import SAMPLE_FILES

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.refresh import refresh_in_process
from repo_scoping_pipelines.registration import register_repository


@pytest.fixture
def client(settings, services, make_repo):
    repo = make_repo("payments", SAMPLE_FILES)
    register_repository(services, "payments", str(repo.path))
    with dg.instance_for_test() as instance:
        assert refresh_in_process(instance, "payments").success
    with TestClient(create_app(settings)) as test_client:
        test_client.head_commit = repo.head()
        yield test_client


def test_repositories(client):
    listing = client.get("/repositories").json()["repositories"]
    assert [r["name"] for r in listing] == ["payments"]
    assert listing[0]["snapshot"]["commit"] == client.head_commit
    detail = client.get("/repositories/payments").json()
    assert detail["languages"]["Python"] == 21
    assert detail["chunks"]["function"] >= 3
    assert "source" not in detail  # a source URL may carry credentials


def test_search_contract(client):
    body = client.get("/search", params={"q": "find overdue invoices", "repository": "payments"}).json()
    top = body["results"][0]
    assert top["symbol"] == "InvoiceRepository.find_overdue_invoices"
    assert (top["start_line"], top["end_line"]) == (19, 20)
    assert top["repository"] == "payments" and top["path"] == "payments/invoices.py"
    assert isinstance(top["score"], float) and top["chunk_id"]
    limited = client.get("/search", params={"q": "invoice", "limit": 2, "mode": "keyword"}).json()["results"]
    assert len(limited) == 2


ERROR_CASES = [
    ("/repositories/nope", 404, "not_found"),
    ("/search?q=x&repository=nope", 404, "not_found"),
    ("/search", 400, "invalid_request"),
    ("/search?q=x&limit=0", 400, "invalid_request"),
    ("/search?q=x&limit=abc", 400, "invalid_request"),
    ("/search?q=x&mode=magic", 400, "invalid_request"),
    ("/no/such/route", 404, "not_found"),
]


def test_errors_are_json(client):
    for url, status, code in ERROR_CASES:
        response = client.get(url)
        assert response.status_code == status, url
        assert response.json()["error"]["code"] == code, url
        assert response.json()["error"]["message"], url


def test_health_ok(client):
    report = client.get("/health").json()
    assert report["status"] == "ok", report
    assert report["database"]["ok"] and report["database"]["repositories"] == 1
    assert report["milvus"]["ok"] and report["checkout_root"]["ok"] and report["dagster"]["ok"]


def test_openapi_lists_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/repositories", "/repositories/{name}", "/search"} <= set(paths)
