"""Backstage catalog entities (catalog-info.yaml) of a repository, from its observed facts.

One `Component` per repository and, where routes were discovered, one `API` entity (spec.type openapi,
the definition being the discovered-routes OpenAPI document) that the Component `providesApis`.

Every field is derived from evidence, and what is not observed is said in an annotation, never guessed:
- spec.type: `service` (routes discovered, or a web/server framework with a procfile/main entry point),
  `website` (a UI framework, no routes), `cli` (console scripts, bin entries or a CLI framework),
  `library` (a manifest, none of the above), else `other` with `repo-scoping.dev/type-unknown`.
- spec.lifecycle: `production` where delivery is observed (a Dockerfile, Helm chart, compose service or a
  CI job), else `unknown` with `repo-scoping.dev/lifecycle-unknown`.
- spec.owner: the owners of the CODEOWNERS rule that covers the whole repository (`*`, `/`, `**`, the last
  one wins as in CODEOWNERS), `@org/team` -> `group:team`, `@user` or an e-mail -> `user:name`; else the
  author with the most surviving lines (file ownership from history) as `user:`; else `unknown` with
  `repo-scoping.dev/owner-unknown`. `repo-scoping.dev/owner-source` says which.
- metadata.tags: languages and frameworks, normalised to Backstage's tag rule.
- spec.dependsOn: `component:` references of other registered repositories whose package name (a manifest's
  declared name) this repository declares as a dependency.
- spec.consumesApis: the `api:` entities of other registered repositories whose discovered routes this
  repository's HTTP client calls (http_call facts) match: same method (or ANY on either side) and the same
  path template, segment by segment, a route's `{param}` matching any segment and a call's `{param}` only
  a route's parameter; the root path `/` is too generic to count. A call that matches this repository's own
  routes is taken as calling itself, one that matches several other repositories is ambiguous: neither
  counts (`repo-scoping.dev/consumes-ambiguous` says how many). Each match's call path:line and route
  path:line are in `repo-scoping.dev/consumes-evidence` (JSON).
- approved abilities (the reviewed registry) as the `repo-scoping.dev/abilities` annotation (JSON).
Entity names follow Backstage's rule (`^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$`, at most 63 characters); a
repository whose name had to change keeps it in `repo-scoping.dev/repository`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import yaml

from ..facts.codeowners import applicable_file
from .openapi import http_routes, normalise_path
from .sbom import Document

API_VERSION = "backstage.io/v1alpha1"
MEDIA_TYPE = "text/yaml"
PREFIX = "repo-scoping.dev"
MAX_NAME = 63

NAME_RULE = re.compile(r"^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$")
TAG_RULE = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
_WEB_CATEGORIES = {"web", "server"}
_UI_CATEGORIES = {"ui"}
_CLI_ENTRY_TYPES = {"console_script", "bin", "cargo_bin"}
_SERVER_ENTRY_TYPES = {"procfile", "python_main", "go_main", "java_main"}
_DELIVERY_KINDS = ("dockerfile", "helm_chart", "compose_service", "ci_job")
_WHOLE_REPO_PATTERNS = {"*", "/", "/*", "**", "/**", "/**/*", "**/*"}


def entity_name(raw: str) -> str:
    """A Backstage entity name for `raw`: runs of other characters become one `-`, separators are not
    doubled nor at the ends, at most 63 characters; `unnamed` when nothing is left."""
    name = re.sub(r"[^a-zA-Z0-9]+", lambda m: m.group(0)[0] if m.group(0) in "-_." else "-", raw or "")
    name = re.sub(r"[-_.]{2,}", "-", name).strip("-_.")
    name = name[:MAX_NAME].rstrip("-_.")
    return name if name and NAME_RULE.match(name) else "unnamed"


def tag(raw: str) -> str | None:
    """A Backstage tag (`^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$`, at most 63), or None when nothing is left."""
    value = re.sub(r"[^a-z0-9+#]+", "-", (raw or "").lower()).strip("-")[:MAX_NAME].rstrip("-")
    return value if value and TAG_RULE.match(value) else None


def owner_reference(owner: str) -> str | None:
    """A CODEOWNERS owner as an entity reference: `@org/team` -> group:team, `@user` -> user:user,
    `name@example.com` -> user:name; None when nothing valid remains (e.g. a GitLab role `@@developer`)."""
    owner = owner.strip()
    if owner.startswith("@@"):
        return None
    if owner.startswith("@") and "/" in owner:
        name = entity_name(owner.rsplit("/", 1)[1])
        return f"group:{name}" if name != "unnamed" else None
    local = owner.removeprefix("@").split("@", 1)[0]
    name = entity_name(local)
    return f"user:{name}" if name != "unnamed" else None


@dataclass(frozen=True)
class Inputs:
    """Everything one repository's entities are built from (the pipeline loads it from storage)."""

    repository: str
    source: str
    commit: str | None
    facts: list[dict]
    abilities: list[dict] = field(default_factory=list)  # approved registry rows (key, name, category)
    top_author: dict | None = None  # {"email", "name", "lines"}: most surviving lines, from history
    packages: dict[str, str] = field(default_factory=dict)  # package name -> other registered repository
    openapi: str | None = None  # the discovered-routes OpenAPI document (JSON text)
    routes: RouteIndex = field(default_factory=lambda: RouteIndex({}))  # every repository's routes


