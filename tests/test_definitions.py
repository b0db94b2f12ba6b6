"""The code location loads, with the asset graph, checks, job, sensor and schedule we promise."""

from __future__ import annotations

import dagster as dg
import pytest

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.config import ConfigError, get_settings, load_settings
from repo_scoping_pipelines.definitions import defs, executor
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.sensors.registrations import repository_registrations


def test_definitions_load_with_lineage():
    keys = {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert {"repository_snapshot", "content_chunks", "chunk_embeddings"} <= keys
    graph = defs.resolve_asset_graph()
    assert dg.AssetKey("repository_snapshot") in graph.get(dg.AssetKey("content_chunks")).parent_keys
    assert dg.AssetKey("content_chunks") in graph.get(dg.AssetKey("chunk_embeddings")).parent_keys
    job = defs.resolve_job_def("refresh_repository")
    assert job.partitions_def.name == "repositories"
    assert defs.resolve_sensor_def("repository_registrations")
    assert defs.resolve_schedule_def("daily_refresh").cron_schedule == "0 2 * * *"
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {"inventory_matches_tree", "chunk_spans_valid", "vectors_match_chunks"} <= checks


def test_registration_sensor_adds_partitions_and_requests_runs(services, make_repo):
    repo = make_repo("svc")
    register_repository(services, "svc", str(repo.path))
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"repo_scoping": RepoScopingResource()})
        result = repository_registrations(context)
        assert [r.partition_key for r in result.run_requests] == ["svc"]
        (request,) = result.dynamic_partitions_requests
        assert list(request.partition_keys) == ["svc"]
        # Calling a sensor does not apply its partition requests; Dagster does. Apply, then tick again.
        instance.add_dynamic_partitions("repositories", ["svc"])
        again = repository_registrations(dg.build_sensor_context(
            instance=instance, resources={"repo_scoping": RepoScopingResource()}))
        assert isinstance(again, dg.SkipReason)


def test_executor_follows_the_setting(monkeypatch):
    assert executor().name == "in_process"  # the default: the run's own process
    monkeypatch.setenv("REPO_SCOPING_EXECUTOR", "multiprocess")
    get_settings.cache_clear()
    try:
        assert executor().name == "multiprocess"
        monkeypatch.setenv("REPO_SCOPING_EXECUTOR", "threads")
        with pytest.raises(ConfigError, match="EXECUTOR"):
            load_settings()
    finally:
        monkeypatch.delenv("REPO_SCOPING_EXECUTOR")
        get_settings.cache_clear()
