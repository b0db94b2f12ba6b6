"""consumesApis in catalog-info.yaml: HTTP client calls observed in code (http_call facts: requests, httpx,
fetch, axios, Go net/http) matched against the routes other registered repositories serve."""

from __future__ import annotations

import json

import dagster as dg
import pytest
import yaml
from fastapi.testclient import TestClient
from test_backstage import validate_entity

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.chunking.code import get_parser
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.exports.backstage import Inputs, RouteIndex, build_entities
from repo_scoping_pipelines.facts.extract import extract_file
from repo_scoping_pipelines.facts.http_calls import extract_http_calls
from repo_scoping_pipelines.facts.imports import extract_imports
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.storage import catalog as catalog_store
from repo_scoping_pipelines.storage import exports as export_store

USERS = {  # repository B: a Flask service
    "pyproject.toml": '[project]\nname = "users-svc"\nversion = "1.0.0"\ndependencies = ["flask>=3"]\n',
    "users/app.py": (
        "from flask import Flask\n"
        "\n"
        "app = Flask(__name__)\n"
        "\n"
        "\n"
        '@app.get("/users/<int:user_id>")\n'
        "def get_user(user_id):\n"
        "    return {}\n"
        "\n"
        "\n"
        '@app.post("/users")\n'
        "def create_user():\n"
        "    return {}, 201\n"
    ),
}
BILLING = {  # another service: FastAPI
    "pyproject.toml": '[project]\nname = "billing"\nversion = "1.0.0"\ndependencies = ["fastapi"]\n',
    "billing/main.py": (
        "from fastapi import FastAPI\n"
        "\n"
        "app = FastAPI()\n"
        "\n"
        "\n"
        '@app.get("/invoices/{invoice_id}")\n'
        "def invoice(invoice_id: int):\n"
        "    return {}\n"
    ),
}
SHOP = {  # repository A: calls B with requests and fetch, billing with axios
    "pyproject.toml": '[project]\nname = "shop"\nversion = "1.0.0"\ndependencies = ["requests"]\n',
    "shop/clients.py": (
        "import requests\n"
        "\n"
        'USERS_URL = "http://users.internal"\n'
        "\n"
        "\n"
        "def user(user_id, session_url):\n"
        '    found = requests.get(f"{USERS_URL}/users/{user_id}", timeout=5)\n'
        "    requests.get(session_url)\n"
        '    requests.get(f"{USERS_URL}/users/{user_id}/avatar")\n'
        "    return found.json()\n"
    ),
    "web/signup.js": (
        'import axios from "axios";\n'
        "\n"
        "export async function signUp(form) {\n"
        '  await fetch("/users", { method: "POST", body: JSON.stringify(form) });\n'
        "  return axios.get(`/invoices/${form.invoice}`);\n"
        "}\n"
    ),
    "tests/test_clients.py": 'import requests\n\n\ndef test_it():\n    requests.post("http://x/users")\n',
}
LONER = {  # calls only outside APIs
    "pyproject.toml": '[project]\nname = "loner"\nversion = "1.0.0"\ndependencies = ["httpx"]\n',
    "loner/sync.py": 'import httpx\n\n\ndef sync():\n    return httpx.get("https://api.github.com/repos/acme/x")\n',
}


def _entities(client, name: str) -> list[dict]:
    response = client.get(f"/repositories/{name}/catalog-info.yaml")
    assert response.status_code == 200, response.text
    return list(yaml.safe_load_all(response.text))


@pytest.fixture
def landscape(settings, services, make_repo):
    repos = {name: make_repo(name, files) for name, files in
             (("shop", SHOP), ("users-svc", USERS), ("billing", BILLING), ("loner", LONER))}
    for name, repo in repos.items():
        register_repository(services, name, str(repo.path))
    with dg.instance_for_test() as instance:
        # shop first: its stored catalog-info is built before the services' routes exist.
        outcomes = {name: refresh_in_process(instance, name) for name in repos}
        assert all(o.success for o in outcomes.values()), {n: o.error for n, o in outcomes.items()}
        with TestClient(create_app(settings)) as client:
            client.instance, client.outcomes = instance, outcomes
            yield client


