"""Fuzz the read API from its own OpenAPI schema: every answer is a 2xx or a JSON 4xx, never a 500, and each
answer (status, content type, body) is one the schema documents."""

from __future__ import annotations

import dagster as dg
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from samples import SAMPLE_FILES
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.refresh import refresh_in_process


@pytest.fixture
def api_schema(settings, services, make_repo):
    register_repository(services, "payments", str(make_repo("payments", SAMPLE_FILES).path))
    with dg.instance_for_test() as instance:
        assert refresh_in_process(instance, "payments").success
    app = create_app(settings)
    # The read API: every GET. Writes (POST /uploads, /reviews) need the token and are tested directly.
    return schemathesis.openapi.from_asgi("/openapi.json", app).include(method="GET")


@schemathesis.deserializer("text/yaml")
def _yaml_stream(ctx, response):
    """/repositories/{name}/catalog-info.yaml is a stream of YAML documents (Backstage entities): its schema
    describes the list of the documents."""
    import yaml

    return list(yaml.safe_load_all(response.text))


# Responses only: the generated requests are valid by the schema, so the request-side checks
# (negative_data_rejection, positive_data_acceptance) are left to the explicit error tests in test_api.py.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_read_api_never_fails(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/health", "/repositories/{name}", "/search"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=20, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call_and_validate(checks=CHECKS)
            assert response.status_code < 500, (case.path, case.query, response.text[:500])
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["code"] and error["message"]

        fuzz()


# Known-good parameters, so that every read route's 200 answer is checked too (fuzzed names mostly find a 404).
KNOWN_PARAMETERS = {"name": "payments", "repository": "payments", "q": "invoice"}


def test_read_api_answers_match_the_schema(api_schema):
    from fastapi.testclient import TestClient

    with TestClient(api_schema.app) as client:
        candidates = client.get("/repositories/payments/candidates").json()["candidates"]
        conversation = client.post("/ask", json={"question": "invoice total", "repository": "payments"}).json()
        runs = client.get("/runs").json()["runs"]
        people = client.get("/people").json()["people"]
    known = {**KNOWN_PARAMETERS, "candidate_id": candidates[0]["candidate_id"] if candidates else "nope",
             "conversation_id": conversation["conversation_id"]}
    if runs:
        known["run_id"] = runs[0]["run_id"]
    if people:
        known["person_id"] = people[0]["person_id"]
    checked = set()
    for operation in [result.ok() for result in api_schema.get_all_operations()]:
        template = operation.path
        if "{run_id}" in template and "run_id" not in known:
            continue  # no run in this app's Dagster instance
        path = {p: known[p] for p in ("name", "candidate_id", "conversation_id", "run_id", "person_id")
                if "{" + p + "}" in template}
        query = {p: known[p] for p in ("repository", "q") if p in operation.query}
        case = operation.Case(path_parameters=path, query=query)
        response = case.call_and_validate(checks=CHECKS)
        if template != "/candidates/{candidate_id}" or candidates:
            assert response.status_code == 200, (template, response.text[:500])
        checked.add(template)
    assert {"/health", "/repositories", "/repositories/{name}", "/search", "/repositories/{name}/facts",
            "/repositories/{name}/graph", "/metrics/authors", "/metrics/shipped", "/abilities",
            "/conversations/{conversation_id}", "/runs", "/metrics/codeowners"} <= checked
