"""An OpenAPI 3.1 document of the HTTP routes discovered in code (route facts).

Paths are normalised to OpenAPI templates: Flask/Django `<int:id>`, Express/Gin/Echo `:id` and `*rest`,
chi/Spring `{id:[0-9]+}`, Go 1.22 `{rest...}` and Django regex groups `(?P<id>...)` all become `{id}`,
with a path parameter each (typed only where the converter says so). Every operation cites its
evidence (path:line, framework, handler) in its description. What code does not show (request and
response bodies, status codes, servers, security) is left out and named in info.description, never
guessed; routes that accept any method are kept as path items without operations.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from .sbom import Document

OPENAPI_VERSION = "3.1.0"
MEDIA_TYPE = "application/json"
OPERATIONS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def http_routes(facts: Iterable[dict]) -> list[dict]:
    """The route facts that are HTTP routes (Django include() mounts are not)."""
    return [f for f in facts if f["kind"] == "route" and str((f.get("value") or {}).get("method")) != "INCLUDE"]
EXTENSION = "x-repo-scoping"

# Converter -> JSON schema of the parameter (Flask/Werkzeug and Django path converters).
_CONVERTERS = {
    "int": {"type": "integer"}, "float": {"type": "number"}, "uuid": {"type": "string", "format": "uuid"},
    "str": {"type": "string"}, "string": {"type": "string"}, "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "path": {"type": "string"}, "any": {"type": "string"},
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _regex_schema(pattern: str) -> dict:
    return {"type": "string", "pattern": f"^{pattern}$"} if pattern else {}


def normalise_path(raw: str) -> tuple[str, list[tuple[str, dict]]]:
    """(OpenAPI path template, [(parameter name, JSON schema)]) of a route path in any framework's syntax."""
    path = (raw or "").strip()
    params: list[tuple[str, dict]] = []

    def add(name: str, schema: dict) -> str:
        if name not in (p for p, _ in params):
            params.append((name, schema))
        return "{" + name + "}"

    # Django re_path / url(): ^articles/(?P<year>[0-9]{4})/$ (anchors dropped, named groups kept)
    if path.startswith("^") or path.endswith("$") or "(?P<" in path:
        path = path.removeprefix("/").removeprefix("^").removesuffix("$")
        path = re.sub(r"\(\?P<(\w+)>([^()]*(?:\([^()]*\)[^()]*)*)\)",
                      lambda m: add(m.group(1), _regex_schema(m.group(2))), path)
    # Flask / Django converters: <int:id>, <id>, <path:rest>
    path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>",
                  lambda m: add(m.group(2), dict(_CONVERTERS.get(m.group(1) or "", {}))), path)

    # {id}, {id:[0-9]+} (chi, Spring), {rest...} (Go 1.22), {$} (Go 1.22 exact match)
    def braces(m: re.Match) -> str:
        body = m.group(1)
        if body == "$":
            return ""
        name, _, pattern = body.partition(":")
        name = name.removesuffix("...")
        if not _NAME.fullmatch(name):
            return m.group(0)
        # {file:path} / {n:int} are Starlette converters; anything else after ':' is a regex (chi, Spring)
        return add(name, dict(_CONVERTERS[pattern]) if pattern in _CONVERTERS else _regex_schema(pattern))

    path = re.sub(r"\{([^{}]+(?:\{[^{}]*\}[^{}]*)*)\}", braces, path)
    # Express / Gin / Echo: :id, :id(\d+), :id? and *rest
    path = re.sub(r"(?<=/):(\w+)(?:\(([^)]*)\))?\??", lambda m: add(m.group(1), _regex_schema(m.group(2) or "")),
                  path)
    path = re.sub(r"(?<=/)\*(\w+)", lambda m: add(m.group(1), {"type": "string"}), path)
    if not path.startswith("/"):
        path = "/" + path
    return path, params


