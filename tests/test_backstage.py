"""Backstage catalog-info.yaml of refreshed repositories: every entity validates against Backstage's own
catalog-model JSON schemas (vendored in tests/schemas/backstage) and says what it is from observed facts."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
import yaml
from abilities_samples import SERVICE_FILES
from click.testing import CliRunner
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator, ValidationError
from referencing import Registry, Resource

from repo_scoping_pipelines.abilities.pipeline import review_candidate
from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.cli import main as cli_main
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.exports.backstage import Inputs, build_entities, entity_name, owner_reference, tag
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.storage import abilities as ability_store
from repo_scoping_pipelines.storage import catalog as catalog_store
from repo_scoping_pipelines.storage import exports as export_store

SCHEMAS = Path(__file__).parent / "schemas" / "backstage"
NAME_RULE = r"^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$"
TAG_RULE = r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$"

CORELIB = {
    "README.md": "# corelib\n\nShared helpers.\n",
    "pyproject.toml": '[project]\nname = "acme-corelib"\nversion = "0.3.0"\ndependencies = ["attrs>=23"]\n',
    "acme_corelib/__init__.py": "def add(a, b):\n    return a + b\n",
}
INVOICER = {
    **SERVICE_FILES,
    "pyproject.toml": SERVICE_FILES["pyproject.toml"].replace('    "flask>=3.0",\n',
                                                              '    "flask>=3.0",\n    "acme-corelib>=0.3",\n'),
    ".github/CODEOWNERS": "# owners\n* @acme/invoicing-team\n/docs/ @ada\n",
}


def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def validate_entity(entity: dict) -> None:
    """Raises jsonschema.ValidationError unless the entity is valid for Backstage (schemas + name rules)."""
    registry = _registry()
    for schema_id in ("EntityEnvelope", "Entity", {"Component": "ComponentV1alpha1", "API": "ApiV1alpha1"}
                      [entity["kind"]]):
        Draft7Validator(registry.contents(schema_id), registry=registry).validate(entity)
    assert len(entity["metadata"]["name"]) <= 63
    Draft7Validator({"pattern": NAME_RULE}).validate(entity["metadata"]["name"])
    for value in entity["metadata"].get("tags", []):
        assert len(value) <= 63
        Draft7Validator({"pattern": TAG_RULE}).validate(value)


@pytest.fixture
def catalog(settings, services, make_repo):
    corelib = make_repo("corelib", CORELIB)
    invoicer = make_repo("invoicer", INVOICER)
    register_repository(services, "corelib", str(corelib.path))
    register_repository(services, "invoicer", str(invoicer.path))
    with dg.instance_for_test() as instance:
        outcomes = {name: refresh_in_process(instance, name) for name in ("corelib", "invoicer")}
        assert all(o.success for o in outcomes.values()), {n: o.error for n, o in outcomes.items()}
        with TestClient(create_app(settings)) as client:
            candidates = client.get("/repositories/invoicer/candidates").json()["candidates"]
            approved = next(c for c in candidates if c["key"] == "datastore:postgresql")
            review_candidate(services.engine, approved["candidate_id"], "approve", reviewer="ada", note="ok")
            ability_store.publish_registry(services.engine)
            client.invoicer, client.approved, client.outcomes, client.instance = invoicer, approved, outcomes, instance
            yield client


def _entities(client, name: str) -> list[dict]:
    response = client.get(f"/repositories/{name}/catalog-info.yaml")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/yaml")
    return list(yaml.safe_load_all(response.text))


def test_catalog_info_validates_and_is_derived_from_facts(catalog):
    component, api = _entities(catalog, "invoicer")
    for entity in (component, api):
        validate_entity(entity)
    assert (component["kind"], api["kind"]) == ("Component", "API")
    annotations = component["metadata"]["annotations"]
    assert component["metadata"]["name"] == "invoicer"
    assert component["spec"]["type"] == "service" and "HTTP routes" in annotations["repo-scoping.dev/type-reason"]
    assert component["spec"]["lifecycle"] == "production"
    assert "dockerfile Dockerfile:" in annotations["repo-scoping.dev/lifecycle-reason"]
    # The CODEOWNERS rule for the whole repository names the owner; /docs/ @ada does not.
    assert component["spec"]["owner"] == "group:invoicing-team"
    assert annotations["repo-scoping.dev/owner-source"].startswith("CODEOWNERS .github/CODEOWNERS:2")
    assert {"python", "flask", "click", "celery"} <= set(component["metadata"]["tags"])
    # acme-corelib is the package another registered repository declares.
    assert component["spec"]["dependsOn"] == ["component:corelib"]
    assert component["spec"]["providesApis"] == [f"api:{api['metadata']['name']}"] == ["api:invoicer-api"]
    assert annotations["repo-scoping.dev/commit"] == catalog.invoicer.head()
    abilities = json.loads(annotations["repo-scoping.dev/abilities"])
    assert [a["key"] for a in abilities] == ["datastore:postgresql"]  # approved only, not the pending ones
    assert api["spec"]["type"] == "openapi" and api["spec"]["owner"] == component["spec"]["owner"]
    assert json.loads(api["spec"]["definition"]) == catalog.get("/repositories/invoicer/openapi.json").json()
    assert component["metadata"]["links"][0]["url"].startswith("file://")


def test_a_library_without_owners_or_delivery_says_so(catalog):
    (component,) = _entities(catalog, "corelib")
    validate_entity(component)
    annotations = component["metadata"]["annotations"]
    assert component["spec"]["type"] == "library" and "providesApis" not in component["spec"]
    assert component["spec"]["lifecycle"] == "unknown" and "repo-scoping.dev/lifecycle-unknown" in annotations
    # No CODEOWNERS: the author with the most surviving lines (the test repositories' one author).
    assert component["spec"]["owner"] == "user:ada"
    assert annotations["repo-scoping.dev/owner-source"].startswith("history: Ada Lovelace <ada@example.com>")
    assert "dependsOn" not in component["spec"] and "repo-scoping.dev/abilities" not in annotations
    assert catalog.get("/repositories/nope/catalog-info.yaml").status_code == 404


def test_the_backstage_entities_asset_stores_the_document(catalog, services):
    meta = catalog.outcomes["invoicer"].assets["backstage_entities"]
    assert (meta["type"], meta["lifecycle"], meta["owner"]) == ("service", "production", "group:invoicing-team")
    assert meta["dagster/row_count"] == 2 and meta["depends_on"] == ["component:corelib"]
    assert catalog.outcomes["corelib"].assets["backstage_entities"]["unknown"] == ["lifecycle-unknown"]
    repository_id = catalog_store.get_repository(services.engine, "invoicer").id
    stored = export_store.load_document(services.engine, repository_id, "backstage")
    assert stored["commit_sha"] == catalog.invoicer.head() and stored["media_type"] == "text/yaml"
    component, api = yaml.safe_load_all(stored["content"])
    validate_entity(component), validate_entity(api)
    # Stored at refresh time, before the review: the approval shows on the next run (and live in the API).
    assert "repo-scoping.dev/abilities" not in component["metadata"]["annotations"]
    served, _ = _entities(catalog, "invoicer")
    assert served["spec"] == component["spec"]
    records = catalog.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey("backstage_entities"), "backstage_entities_are_valid")])
    (record,) = records.values()
    assert record.event.dagster_event.event_specific_data.passed is True


def test_cli_export_backstage(catalog, tmp_path):
    done = CliRunner().invoke(cli_main, ["export", "backstage", "--output-dir", str(tmp_path)])
    assert done.exit_code == 0, done.output
    for name in ("corelib", "invoicer"):
        written = (tmp_path / name / "catalog-info.yaml").read_text()
        assert written == catalog.get(f"/repositories/{name}/catalog-info.yaml").text
    printed = CliRunner().invoke(cli_main, ["export", "backstage", "corelib", "invoicer"])
    assert printed.exit_code == 0
    assert [e["kind"] for e in yaml.safe_load_all(printed.output)] == ["Component", "Component", "API"]
    missing = CliRunner().invoke(cli_main, ["export", "backstage", "nope"])
    assert missing.exit_code == 1 and "nope" in missing.output


def test_names_tags_owners_and_unknowns_follow_backstage_rules():
    assert entity_name("my repo/with spaces!!") == "my-repo-with-spaces"
    assert entity_name("--a__b..c--") == "a-b-c" and entity_name("a_b.c") == "a_b.c"
    assert entity_name("x" * 80) == "x" * 63 and entity_name("!!!") == "unnamed"
    assert (tag("C++"), tag("C#"), tag("Next.js"), tag("gorilla/mux"), tag("???")) == \
        ("c++", "c#", "next-js", "gorilla-mux", None)
    assert owner_reference("@acme/Team_A") == "group:Team_A"
    assert owner_reference("ada@example.com") == "user:ada" and owner_reference("@@developer") is None
    (component,) = build_entities(Inputs(repository="Odd Name!", source="git@github.com:acme/odd.git",
                                         commit=None, facts=[]))
    validate_entity(component)
    annotations = component["metadata"]["annotations"]
    assert component["metadata"]["name"] == "Odd-Name"
    assert annotations["repo-scoping.dev/name-mapping"].startswith("Odd Name! -> Odd-Name")
    assert component["spec"] == {"type": "other", "lifecycle": "unknown", "owner": "unknown"}
    assert {"repo-scoping.dev/owner-unknown", "repo-scoping.dev/type-unknown",
            "repo-scoping.dev/lifecycle-unknown"} <= set(annotations)
    assert annotations["backstage.io/source-location"] == "url:https://github.com/acme/odd"
    with pytest.raises(ValidationError):  # the validator rejects what Backstage rejects
        validate_entity({**component, "spec": {"type": "service"}})
