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
from .sbom import Document

API_VERSION = "backstage.io/v1alpha1"
MEDIA_TYPE = "text/yaml"
PREFIX = "repo-scoping.dev"
MAX_NAME = 63

_NAME_OK = re.compile(r"^[a-zA-Z0-9]+([-_.][a-zA-Z0-9]+)*$")
_TAG_OK = re.compile(r"^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$")
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
    return name if name and _NAME_OK.match(name) else "unnamed"


def tag(raw: str) -> str | None:
    """A Backstage tag (`^[a-z0-9:+#]+(-[a-z0-9:+#]+)*$`, at most 63), or None when nothing is left."""
    value = re.sub(r"[^a-z0-9+#]+", "-", (raw or "").lower()).strip("-")[:MAX_NAME].rstrip("-")
    return value if value and _TAG_OK.match(value) else None


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


def _of(facts: Iterable[dict], kind: str) -> list[dict]:
    return [f for f in facts if f["kind"] == kind]


def component_type(facts: list[dict]) -> tuple[str, str]:
    """(spec.type, the reason)."""
    frameworks = _of(facts, "framework")
    categories = {str((f.get("value") or {}).get("category") or "") for f in frameworks}
    entry_types = {str((f.get("value") or {}).get("type") or "") for f in _of(facts, "entry_point")}
    routes = [f for f in _of(facts, "route") if str((f.get("value") or {}).get("method")) != "INCLUDE"]
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
    entities = [{"apiVersion": API_VERSION, "kind": "Component", "metadata": metadata, "spec": spec}]

    routes = [f for f in _of(facts, "route") if str((f.get("value") or {}).get("method")) != "INCLUDE"]
    if routes and inputs.openapi:
        api_name = entity_name(f"{name[:MAX_NAME - 4]}-api")
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
