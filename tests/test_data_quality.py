"""great-expectations suites as asset checks: a clean refresh passes them, a corrupted row fails
its suite with the row named, and they run in their own job, never inside the refresh."""

from __future__ import annotations

import dagster as dg
import pytest
import sqlalchemy as sa
from samples import SAMPLE_FILES

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.definitions import defs
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.quality.suites import SUITES
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.sensors.quality import data_quality_after_changes
from repo_scoping_pipelines.storage.tables import content_chunks, facts


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _quality(instance) -> dict[str, dg.AssetCheckEvaluation]:
    result = defs.resolve_job_def("data_quality").execute_in_process(
        instance=instance, resources={"repo_scoping": RepoScopingResource()}, raise_on_error=False)
    assert result.success
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_suites_pass_on_a_refresh_and_name_a_corrupted_row(services, make_repo, instance):
    repo = make_repo("payments", SAMPLE_FILES)
    register_repository(services, "payments", str(repo.path))
    outcome = refresh_in_process(instance, "payments")
    assert outcome.success, outcome.error

    evaluations = _quality(instance)
    assert set(evaluations) == {s.check_name for s in SUITES}
    failed = {name: e.description for name, e in evaluations.items() if not e.passed}
    assert failed == {}
    chunks = evaluations["content_chunks_expectations"]
    assert chunks.metadata["rows"].value > 0
    assert chunks.metadata["gx_statistics"].value["evaluated_expectations"] == 6

    with services.engine.begin() as conn:
        chunk_id = conn.execute(sa.select(content_chunks.c.chunk_id).order_by(content_chunks.c.chunk_id)
                                .limit(1)).scalar_one()
        conn.execute(content_chunks.update().where(content_chunks.c.chunk_id == chunk_id)
                     .values(end_line=content_chunks.c.start_line - 1))
        fact_id = conn.execute(sa.select(facts.c.fact_id).order_by(facts.c.fact_id).limit(1)).scalar_one()
        conn.execute(facts.update().where(facts.c.fact_id == fact_id).values(confidence=1.5))

    evaluations = _quality(instance)
    chunks = evaluations["content_chunks_expectations"]
    assert not chunks.passed
    assert "end_line >= start_line: 1 row(s)" in chunks.description
    (named,) = chunks.metadata["failing_rows"].value
    assert named["rows"][0]["chunk_id"] == chunk_id
    fact_check = evaluations["facts_expectations"]
    assert not fact_check.passed
    assert fact_check.metadata["failing_rows"].value[0]["rows"][0]["fact_id"] == fact_id
    assert {e["expectation"] for e in fact_check.metadata["gx_expectations"].value if not e["success"]} == {
        "expect_column_values_to_be_between"}
    assert evaluations["files_expectations"].passed  # the other suites are untouched


def test_refresh_job_leaves_the_suites_to_their_own_job():
    def checks(job_name: str) -> set[str]:
        return {k.name for k in defs.resolve_job_def(job_name).asset_layer.asset_graph.asset_check_keys}

    gx_checks = {s.check_name for s in SUITES}
    assert not gx_checks & checks("refresh_repository")
    assert "chunk_spans_valid" in checks("refresh_repository")  # the cheap inline checks stay
    assert checks("data_quality") == gx_checks


def test_sensor_launches_quality_after_a_checked_asset_changes(instance):
    context = dg.build_sensor_context(instance=instance)
    assert isinstance(data_quality_after_changes(context), dg.SkipReason)
    instance.report_runless_asset_event(dg.AssetMaterialization("content_chunks", partition="payments"))
    context = dg.build_sensor_context(instance=instance)
    request = data_quality_after_changes(context)
    assert isinstance(request, dg.RunRequest) and request.tags["repo_scoping/changed"] == "content_chunks"
    again = dg.build_sensor_context(instance=instance, cursor=context.cursor)
    assert isinstance(data_quality_after_changes(again), dg.SkipReason)


def test_previews_carry_a_typed_table_built_with_pandas():
    from repo_scoping_pipelines.assets._metadata import preview

    meta = preview(["kind", "subject", "lines", "confidence"], [("route", "POST /items", 8, 0.9), ("dependency", "x", 3, None)])
    assert "| route | POST /items | 8 | 0.9 |" in meta["preview"].value
    table = meta["preview_table"]
    assert [(c.name, c.type) for c in table.schema.columns] == [
        ("kind", "string"), ("subject", "string"), ("lines", "int"), ("confidence", "float")]
    assert table.records[1].data == {"kind": "dependency", "subject": "x", "lines": 3, "confidence": None}
