"""Fuzz the read API from its own OpenAPI schema: every answer is a 2xx or a JSON 4xx, never a 500."""

from __future__ import annotations

import dagster as dg
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from samples import SAMPLE_FILES

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.refresh import refresh_in_process
from repo_scoping_pipelines.registration import register_repository


@pytest.fixture
def api_schema(settings, services, make_repo):
    register_repository(services, "payments", str(make_repo("payments", SAMPLE_FILES).path))
    with dg.instance_for_test() as instance:
        assert refresh_in_process(instance, "payments").success
    app = create_app(settings)
    # The read API: every GET. Writes (POST /uploads, /reviews) need the token and are tested directly.
    return schemathesis.openapi.from_asgi("/openapi.json", app).include(method="GET")


def test_read_api_never_fails(api_schema):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/health", "/repositories/{name}", "/search"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=20, deadline=None, derandomize=True, database=None,
                             suppress_health_check=list(HealthCheck))
        def fuzz(case):
            response = case.call()
            assert response.status_code < 500, (case.path, case.query, response.text[:500])
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                error = response.json()["error"]
                assert error["code"] and error["message"]

        fuzz()