def _of(facts: Iterable[dict], kind: str) -> list[dict]:
    return [f for f in facts if f["kind"] == kind]


def component_type(facts: list[dict]) -> tuple[str, str]:
    """(spec.type, the reason)."""
    frameworks = _of(facts, "framework")
    categories = {str((f.get("value") or {}).get("category") or "") for f in frameworks}
    entry_types = {str((f.get("value") or {}).get("type") or "") for f in _of(facts, "entry_point")}
    routes = http_routes(facts)
    if routes:
        return "service", f"{len(routes)} HTTP routes discovered in code"
    web = sorted(f["subject"] for f in frameworks if (f.get("value") or {}).get("category") in _WEB_CATEGORIES)
    if web and entry_types & _SERVER_ENTRY_TYPES:
        return "service", f"server framework ({', '.join(web)}) with a runnable entry point"
    if categories & _UI_CATEGORIES:
        ui = sorted(f["subject"] for f in frameworks if (f.get("value") or {}).get("category") in _UI_CATEGORIES)
        return "website", f"UI framework ({', '.join(ui)}) and no HTTP routes"
    if entry_types & _CLI_ENTRY_TYPES or "cli" in categories:
        return "cli", "console scripts / bin entries or a CLI framework"
    if _of(facts, "manifest"):
        return "library", "a package manifest without services, UI or command-line entry points"
    return "other", ""


def _lifecycle(facts: list[dict]) -> tuple[str, str]:
    seen = [f"{f['kind']} {f['path']}:{f['line']}" for k in _DELIVERY_KINDS for f in _of(facts, k)]
    if seen:
        return "production", "delivery observed: " + ", ".join(seen[:5])
    return "unknown", ""


def _owner(inputs: Inputs) -> tuple[str, str]:
    """(owner reference, where it came from); ("unknown", "") when nothing says."""
    codeowners = _of(inputs.facts, "codeowners")
    applies = applicable_file({f["path"] for f in codeowners})  # the one file the host reads
    rules = sorted((f for f in codeowners if f["path"] == applies
                    and str((f.get("value") or {}).get("pattern", f["subject"])) in _WHOLE_REPO_PATTERNS),
                   key=lambda f: (f.get("value") or {}).get("order", f["line"]))
    if rules:
        rule = rules[-1]  # the last matching rule wins
        for owner in (rule.get("value") or {}).get("owners") or []:
            ref = owner_reference(str(owner))
            if ref:
                return ref, f"CODEOWNERS {rule['path']}:{rule['line']} ({owner})"
    author = inputs.top_author
    if author and author.get("email"):
        ref = owner_reference(str(author["email"]))
        if ref:
            return ref, (f"history: {author.get('name') or author['email']} <{author['email']}> wrote the most "
                         f"surviving lines ({author.get('lines', 0)})")
    return "unknown", ""