def _parameter(name: str, schema: dict) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _evidence(fact: dict) -> str:
    value = fact.get("value") or {}
    where = f"{fact['path']}:{fact['line']}"
    return f"`{where}` ({value.get('framework') or 'unknown framework'}, handler `{value.get('handler') or '?'}`)"


def build_openapi(repository: str, commit: str | None, facts: Iterable[dict]) -> Document:
    """The OpenAPI document of one repository's route facts (other fact kinds are ignored)."""
    routes = sorted((f for f in facts if f["kind"] == "route"),
                    key=lambda f: (f["path"], f["line"], f["subject"], f.get("fact_id", "")))
    paths: dict[str, dict] = {}
    evidence: dict[tuple[str, str], list[dict]] = {}
    skipped = {"mounts": 0, "websockets": 0}
    for fact in routes:
        value = fact.get("value") or {}
        method = str(value.get("method") or "").upper()
        if method == "INCLUDE":  # a Django include(): a mount point, its routes are facts of their own
            skipped["mounts"] += 1
            continue
        template, params = normalise_path(str(value.get("path") or ""))
        item = paths.setdefault(template, {})
        if params and "parameters" not in item:
            item["parameters"] = [_parameter(n, s) for n, s in params]
        operation = method.lower() if method.lower() in OPERATIONS else \
            "any" if method == "ANY" else "websocket" if method == "WEBSOCKET" else "other"
        evidence.setdefault((template, operation), []).append(fact)

    for (template, operation), cited in evidence.items():
        item = paths[template]
        frameworks = sorted({str((f.get("value") or {}).get("framework") or "") for f in cited} - {""})
        handlers = sorted({str((f.get("value") or {}).get("handler") or "") for f in cited} - {""})
        refs = [{"path": f["path"], "line": f["line"], "framework": (f.get("value") or {}).get("framework"),
                 "handler": (f.get("value") or {}).get("handler"), "method": (f.get("value") or {}).get("method")}
                for f in cited]
        lines = "\n".join(f"- {_evidence(f)}" for f in cited)
        if operation in OPERATIONS:
            item[operation] = {
                "summary": ", ".join(handlers) or template,
                "description": f"Discovered in code. Evidence:\n{lines}\n\nRequest and response shapes are "
                               "not observed.",
                "tags": frameworks,
                EXTENSION: {"evidence": refs},
            }
            continue
        if operation == "websocket":
            skipped["websockets"] += 1
        label = {"any": "Accepts any HTTP method (the code does not narrow it)",
                 "websocket": "A WebSocket endpoint (not an HTTP operation)"}.get(operation,
                                                                                 "Unrecognised method")
        item.setdefault("description", "")
        item["description"] = (item["description"] + "\n\n" if item["description"] else "") + \
            f"{label}. Evidence:\n{lines}"
        item.setdefault(EXTENSION, {}).setdefault("non_operations", []).extend(refs)

    unknown = ["request bodies, responses and status codes", "servers (base URL and any mount prefix)",
               "security requirements"]
    if not paths:
        unknown.insert(0, "HTTP routes: none were discovered in code (FastAPI, Flask, Django, Express, Spring, "
                          "Go net/http, gorilla/mux, Gin, Echo, chi), so this repository's HTTP API is unknown")
    described = (f"HTTP routes discovered in the code of {repository}"
                 + (f" at commit {commit}" if commit else "") + f": {len(routes)} route facts.")
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": f"{repository} (discovered HTTP routes)",
            "version": commit or "unknown",
            "description": described + "\n\nNot observed, so left out: " + "; ".join(unknown) + ".",
            EXTENSION: {"repository": repository, "commit": commit, "route_facts": len(routes),
                        "unknown": unknown, **skipped},
        },
        "paths": {template: paths[template] for template in sorted(paths)},
    }
    return Document("openapi", MEDIA_TYPE, json.dumps(document, indent=2) + "\n", commit)