def test_consumes_apis_of_the_repositories_whose_routes_the_calls_match(landscape):
    calls = landscape.get("/repositories/shop/facts", params={"kind": "http_call"}).json()["facts"]
    assert sorted((f["subject"], f["evidence"]["path"], f["evidence"]["line"]) for f in calls) == [
        ("GET /invoices/{invoice}", "web/signup.js", 5),
        ("GET /users/{user_id}", "shop/clients.py", 7),
        ("GET /users/{user_id}/avatar", "shop/clients.py", 9),
        ("POST /users", "web/signup.js", 4),
    ]  # requests.get(session_url) shows no URL and tests/ are fixtures: neither is recorded
    component, *apis = _entities(landscape, "shop")
    validate_entity(component)
    assert apis == []  # shop serves nothing
    assert component["spec"]["consumesApis"] == ["api:billing-api", "api:users-svc-api"]
    evidence = json.loads(component["metadata"]["annotations"]["repo-scoping.dev/consumes-evidence"])
    assert [(e["api"], e["call"], e["at"], e["client"]) for e in evidence] == [
        ("api:billing-api", "GET /invoices/{invoice}", "web/signup.js:5", "axios"),
        ("api:users-svc-api", "GET /users/{user_id}", "shop/clients.py:7", "requests"),
        ("api:users-svc-api", "POST /users", "web/signup.js:4", "fetch"),
    ]  # /users/{id}/avatar is served by nobody
    assert evidence[1]["route"] == "GET /users/<int:user_id> users/app.py:6"
    # The names are those of the API entities the services export.
    users_component, users_api = _entities(landscape, "users-svc")
    assert users_component["spec"]["providesApis"] == [f"api:{users_api['metadata']['name']}"]
    assert "consumesApis" not in users_component["spec"]
    (_, billing_api) = _entities(landscape, "billing")
    assert f"api:{billing_api['metadata']['name']}" in component["spec"]["consumesApis"]


def test_calls_that_match_no_route_consume_nothing(landscape):
    assert [f["subject"] for f in landscape.get("/repositories/loner/facts",
                                                 params={"kind": "http_call"}).json()["facts"]] == \
        ["GET https://api.github.com/repos/acme/x"]
    (component,) = _entities(landscape, "loner")
    validate_entity(component)
    assert "consumesApis" not in component["spec"]
    assert "repo-scoping.dev/consumes-evidence" not in component["metadata"]["annotations"]


def test_the_stored_entity_refreshes_when_another_repository_routes_appear(landscape, services):
    shop_id = catalog_store.get_repository(services.engine, "shop").id
    first = yaml.safe_load_all(export_store.load_document(services.engine, shop_id, "backstage")["content"])
    assert "consumesApis" not in next(first)["spec"]  # built before users-svc and billing were refreshed
    again = refresh_in_process(landscape.instance, "shop")  # nothing of shop changed, the outside did
    assert again.success, again.error
    meta = again.assets["backstage_entities"]
    assert meta["skipped"] is False and meta["consumes_apis"] == ["api:billing-api", "api:users-svc-api"]
    stored = export_store.load_document(services.engine, shop_id, "backstage")["content"]
    assert stored == landscape.get("/repositories/shop/catalog-info.yaml").text
    assert refresh_in_process(landscape.instance, "shop").assets["backstage_entities"]["skipped"] is True


def test_own_routes_and_ambiguous_matches_are_not_consumed():
    call = {"kind": "http_call", "subject": "GET /items/{id}", "path": "web/a.js", "line": 3,
            "value": {"method": "GET", "url": "/items/{id}", "path": "/items/{id}", "host": None, "client": "fetch"}}
    root = {**call, "subject": "GET /", "line": 4, "value": {**call["value"], "url": "/", "path": "/"}}

    def route(path: str, method: str = "GET") -> dict:
        return {"kind": "route", "subject": f"{method} {path}", "path": "app.py", "line": 1,
                "value": {"method": method, "path": path, "framework": "Flask", "handler": "h"}}

    def consumes(facts: list[dict], routes: dict[str, list[dict]]) -> list[str]:
        (component, *_) = build_entities(Inputs("front", "/src/front", "c1", facts, routes=RouteIndex(routes),
                                                openapi="{}" if any(f["kind"] == "route" for f in facts) else None))
        validate_entity(component)
        return component["spec"].get("consumesApis", [])

    assert consumes([call, root], {"one": [route("/items/<int:id>"), route("/")]}) == ["api:one-api"]
    assert consumes([call], {"one": [route("/items/:id", "POST")]}) == []  # method differs
    assert consumes([call], {"one": [route("/items/mine")]}) == []  # a call's {id} is not the literal "mine"
    assert consumes([call, route("/items/{x}")], {"one": [route("/items/{id}")]}) == []  # calls itself
    (component, *_) = build_entities(Inputs("front", "/src/front", "c1", [call],
                                            routes=RouteIndex({"one": [route("/items/{id}")],
                                                               "two": [route("/items/{k}")]})))
    assert "consumesApis" not in component["spec"]
    assert component["metadata"]["annotations"]["repo-scoping.dev/consumes-ambiguous"].startswith("1 HTTP")


