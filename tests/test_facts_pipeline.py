"""User story: observed_facts and dependency_graph through Dagster (incremental, checked, robust to
broken files) and through the read API."""

from __future__ import annotations

import logging

import dagster as dg
import pytest
from facts_helpers import by_subject, facts, observe, table
from fastapi.testclient import TestClient

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.assets.collection import repository_snapshot
from repo_scoping_pipelines.assets.facts import dependency_graph, observed_facts
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.operations.refresh import ensure_partitions
from repo_scoping_pipelines.resources import RepoScopingResource

APP = """from flask import Flask

from .store import save

app = Flask(__name__)


@app.route("/items", methods=["POST"])
def create_item():
    return save()
"""
FILES = {
    "pyproject.toml": '[project]\nname = "items"\ndependencies = ["flask>=3"]\n',
    "items/__init__.py": "",
    "items/app.py": APP,
    "items/store.py": "def save():\n    return 'saved'\n",
    "items/legacy.py": "import os\n",
    "README.md": "# Items\n\n## Run\n",
}


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def materialize(instance, name: str) -> tuple[dict, dict]:
    """Run the facts stage (with the snapshot it reads) for one repository: (metadata, check results)."""
    ensure_partitions(instance, [name])
    result = dg.materialize([repository_snapshot, observed_facts, dependency_graph], partition_key=name,
                            instance=instance, resources={"repo_scoping": RepoScopingResource()},
                            raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    metadata = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        metadata[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    return metadata, checks


def test_incremental_refresh_reextracts_only_changed_files(services, make_repo, instance):
    repo = make_repo("items", FILES)
    register_repository(services, "items", str(repo.path))

    first, checks = materialize(instance, "items")
    assert checks == {"inventory_matches_tree": True, "evidence_exists": True, "keys_not_empty": True,
                      "values_in_range": True, "edges_resolve": True, "graph_values_in_range": True}
    meta = first["observed_facts"]
    assert meta["files_extracted"] == 6 and meta["files_unchanged"] == 0
    assert meta["facts/route"] == 1 and meta["facts/dependency"] == 1
    assert meta["dagster/row_count"] == sum(meta["facts_by_kind"].values()) == meta["facts_added"]
    assert "| route | POST /items | items/app.py:8 |" in meta["preview"]
    graph = first["dependency_graph"]
    assert (graph["internal_nodes"], graph["edges/internal"], graph["files_extracted"]) == (4, 1, 0)

    again, checks = materialize(instance, "items")
    meta = again["observed_facts"]
    # Same commit: the skip gate does no work (the snapshot's data version is unchanged) and carries
    # the check results over; dependency_graph skips in turn.
    assert meta["skipped"] is True and meta["changed"] is False and all(checks.values())
    assert again["dependency_graph"]["skipped"] is True

    # One file changes (a second route), one disappears: only the changed file is read again.
    repo.commit({"items/app.py": APP + '\n\n@app.get("/items/<int:item_id>")\ndef get_item(item_id):\n'
                                       "    return save()\n"}, "add route", remove=["items/legacy.py"])
    changed, checks = materialize(instance, "items")
    meta = changed["observed_facts"]
    assert (meta["files_extracted"], meta["files_unchanged"], meta["files_removed"]) == (1, 4, 1)
    assert all(checks.values())
    assert table(services, "items", "route") == {("POST /items", "items/app.py", 8),
                                                 ("GET /items/<int:item_id>", "items/app.py", 13)}
    commits = {r["commit"] for r in TestClient(create_app(services.settings)).get(
        "/repositories/items/facts").json()["facts"]}
    assert commits == {repo.head()}  # every fact points at the latest snapshot, unchanged or not
    assert changed["dependency_graph"]["internal_nodes"] == 3


def test_broken_files_are_skipped_with_warnings(services, make_repo, instance):
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    ops = logging.getLogger("repo_scoping.operations")
    handler = Collect(level=logging.WARNING)
    ops.addHandler(handler)
    try:
        repo = make_repo("broken", {
            "pyproject.toml": '[project\nname = "broken"\n',
            "package.json": '{"name": "web", "dependencies": {',
            "pom.xml": "<project><dependencies></project>\n",
            "requirements.txt": "caf\xe9==1.0\n".encode("latin-1"),
            "composer.json": b'{"name": "x"}\x00\x00\x00',
            "web/huge.js": "// generated\n" + "let x = 1;\n" * 120_000,
            ".github/workflows/ci.yml": "jobs: [unclosed\n",
            "Cargo.toml": '[package]\nname = "fine"\n\n[dependencies]\nserde = "1"\n',
        })
        register_repository(services, "broken", str(repo.path))
        metadata, checks = materialize(instance, "broken")
    finally:
        ops.removeHandler(handler)

    meta = metadata["observed_facts"]
    warnings = meta["warning_list"]
    assert meta["warnings"] == 7, warnings
    expected = {
        "pyproject.toml": "malformed TOML", "package.json": "malformed JSON", "pom.xml": "malformed XML",
        "requirements.txt": "unknown encoding", "composer.json": "binary file", "web/huge.js": "larger than",
        ".github/workflows/ci.yml": "malformed YAML",
    }
    for path, words in expected.items():
        assert any(w.startswith(f"{path}: ") and words in w for w in warnings), (path, warnings)
    logged = {getattr(r, "path", None) for r in records if r.getMessage() == "facts.file_skipped"}
    assert logged == set(expected)
    # Everything else is still extracted, and every check passes.
    assert table(services, "broken", "dependency") == {("serde", "Cargo.toml", 5)}
    assert all(checks.values()), checks


def test_facts_and_graph_api(services, make_repo):
    observe(services, make_repo, "items", FILES)
    from facts_helpers import graph_of

    graph_of(services, "items")
    client = TestClient(create_app(services.settings))

    body = client.get("/repositories/items/facts", params={"kind": "route"}).json()
    assert body["total"] == 1
    assert body["facts"] == [{
        "kind": "route", "subject": "POST /items",
        "value": {"method": "POST", "path": "/items", "handler": "create_item", "framework": "Flask"},
        "evidence": {"path": "items/app.py", "line": 8}, "confidence": 0.9,
        "commit": body["facts"][0]["commit"]}]
    everything = client.get("/repositories/items/facts").json()
    assert {f["kind"] for f in everything["facts"]} >= {"route", "dependency", "manifest", "framework", "language",
                                                        "documentation"}
    assert len(everything["facts"]) == everything["total"]

    bad = client.get("/repositories/items/facts", params={"kind": "nonsense"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"
    missing = client.get("/repositories/nope/facts")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert client.get("/repositories/nope/graph").status_code == 404

    graph = client.get("/repositories/items/graph").json()
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert nodes["items/store.py"]["rank"] == 1 and nodes["items/store.py"]["in_degree"] == 1
    assert nodes["python:flask"]["internal"] is False
    assert {"source": "items/app.py", "target": "items/store.py", "kind": "internal", "count": 1,
            "evidence": {"path": "items/app.py", "line": 3}} in graph["edges"]
    internal = client.get("/repositories/items/graph", params={"internal_only": True}).json()
    assert {n["internal"] for n in internal["nodes"]} == {True}
    assert [e["kind"] for e in internal["edges"]] == ["internal"]


def test_unchanged_snapshot_extracts_nothing_and_keeps_facts(services, make_repo):
    _, first = observe(services, make_repo, "same", FILES)
    from repo_scoping_pipelines.facts.pipeline import observe_repository

    again = observe_repository(services, "same")
    assert (again.sync.extracted, again.sync.cached, again.added, again.removed) == (0, 6, 0, 0)
    assert again.by_kind == first.by_kind
    assert by_subject(services, "same", "framework")["Flask"]["line"] == 3
    full = observe_repository(services, "same", full=True)  # the weekly full refresh re-reads everything
    assert (full.sync.extracted, full.added, full.removed) == (6, 0, 0)
    assert len(facts(services, "same")) == sum(first.by_kind.values())


def test_refresh_job_materializes_the_facts_stage():
    """`repo-scoping refresh` (the refresh_repository job) includes both facts assets, with their checks."""
    from repo_scoping_pipelines.definitions import defs

    job = defs.resolve_job_def("refresh_repository")
    keys = {k.to_user_string() for k in job.asset_layer.selected_asset_keys}
    assert {"observed_facts", "dependency_graph"} <= keys
    checks = {k.name for k in job.asset_layer.asset_graph.asset_check_keys if k.asset_key.to_user_string()
              in ("observed_facts", "dependency_graph")}
    assert checks == {"evidence_exists", "keys_not_empty", "values_in_range", "edges_resolve", "graph_values_in_range"}
