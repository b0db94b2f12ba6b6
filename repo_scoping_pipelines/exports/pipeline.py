"""Exports from stored facts: the SBOM and the OpenAPI document of a repository's latest snapshot, and
writing them to export_documents (the Dagster assets)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from ..storage import abilities as ability_store
from ..storage import catalog
from ..storage import exports as export_store
from ..storage import facts as fact_store
from .backstage import Inputs, RouteIndex, build_catalog_info
from .openapi import build_openapi, http_routes
from .sbom import Document, build_sbom
from .timeline import ability_changes, similar, summarise


@dataclass(frozen=True)
class Source:
    """What an export is built from: the repository, the commit its facts describe, and those facts."""

    repository: catalog.Repository
    commit: str | None
    facts: list[dict]
    snapshot: dict | None


def load_source(engine: Engine, name: str, kinds: tuple[str, ...]) -> Source:
    """Raises catalog.NotFound for an unknown repository."""
    ((repo, snapshot),) = catalog.repositories_with_snapshots(engine, name)
    rows = fact_store.facts_of_kinds(engine, repo.id, kinds)
    commit = rows[0]["commit_sha"] if rows else (snapshot["commit_sha"] if snapshot else None)
    return Source(repo, commit, rows, snapshot)


def _sbom(source: Source) -> Document:
    return build_sbom(source.repository.name, source.commit, source.facts,
                      timestamp=source.snapshot["created_at"] if source.snapshot else None)


def _openapi(source: Source) -> Document:
    return build_openapi(source.repository.name, source.commit, source.facts)


# What each per-repository document is built from: the fact kinds it reads, and the builder.
FROM_FACTS: dict[str, tuple[tuple[str, ...], Callable[[Source], Document]]] = {
    "sbom": (("manifest", "dependency", "locked_dependency"), _sbom), "openapi": (("route",), _openapi)}


BACKSTAGE_KINDS = ("language", "framework", "codeowners", "entry_point", "route", "manifest", "dependency",
                   "dockerfile", "helm_chart", "compose_service", "ci_job", "http_call")


@dataclass(frozen=True)
class Outside:
    """What catalog-info.yaml takes from beyond the repository's own facts."""

    repository_id: int
    abilities: list[dict]  # the approved registry rows
    top_author: dict | None
    packages: dict[str, str]  # every registered repository's package names
    routes: RouteIndex = field(default_factory=lambda: RouteIndex({}))  # every repository's routes (consumesApis)


def backstage_outside(engine: Engine, name: str, packages: dict[str, str] | None = None,
                      routes: RouteIndex | None = None) -> Outside:
    """`packages` and `routes` when the caller already has them (several repositories in a row)."""
    repo = catalog.get_repository(engine, name)
    return Outside(repo.id, ability_store.repository_abilities(engine, repo.id), export_store.top_author(engine, repo.id),
                   export_store.package_names(engine) if packages is None else packages,
                   RouteIndex(export_store.route_facts(engine)) if routes is None else routes)


def outside_digest(outside: Outside, name: str) -> str:
    """A short hash of what catalog-info.yaml of `name` takes from outside its own facts: a change to any of
    it (an approval, the top author, another repository's package names or routes) changes the document."""
    routes = sorted((repo, f["subject"], f["path"], f["line"])  # the consumes evidence cites their path:line
                    for repo, facts in outside.routes.facts.items() if repo != name for f in facts)
    return hashlib.sha256(json.dumps([sorted(a["key"] for a in outside.abilities), outside.top_author,
                                      sorted(outside.packages.items()), routes], default=str).encode()
                          ).hexdigest()[:16]


def backstage_inputs(engine: Engine, name: str, outside: Outside | None = None) -> Inputs:
    """What catalog-info.yaml is built from (`outside` read now unless given)."""
    outside = outside or backstage_outside(engine, name)
    source = load_source(engine, name, BACKSTAGE_KINDS)
    repo = source.repository
    routes = http_routes(source.facts)
    openapi = build_openapi(repo.name, source.commit, routes).content if routes else None
    return Inputs(repository=repo.name, source=repo.source, commit=source.commit, facts=source.facts,
                  abilities=outside.abilities, top_author=outside.top_author, packages=outside.packages,
                  openapi=openapi, routes=outside.routes)


def backstage_document(engine: Engine, name: str) -> Document:
    """catalog-info.yaml of repository `name` (multi-document YAML: its Component, and its API if any)."""
    return build_catalog_info(backstage_inputs(engine, name))


def document(engine: Engine, name: str, kind: str) -> Document:
    """The export `kind` (sbom, openapi, backstage) of repository `name`, built now from what is stored."""
    if kind == "backstage":
        return backstage_document(engine, name)
    kinds, build = FROM_FACTS[kind]
    return build(load_source(engine, name, kinds))


@dataclass(frozen=True)
class Written:
    document: Document
    changed: bool
    source: Source  # the facts it was built from (the asset checks compare with them)


def store_export(engine: Engine, repository_id: int, kind: str, document: Document) -> bool:
    """Keep the latest document of `kind` (export_documents); True when its content changed."""
    return export_store.store_document(engine, repository_id, kind, document.commit, document.media_type,
                                       document.content, document.content_hash)


def write_export(engine: Engine, name: str, kind: str) -> Written:
    """Build the export `kind` (sbom, openapi) of repository `name` from its facts and store it."""
    kinds, build = FROM_FACTS[kind]
    source = load_source(engine, name, kinds)
    document = build(source)
    return Written(document, store_export(engine, source.repository.id, kind, document), source)


def repository_ability_changes(engine: Engine, name: str, since: str | None = None) -> dict:
    """Gained / lost / changed abilities between consecutive recorded snapshots (timeline.ability_changes);
    raises catalog.NotFound, timeline.InvalidSince."""
    repo = catalog.get_repository(engine, name)
    timeline = ability_store.ability_timeline(engine, repo.id)
    return {"repository": repo.name, "since": since,
            "snapshots": [{"commit": s["commit"], "seen_at": s["seen_at"], "candidates": len(s["candidates"])}
                          for s in timeline],
            "changes": ability_changes(timeline, since)}


def similar_repositories(engine: Engine, name: str, limit: int = 10) -> dict:
    """Other repositories ranked by shared approved abilities, frameworks and dependencies (timeline.similar)."""
    repo = catalog.get_repository(engine, name)
    sets = export_store.similarity_sets(engine)
    target = sets.pop(repo.name)
    return {"repository": repo.name, "method": "mean Jaccard index over approved abilities, frameworks and "
                                               "declared dependencies (sets empty on both sides not counted)",
            "similar": similar(target, sets, limit)}


def ability_digest(engine: Engine, since: datetime) -> list[dict]:
    """Every repository's net ability changes between the snapshots recorded after `since`
    (timeline.summarise), repositories without a change left out."""
    out = []
    for repo in catalog.list_repositories(engine):
        changes = ability_changes(ability_store.ability_timeline(engine, repo.id), since.isoformat())
        entry = summarise(repo.name, changes)
        if entry is not None:
            out.append(entry)
    return out
