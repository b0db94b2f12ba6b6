"""Exports from stored facts: the SBOM and the OpenAPI document of a repository's latest snapshot, and
writing them to export_documents (the Dagster assets)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from ..storage import abilities as ability_store
from ..storage import catalog
from ..storage import exports as export_store
from ..storage import facts as fact_store
from .backstage import Inputs, build_catalog_info
from .openapi import build_openapi
from .sbom import Document, build_sbom
from .timeline import ability_changes, similar, summarise

_PAGE = 10000


def _facts(engine: Engine, repository_id: int, kinds: tuple[str, ...]) -> list[dict]:
    rows: list[dict] = []
    for kind in kinds:
        offset = 0
        while True:
            page, total = fact_store.list_facts(engine, repository_id, kind, limit=_PAGE, offset=offset)
            rows += page
            offset += len(page)
            if not page or offset >= total:
                break
    return rows


@dataclass(frozen=True)
class Source:
    """What an export is built from: the repository, the commit its facts describe, and those facts."""

    repository: catalog.Repository
    commit: str | None
    facts: list[dict]
    snapshot: dict | None


def load_source(engine: Engine, name: str, kinds: tuple[str, ...]) -> Source:
    """Raises catalog.NotFound for an unknown repository."""
    repo = catalog.get_repository(engine, name)
    snapshot = catalog.latest_snapshot(engine, repo.id)
    rows = _facts(engine, repo.id, kinds)
    commit = rows[0]["commit_sha"] if rows else (snapshot["commit_sha"] if snapshot else None)
    return Source(repo, commit, rows, snapshot)


def sbom_document(engine: Engine, name: str) -> Document:
    source = load_source(engine, name, ("manifest", "dependency"))
    return build_sbom(source.repository.name, source.commit, source.facts,
                      timestamp=source.snapshot["created_at"] if source.snapshot else None)


def openapi_document(engine: Engine, name: str) -> Document:
    source = load_source(engine, name, ("route",))
    return build_openapi(source.repository.name, source.commit, source.facts)


BACKSTAGE_KINDS = ("language", "framework", "codeowners", "entry_point", "route", "manifest", "dependency",
                   "dockerfile", "helm_chart", "compose_service", "ci_job")


def backstage_inputs(engine: Engine, name: str) -> Inputs:
    source = load_source(engine, name, BACKSTAGE_KINDS)
    repo = source.repository
    routes = [f for f in source.facts if f["kind"] == "route"]
    openapi = build_openapi(repo.name, source.commit, routes).content if routes else None
    return Inputs(repository=repo.name, source=repo.source, commit=source.commit, facts=source.facts,
                  abilities=ability_store.repository_abilities(engine, repo.id),
                  top_author=export_store.top_author(engine, repo.id),
                  packages=export_store.package_names(engine), openapi=openapi)


def backstage_document(engine: Engine, name: str) -> Document:
    """catalog-info.yaml of repository `name` (multi-document YAML: its Component, and its API if any)."""
    return build_catalog_info(backstage_inputs(engine, name))


BUILDERS: dict[str, Callable[[Engine, str], Document]] = {"sbom": sbom_document, "openapi": openapi_document,
                                                          "backstage": backstage_document}


@dataclass(frozen=True)
class Written:
    document: Document
    changed: bool


def write_export(engine: Engine, name: str, kind: str) -> Written:
    """Build the export `kind` of repository `name` and store it (export_documents)."""
    document = BUILDERS[kind](engine, name)
    repo = catalog.get_repository(engine, name)
    changed = export_store.store_document(engine, repo.id, kind, document.commit, document.media_type,
                                          document.content, document.content_hash)
    return Written(document, changed)


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
