"""The read API over a refreshed repository: contract shapes and JSON errors."""

from __future__ import annotations

import dagster as dg
import pytest
from fastapi.testclient import TestClient
from samples import SAMPLE_FILES

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.refresh import refresh_in_process


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


def _untyped_objects(schema, where="") -> list[str]:
    """Places in a JSON schema that allow any object: {"type": "object"} without properties or item types."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" and not schema.get("properties") \
                and schema.get("additionalProperties", True) in (True, {}):
            found.append(where)
        for key, value in schema.items():
            found += _untyped_objects(value, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, value in enumerate(schema):
            found += _untyped_objects(value, f"{where}/{i}")
    return found


def test_openapi_names_every_response_shape(settings):
    schema = TestClient(create_app(settings)).get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "ErrorResponse" in components
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = [s for s in responses if s.startswith("2")]
            assert success, (method, path)
            for status in success:
                content = responses[status]["content"]
                if "application/json" not in content:  # a text endpoint (/metrics/prometheus)
                    assert all(media.startswith("text/") for media in content), (method, path)
                    continue
                ref = content["application/json"]["schema"].get("$ref", "")
                assert ref.startswith("#/components/schemas/"), (method, path, status)
                named = components[ref.rsplit("/", 1)[1]]
                assert named.get("properties"), (method, path, ref)
            assert "422" not in responses, (method, path)  # bad input is a 400 here, never a 422
            for status, response in responses.items():
                if status[0] in "45":
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
    assert _untyped_objects(components) == []


def test_fact_and_graph_answers_are_exactly_their_models(client):
    """These two answer without FastAPI's response check (their lists are long): nothing missing, nothing extra."""
    from repo_scoping_pipelines.api.models import FactList, Graph

    for url, model, items in (("/repositories/payments/facts", FactList, "facts"),
                              ("/repositories/payments/graph", Graph, "edges")):
        body = client.get(url).json()
        assert body[items], url
        assert model.model_validate(body).model_dump(mode="json") == body, url