# --- the extractor, pure ---------------------------------------------------------------------------

def _calls(grammar: str, path: str, source: str) -> list[tuple[str, int, str | None, str]]:
    root = get_parser(grammar).parse(source.encode()).root_node
    imports, _ = extract_imports(grammar, root)
    return [(f.subject, f.line, f.value["host"], f.value["client"])
            for f in extract_http_calls(grammar, path, root, imports)]


def test_python_calls_requests_and_httpx():
    source = (
        "import requests\n"
        "import httpx\n"
        "from requests import Session\n"
        "\n"
        "def f(user, url, BASE):\n"
        '    requests.get("http://Users.internal:8080/users?active=1#top")\n'
        '    httpx.post(f"{BASE}/users/{user.id}/orders", json={})\n'
        "    requests.get(url)\n"
        '    requests.get("users")\n'
        "    session = requests.Session()\n"
        '    session.delete(BASE + "/users/" + str(user.id))\n'
        '    with httpx.Client(base_url="https://api.example.com") as client:\n'
        '        client.get(url=f"/items/{item[\'id\']}")\n'
        "    self.http = Session()\n"
        '    self.http.request("PATCH", "/p")\n'
        '    cache.get("/not-http")\n'
    )
    assert _calls("python", "a.py", source) == [
        ("GET http://users.internal:8080/users", 6, "users.internal:8080", "requests"),
        ("POST /users/{id}/orders", 7, None, "httpx"),
        ("DELETE /users/{id}", 11, None, "requests"),
        ("GET //api.example.com/items/{id}", 13, "api.example.com", "httpx"),
        ("PATCH /p", 15, None, "requests"),
    ]
    assert _calls("python", "b.py", 'def f():\n    requests.get("/x")\n') == []  # requests not imported


def test_js_and_ts_fetch_and_axios():
    source = (
        'import axios from "axios";\n'
        'const api = axios.create({ baseURL: "https://svc.example.com" });\n'
        'fetch("/api/users");\n'
        "fetch(`${BASE}/api/users/${user.id}`, { method: 'POST' });\n"
        "fetch(url);\n"
        'axios.get("/api/users/" + id);\n'
        "api.delete(`/api/users/${id}`);\n"
        'axios.request({ url: "/r", method: "put" });\n'
        'fetch("/x", { method: verb });\n'
    )
    assert _calls("javascript", "a.js", source) == [
        ("GET /api/users", 3, None, "fetch"),
        ("POST /api/users/{id}", 4, None, "fetch"),
        ("GET /api/users/{id}", 6, None, "axios"),
        ("DELETE //svc.example.com/api/users/{id}", 7, "svc.example.com", "axios"),
        ("PUT /r", 8, None, "axios"),
        ("ANY /x", 9, None, "fetch"),
    ]
    assert _calls("typescript", "a.ts", 'const r: Response = await fetch("/api/ts?q=1");\n') == \
        [("GET /api/ts", 1, None, "fetch")]
    assert _calls("javascript", "b.js", 'client.get("/api/users");\n') == []  # not axios, not fetch


def test_go_net_http():
    source = (
        'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n)\n\n'
        "func f(base string, id int, u string) {\n"
        '\thttp.Get("http://svc/users")\n'
        '\thttp.Post(base+"/users", "application/json", nil)\n'
        '\thttp.NewRequest(http.MethodDelete, fmt.Sprintf("%s/users/%d", base, id), nil)\n'
        '\thttp.NewRequestWithContext(ctx, "PUT", "/x/"+name, nil)\n'
        "\thttp.Get(u)\n"
        "}\n"
    )
    assert _calls("go", "main.go", source) == [
        ("GET http://svc/users", 9, "svc", "net/http"),
        ("POST /users", 10, None, "net/http"),
        ("DELETE /users/{id}", 11, None, "net/http"),
        ("PUT /x/{name}", 12, None, "net/http"),
    ]


def test_calls_in_test_files_are_not_facts():
    source = 'import requests\n\n\ndef test_x():\n    requests.get("/users")\n'
    assert [f.kind for f in extract_file("tests/test_x.py", "code", source, "Python").facts] == []
    assert [f.kind for f in extract_file("app/x.py", "code", source, "Python").facts] == ["http_call"]
