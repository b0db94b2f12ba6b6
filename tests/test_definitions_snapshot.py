"""The whole code location, snapshotted: every asset, check, job, sensor and schedule.

Definitions are loaded from the packages (no hand-kept lists), so an asset module that fails to
define what it should, a renamed check or a job that loses an asset shows up here as a diff.
After a deliberate change, rewrite the snapshot with UPDATE_DEFINITIONS_SNAPSHOT=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from repo_scoping_pipelines.definitions import OWNERS, STAGE_TAG, defs
from repo_scoping_pipelines.resources import RepoScopingResource

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.json"


def describe(definitions: dg.Definitions) -> dict:
    """A stable, JSON-able description of everything a code location serves."""
    graph = definitions.resolve_asset_graph()
    repo = definitions.get_repository_def()
    checks: dict[str, list[str]] = {}
    for key in graph.asset_check_keys:
        checks.setdefault(key.asset_key.to_user_string(), []).append(key.name)
    assets = {}
    for spec in definitions.resolve_all_asset_specs():
        key = spec.key.to_user_string()
        partitions = spec.partitions_def
        assets[key] = {
            "group": spec.group_name,
            "owners": sorted(spec.owners),
            "stage_tag": spec.tags.get(STAGE_TAG),
            "deps": sorted(d.asset_key.to_user_string() for d in spec.deps),
            "partitions": None if partitions is None else getattr(partitions, "name", None) or type(partitions).__name__,
            "checks": sorted(checks.get(key, [])),
        }
    jobs = {}
    for job in repo.get_all_jobs():
        if job.name.startswith("__"):
            continue  # Dagster's implicit asset job
        selected = job.asset_layer.selected_asset_keys if job.asset_layer else set()
        jobs[job.name] = {"assets": sorted(k.to_user_string() for k in selected),
                          "partitions": getattr(job.partitions_def, "name", None) or (
                              type(job.partitions_def).__name__ if job.partitions_def else None)}
    sensors = {s.name: {"jobs": sorted(t.job_name for t in s.targets),
                        "default_status": s.default_status.value} for s in repo.sensor_defs}
    schedules = {s.name: {"cron": s.cron_schedule, "timezone": s.execution_timezone, "job": s.job_name}
                 for s in repo.schedule_defs}
    return {"assets": dict(sorted(assets.items())), "jobs": dict(sorted(jobs.items())),
            "sensors": dict(sorted(sensors.items())), "schedules": dict(sorted(schedules.items()))}


def problems(expected: dict, current: dict) -> list[str]:
    """What differs between a snapshot and a code location, in words."""
    found = []
    for section in ("assets", "jobs", "sensors", "schedules"):
        missing = sorted(set(expected[section]) - set(current[section]))
        added = sorted(set(current[section]) - set(expected[section]))
        if missing:
            found.append(f"{section} lost from the code location: {missing}")
        if added:
            found.append(f"new {section} {added}: rerun with UPDATE_DEFINITIONS_SNAPSHOT=1 if meant")
        found += [f"{section} {name} changed: {shape} -> {current[section][name]}"
                  for name, shape in expected[section].items()
                  if name in current[section] and current[section][name] != shape]
    return found


def test_definitions_match_the_snapshot():
    current = describe(defs)
    if os.environ.get("UPDATE_DEFINITIONS_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert problems(json.loads(SNAPSHOT.read_text()), current) == []


def test_every_asset_has_the_owner_and_stage_tag_applied_once():
    for spec in defs.resolve_all_asset_specs():
        assert list(spec.owners) == OWNERS, spec.key
        assert spec.tags[STAGE_TAG] == spec.group_name, spec.key


def test_a_module_left_out_would_be_noticed():
    """The snapshot is a real guard: a code location missing one asset module fails it, by name."""
    from repo_scoping_pipelines.assets import abilities, collection, facts, metrics, trackers

    without_content = dg.Definitions.merge(
        dg.load_definitions_from_modules([collection, trackers, facts, metrics, abilities]),
        dg.Definitions(resources={"repo_scoping": RepoScopingResource()}))
    found = problems(json.loads(SNAPSHOT.read_text()), describe(without_content))
    assert any("chunk_embeddings" in p and "lost" in p for p in found), found


@pytest.mark.skipif(not shutil.which("dg", path=str(Path(sys.executable).parent)), reason="dagster-dg-cli not installed")
def test_dg_check_defs_passes_from_the_project_root():
    dg_cli = shutil.which("dg", path=str(Path(sys.executable).parent))
    done = subprocess.run([dg_cli, "check", "defs"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr
    listed = subprocess.run([dg_cli, "list", "defs", "--json"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert "repository_snapshot" in listed.stdout