def _tags(facts: list[dict]) -> list[str]:
    languages = sorted(_of(facts, "language"), key=lambda f: -int((f.get("value") or {}).get("lines") or 0))
    out: list[str] = []
    for raw in [f["subject"] for f in languages] + sorted(f["subject"] for f in _of(facts, "framework")):
        value = tag(raw)
        if value and value not in out:
            out.append(value)
    return out


def _depends_on(inputs: Inputs) -> list[str]:
    names = {f["subject"] for f in _of(inputs.facts, "dependency")}
    hits = {inputs.packages[n] for n in names if n in inputs.packages and inputs.packages[n] != inputs.repository}
    return sorted(f"component:{entity_name(r)}" for r in hits)


def api_entity_name(repository: str) -> str:
    """The name of the API entity of a repository whose routes were discovered."""
    return entity_name(f"{entity_name(repository)[:MAX_NAME - 4]}-api")


_MAX_EVIDENCE = 50


def _segments(template: str) -> list[tuple[bool, str]]:
    """(is a parameter, text) of each non-empty segment of a path template."""
    return [(bool(re.fullmatch(r"\{[^{}/]+\}", s)), s) for s in template.split("/") if s]


def _matches(call: list[tuple[bool, str]], route: list[tuple[bool, str]]) -> bool:
    return len(call) == len(route) and all(
        route_param or (not call_param and call_text == route_text)
        for (call_param, call_text), (route_param, route_text) in zip(call, route, strict=True))


def _route_index(facts: Iterable[dict]) -> list[tuple[str, list[tuple[bool, str]], dict]]:
    out = []
    for fact in http_routes(facts):
        value = fact.get("value") or {}
        method = str(value.get("method") or "").upper()
        segments = _segments(normalise_path(str(value.get("path") or ""))[0])
        if method != "WEBSOCKET" and segments:
            out.append((method, segments, fact))
    return out


def _route_hits(method: str, segments: list[tuple[bool, str]], index) -> list[dict]:
    return [fact for route_method, route_segments, fact in index
            if (method == route_method or "ANY" in (method, route_method)) and _matches(segments, route_segments)]


class RouteIndex:
    """Every registered repository's route facts (`facts`) and their matchable form, built once: an export
    of every repository matches each one's calls against the same index."""

    def __init__(self, facts: dict[str, list[dict]]) -> None:
        self.facts = facts
        self.by_repository = {repo: index for repo, repo_facts in sorted(facts.items())
                              if (index := _route_index(repo_facts))}


def consumed_apis(inputs: Inputs) -> tuple[dict[str, list[dict]], int]:
    """({`api:` reference: [evidence]}, number of ambiguous calls) from this repository's http_call facts
    and the other repositories' route facts."""
    own = _route_index(inputs.facts)
    others = {repo: index for repo, index in inputs.routes.by_repository.items() if repo != inputs.repository}
    consumed: dict[str, list[dict]] = {}
    ambiguous = 0
    for call in sorted(_of(inputs.facts, "http_call"), key=lambda f: (f["path"], f["line"], f["subject"])):
        value = call.get("value") or {}
        method = str(value.get("method") or "ANY").upper()
        segments = _segments(str(value.get("path") or ""))
        if not segments or _route_hits(method, segments, own):
            continue
        hits = {repo: found for repo, index in others.items() if (found := _route_hits(method, segments, index))}
        if len(hits) > 1:
            ambiguous += 1
            continue
        for repo, found in hits.items():
            route = found[0]
            consumed.setdefault(f"api:{api_entity_name(repo)}", []).append({
                "call": f"{method} {value.get('url') or value.get('path')}", "at": f"{call['path']}:{call['line']}",
                "client": value.get("client"), "repository": repo,
                "route": f"{route['subject']} {route['path']}:{route['line']}"})
    return consumed, ambiguous


def _source_url(source: str) -> str | None:
    if re.match(r"^(https?|ssh|git)://", source):
        return source
    match = re.match(r"^[\w.-]+@([\w.-]+):(.+)$", source)  # scp-like git@host:org/repo.git
    if match:
        return f"https://{match.group(1)}/{match.group(2).removesuffix('.git')}"
    if source.startswith("/"):
        return "file://" + source
    return None


