"""Exports of a refreshed repository: the CycloneDX SBOM of its manifests and the OpenAPI document of its
discovered routes, each validated by its format's own validator and equal to the stored facts."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from click.testing import CliRunner
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from fastapi.testclient import TestClient
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.cli import main as cli_main
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.exports.openapi import build_openapi, normalise_path
from repo_scoping_pipelines.exports.sbom import build_sbom, pinned_version
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import exports as export_store

SHOP = {
    "README.md": "# Shop\n\nSells things.\n",
    "pyproject.toml": (
        "[build-system]\n"
        'requires = ["setuptools>=69"]\n'
        "\n"
        "[project]\n"
        'name = "shop"\n'
        'version = "1.0.0"\n'
        "dependencies = [\n"
        '    "flask>=3.0",\n'
        '    "fastapi==0.110.0",\n'
        "]\n"
        "\n"
        "[project.optional-dependencies]\n"
        'test = ["pytest>=8"]\n'
    ),
    "requirements.txt": "requests==2.31.0\nPyYAML>=6  # config files\n",
    "web/package.json": json.dumps({
        "name": "shop-web", "version": "0.1.0",
        "dependencies": {"express": "4.18.2", "@scope/client": "^1.2.0"},
        "devDependencies": {"jest": "~29.0.0"},
    }, indent=2) + "\n",
    "shop/__init__.py": "",
    "shop/web.py": (
        "from flask import Flask\n"
        "\n"
        "app = Flask(__name__)\n"
        "\n"
        "\n"
        '@app.route("/users/<int:user_id>", methods=["GET", "DELETE"])\n'
        "def user(user_id):\n"
        "    return str(user_id)\n"
        "\n"
        "\n"
        '@app.get("/health")\n'
        "def health():\n"
        '    return "ok"\n'
    ),
    "shop/api.py": (
        "from fastapi import APIRouter\n"
        "\n"
        'router = APIRouter(prefix="/api")\n'
        "\n"
        "\n"
        '@router.get("/items/{item_id}")\n'
        "def read_item(item_id: int):\n"
        "    return {}\n"
        "\n"
        "\n"
        '@router.post("/items")\n'
        "def create_item():\n"
        "    return {}\n"
    ),
    "web/server.js": (
        "const express = require('express');\n"
        "const app = express();\n"
        "\n"
        "app.get('/orders/:orderId', function showOrder(req, res) { res.send('order'); });\n"
    ),
}

# (purl, CycloneDX scope, manifest) of every dependency the manifests above declare.
EXPECTED_COMPONENTS = {
    ("pkg:pypi/setuptools", "excluded", "pyproject.toml"),
    ("pkg:pypi/flask", "required", "pyproject.toml"),
    ("pkg:pypi/fastapi@0.110.0", "required", "pyproject.toml"),
    ("pkg:pypi/pytest", "excluded", "pyproject.toml"),
    ("pkg:pypi/requests@2.31.0", "required", "requirements.txt"),
    ("pkg:pypi/pyyaml", "required", "requirements.txt"),
    ("pkg:npm/express@4.18.2", "required", "web/package.json"),
    ("pkg:npm/%40scope/client", "required", "web/package.json"),
    ("pkg:npm/jest", "excluded", "web/package.json"),
}
EXPECTED_OPERATIONS = {
    ("get", "/users/{user_id}"), ("delete", "/users/{user_id}"), ("get", "/health"),
    ("get", "/api/items/{item_id}"), ("post", "/api/items"), ("get", "/orders/{orderId}"),
}


@pytest.fixture
def exported(settings, services, make_repo):
    shop = make_repo("shop", SHOP)
    bare = make_repo("bare", {"README.md": "# Notes\n\nNothing to build here.\n"})
    register_repository(services, "shop", str(shop.path))
    register_repository(services, "bare", str(bare.path))
    with dg.instance_for_test() as instance:
        outcomes = {name: refresh_in_process(instance, name) for name in ("shop", "bare")}
        assert all(o.success for o in outcomes.values()), {n: o.error for n, o in outcomes.items()}
        with TestClient(create_app(settings)) as client:
            client.outcomes, client.instance, client.shop = outcomes, instance, shop
            yield client


def _facts(client, name: str, kind: str) -> list[dict]:
    body = client.get(f"/repositories/{name}/facts", params={"kind": kind}).json()
    return body["facts"]


def _props(component: dict) -> dict[str, str]:
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def test_sbom_validates_and_lists_exactly_the_dependency_facts(exported):
    response = exported.get("/repositories/shop/sbom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.cyclonedx+json")
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(response.text) is None
    bom = response.json()
    assert (bom["bomFormat"], bom["specVersion"]) == ("CycloneDX", "1.6")

    facts = {f["evidence"]["path"] + ":" + str(f["evidence"]["line"]) + " " + f["subject"]: f
             for f in _facts(exported, "shop", "dependency")}
    components = bom["components"]
    assert len(components) == len(facts) == len(EXPECTED_COMPONENTS)
    seen = set()
    for component in components:
        props = _props(component)
        (occurrence,) = component["evidence"]["occurrences"]
        name = (component["group"] + "/" if component.get("group") else "") + component["name"]
        key = f"{occurrence['location']}:{occurrence['line']} {name}"
        fact = facts[key]  # every component is one stored fact, at the fact's manifest path and line
        assert props["repo-scoping:manifest"] == fact["evidence"]["path"] == fact["value"]["manifest"]
        assert props["repo-scoping:version-constraint"] == fact["value"]["constraint"]
        assert props["repo-scoping:scope"] == fact["value"]["scope"]
        seen.add(key)
    assert seen == set(facts)
    assert {(c["purl"], c["scope"], _props(c)["repo-scoping:manifest"]) for c in components} == EXPECTED_COMPONENTS
    flask = next(c for c in components if c["name"] == "flask")
    assert "version" not in flask  # a range is not a version: the constraint is kept as a property
    assert "resolved version is not observed" in _props(flask)["repo-scoping:unknown"]
    # The root lists the declared dependencies; their own dependencies are left unknown (no entries).
    (root,) = bom["dependencies"]
    assert root["ref"] == bom["metadata"]["component"]["bom-ref"]
    assert set(root["dependsOn"]) == {c["bom-ref"] for c in components}
    meta = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    assert meta["repo-scoping:commit"] == exported.shop.head() == bom["metadata"]["component"]["version"]
    assert meta["repo-scoping:manifests"] == "3"

    # The Dagster asset stored the same document and its check passed.
    materialized = exported.outcomes["shop"].assets["repository_sbom"]
    assert materialized["dagster/row_count"] == len(components)
    stored = export_store.load_document(_engine(exported), _repo_id(exported, "shop"), "sbom")
    assert stored["content"] == response.text and stored["commit_sha"] == exported.shop.head()
    _assert_check_passed(exported.instance, "repository_sbom", "sbom_lists_dependency_facts")


def _assert_check_passed(instance, asset: str, check: str) -> None:
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(asset), check)])
    (record,) = records.values()
    assert record.event.dagster_event.event_specific_data.passed is True, (asset, check)


def _engine(client):
    from repo_scoping_pipelines.services import open_services

    return open_services(client.app.state.settings).engine


def _repo_id(client, name: str) -> int:
    return catalog.get_repository(_engine(client), name).id


def test_openapi_validates_and_its_paths_are_the_route_facts(exported):
    response = exported.get("/repositories/shop/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    routes = _facts(exported, "shop", "route")
    assert set(document["paths"]) == {normalise_path(r["value"]["path"])[0] for r in routes}
    operations = {(method, path) for path, item in document["paths"].items() for method in item
                  if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace")}
    assert operations == EXPECTED_OPERATIONS
    for route in routes:  # each operation cites its fact's file and line
        template = normalise_path(route["value"]["path"])[0]
        operation = document["paths"][template][route["value"]["method"].lower()]
        assert f"{route['evidence']['path']}:{route['evidence']['line']}" in operation["description"]
    user = document["paths"]["/users/{user_id}"]
    assert user["parameters"] == [{"name": "user_id", "in": "path", "required": True,
                                   "schema": {"type": "integer"}}]
    assert document["paths"]["/orders/{orderId}"]["parameters"][0]["name"] == "orderId"
    assert "responses" not in user["get"]  # not observed in code, so not invented
    assert document["info"]["version"] == exported.shop.head()
    stored = export_store.load_document(_engine(exported), _repo_id(exported, "shop"), "openapi")
    assert stored["content"] == response.text
    assert exported.outcomes["shop"].assets["repository_openapi"]["dagster/row_count"] == len(EXPECTED_OPERATIONS)
    _assert_check_passed(exported.instance, "repository_openapi", "openapi_paths_match_routes")


def test_a_repository_with_nothing_gets_valid_minimal_documents(exported):
    sbom = exported.get("/repositories/bare/sbom")
    assert sbom.status_code == 200
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(sbom.text) is None
    bom = sbom.json()
    assert bom.get("components", []) == [] and "dependencies" not in bom  # no invented "depends on nothing"
    meta = [p["value"] for p in bom["metadata"]["properties"] if p["name"] == "repo-scoping:unknown"]
    assert meta == ["dependencies: no dependency manifest was observed in this repository, so its "
                    "dependencies are unknown (not known to be none)"]

    api = exported.get("/repositories/bare/openapi.json").json()
    validate_openapi(api)
    assert api["paths"] == {}
    assert "none were discovered in code" in api["info"]["description"]
    assert api["info"]["x-repo-scoping"]["route_facts"] == 0


def test_unknown_repository_is_a_404(settings, services):
    client = TestClient(create_app(settings))
    for url in ("/repositories/nope/sbom", "/repositories/nope/openapi.json"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"


def test_cli_export_sbom(exported, tmp_path):
    target = tmp_path / "shop.cdx.json"
    done = CliRunner().invoke(cli_main, ["export", "sbom", "shop", "--output", str(target)])
    assert done.exit_code == 0, done.output
    assert target.read_text() == exported.get("/repositories/shop/sbom").text
    printed = CliRunner().invoke(cli_main, ["export", "openapi", "shop"])
    assert printed.exit_code == 0 and json.loads(printed.output)["paths"].keys() == \
        exported.get("/repositories/shop/openapi.json").json()["paths"].keys()
    missing = CliRunner().invoke(cli_main, ["export", "sbom", "nope"])
    assert missing.exit_code == 1 and "nope" in missing.output


def test_a_new_dependency_reaches_the_sbom_on_the_next_refresh(exported):
    before = exported.get("/repositories/shop/sbom").json()
    again = refresh_in_process(exported.instance, "shop")  # nothing changed: the exports skip
    assert again.success, again.error
    assert again.assets["repository_sbom"]["skipped"] is True
    assert again.assets["repository_openapi"]["skipped"] is True
    exported.shop.commit({"requirements.txt": "requests==2.31.0\nPyYAML>=6  # config files\nclick==8.1.7\n"})
    outcome = refresh_in_process(exported.instance, "shop")
    assert outcome.success, outcome.error
    assert outcome.assets["repository_sbom"]["changed"] is True
    after = exported.get("/repositories/shop/sbom").json()
    added = {c["purl"] for c in after["components"]} - {c["purl"] for c in before["components"]}
    assert added == {"pkg:pypi/click@8.1.7"}
    click = next(c for c in after["components"] if c["name"] == "click")
    assert click["evidence"]["occurrences"] == [{"location": "requirements.txt", "line": 3}]


def test_pinned_versions_and_paths_per_ecosystem():
    assert [pinned_version(e, c) for e, c in [
        ("pypi", "==1.2"), ("pypi", ">=1.2"), ("pypi", "==1.*"), ("npm", "1.2.3"), ("npm", "^1.2.3"),
        ("go", "v1.9.0"), ("cargo", "1.0"), ("cargo", "=1.0.2"), ("rubygems", "~> 7.0"), ("rubygems", "7.0.1"),
        ("maven", "5.3.1"), ("maven", "[1.0,2.0)"), ("maven", "${spring.version}"), ("packagist", "^2.0"),
    ]] == ["1.2", None, None, "1.2.3", None, "v1.9.0", None, "1.0.2", None, "7.0.1", "5.3.1", None, None, None]
    assert normalise_path("^articles/(?P<year>[0-9]{4})/$") == (
        "/articles/{year}/", [("year", {"type": "string", "pattern": "^[0-9]{4}$"})])
    assert normalise_path("/files/*filepath")[0] == "/files/{filepath}"
    assert normalise_path("/r/{id:[0-9]+}/{rest...}")[0] == "/r/{id}/{rest}"
    assert normalise_path("/f/{p:path}") == ("/f/{p}", [("p", {"type": "string"})])


def _fact(kind: str, subject: str, value: dict, path: str, line: int) -> dict:
    return {"fact_id": f"{kind}:{subject}:{path}:{line}", "kind": kind, "subject": subject, "value": value,
            "path": path, "line": line, "confidence": 0.9}


def test_other_ecosystems_and_route_kinds_stay_valid():
    deps = [_fact("dependency", s, {"ecosystem": e, "constraint": c, "scope": sc, "manifest": p}, p, 3)
            for s, e, c, sc, p in [
                ("github.com/gin-gonic/gin", "go", "v1.9.1", "runtime", "go.mod"),
                ("org.springframework:spring-core", "maven", "6.1.0", "runtime", "pom.xml"),
                ("None:orphan", "maven", "", "runtime", "pom.xml"),
                ("org.jetbrains.kotlin.jvm", "gradle-plugin", "1.9.0", "build", "build.gradle"),
                ("rails", "rubygems", "~> 7.0", "runtime", "Gemfile"),
                ("monolog/monolog", "packagist", "^3.0", "runtime", "composer.json"),
                ("serde", "cargo", "1.0", "optional", "Cargo.toml")]]
    bom = build_sbom("poly", "abc", deps)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(bom.content) is None
    purls = {c["name"]: c.get("purl") for c in bom.as_json()["components"]}
    assert purls == {"github.com/gin-gonic/gin": "pkg:golang/github.com/gin-gonic/gin@v1.9.1",
                     "spring-core": "pkg:maven/org.springframework/spring-core@6.1.0",
                     "orphan": None, "org.jetbrains.kotlin.jvm": None, "rails": "pkg:gem/rails",
                     "monolog": "pkg:composer/monolog/monolog", "serde": "pkg:cargo/serde"}
    routes = [_fact("route", f"{m} {p}", {"method": m, "path": p, "framework": fw, "handler": "h"}, "x", 1)
              for m, p, fw in [("ANY", "articles/<slug:slug>/", "Django"), ("INCLUDE", "api/", "Django"),
                               ("GET", "/v1/users/:id", "Gin"), ("WEBSOCKET", "/ws", "FastAPI"),
                               ("GET", "/items/{id:[0-9]+}", "chi")]]
    document = build_openapi("poly", "abc", routes).as_json()
    validate_openapi(document)
    assert set(document["paths"]) == {"/articles/{slug}/", "/v1/users/{id}", "/ws", "/items/{id}"}
    assert "get" not in document["paths"]["/articles/{slug}/"]  # any method: evidence, no invented verbs
    assert "any HTTP method" in document["paths"]["/articles/{slug}/"]["description"]
    with pytest.raises(OpenAPIValidationError):  # the validator is live: a broken document fails
        validate_openapi({**document, "paths": {"no-slash": {}}})