def build_entities(inputs: Inputs) -> list[dict]:
    """The Component (and the API where routes were discovered) of one repository."""
    facts = inputs.facts
    name = entity_name(inputs.repository)
    annotations: dict[str, str] = {f"{PREFIX}/repository": inputs.repository,
                                   f"{PREFIX}/commit": inputs.commit or "unknown"}
    if name != inputs.repository:
        annotations[f"{PREFIX}/name-mapping"] = f"{inputs.repository} -> {name} (Backstage entity name rules)"
    kind, why = component_type(facts)
    if why:
        annotations[f"{PREFIX}/type-reason"] = why
    else:
        annotations[f"{PREFIX}/type-unknown"] = "no routes, UI or CLI frameworks, entry points or manifests observed"
    lifecycle, why = _lifecycle(facts)
    if why:
        annotations[f"{PREFIX}/lifecycle-reason"] = why
    else:
        annotations[f"{PREFIX}/lifecycle-unknown"] = ("no delivery observed (Dockerfile, Helm chart, compose "
                                                      "service or CI job), so the lifecycle is not known")
    owner, why = _owner(inputs)
    if why:
        annotations[f"{PREFIX}/owner-source"] = why
    else:
        annotations[f"{PREFIX}/owner-unknown"] = ("no CODEOWNERS rule covers the whole repository and no "
                                                  "commit history ownership is stored")
    url = _source_url(inputs.source)
    if url and not url.startswith("file://"):
        annotations["backstage.io/source-location"] = f"url:{url}"
    if inputs.abilities:
        annotations[f"{PREFIX}/abilities"] = json.dumps(
            [{"key": a["key"], "name": a["name"], "category": a["category"]}
             for a in sorted(inputs.abilities, key=lambda a: (a["category"], a["name"], a["key"]))])

    metadata: dict = {"name": name, "description": f"{inputs.repository} (generated by repo-scoping from "
                                                   "observed facts)",
                      "annotations": annotations}
    tags = _tags(facts)
    if tags:
        metadata["tags"] = tags
    if url:
        metadata["links"] = [{"url": url, "title": "Source"}]
    spec: dict = {"type": kind, "lifecycle": lifecycle, "owner": owner}
    depends = _depends_on(inputs)
    if depends:
        spec["dependsOn"] = depends
    consumed, ambiguous = consumed_apis(inputs)
    if consumed:
        spec["consumesApis"] = sorted(consumed)
        annotations[f"{PREFIX}/consumes-evidence"] = json.dumps(
            [dict(api=api, **e) for api in sorted(consumed) for e in consumed[api]][:_MAX_EVIDENCE])
    if ambiguous:
        annotations[f"{PREFIX}/consumes-ambiguous"] = (f"{ambiguous} HTTP client calls match routes of several "
                                                       "registered repositories; not counted as consumed")
    entities = [{"apiVersion": API_VERSION, "kind": "Component", "metadata": metadata, "spec": spec}]

    routes = http_routes(facts)
    if routes and inputs.openapi:
        api_name = api_entity_name(inputs.repository)
        spec["providesApis"] = [f"api:{api_name}"]
        entities.append({
            "apiVersion": API_VERSION, "kind": "API",
            "metadata": {"name": api_name, "description": f"HTTP routes discovered in the code of {inputs.repository}",
                         "annotations": {f"{PREFIX}/repository": inputs.repository,
                                         f"{PREFIX}/commit": inputs.commit or "unknown",
                                         f"{PREFIX}/route-facts": str(len(routes))},
                         **({"tags": tags} if tags else {})},
            "spec": {"type": "openapi", "lifecycle": lifecycle, "owner": owner, "definition": inputs.openapi},
        })
    return entities


def render(entities: list[dict]) -> str:
    """Multi-document YAML (one document per entity)."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when built with it (same output, faster)
    return yaml.dump_all(entities, Dumper=dumper, sort_keys=False, allow_unicode=True, width=120)


def build_catalog_info(inputs: Inputs) -> Document:
    return Document("backstage", MEDIA_TYPE, render(build_entities(inputs)), inputs.commit)
