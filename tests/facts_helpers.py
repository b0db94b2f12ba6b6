"""Helpers for the facts tests: observe a git repository the test made, read its facts back."""

from __future__ import annotations

from repo_scoping_pipelines.collectors.pipeline import take_snapshot
from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.facts.pipeline import build_repository_graph, observe_repository
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage import facts as fact_store


def observe(services, make_repo, name: str, files: dict):
    """Make a git repo, register it, snapshot it and extract its facts (no Dagster: fast)."""
    repo = make_repo(name, files)
    register_repository(services, name, str(repo.path))
    take_snapshot(services, name)
    return repo, observe_repository(services, name)


def graph_of(services, name: str):
    return build_repository_graph(services, name).graph


def facts(services, name: str, kind: str | None = None) -> list[dict]:
    repo = catalog.get_repository(services.engine, name)
    rows, _ = fact_store.list_facts(services.engine, repo.id, kind, limit=10000)
    return rows


def table(services, name: str, kind: str) -> set[tuple]:
    """{(subject, path, line)} of one kind: compact to assert exactly."""
    return {(r["subject"], r["path"], r["line"]) for r in facts(services, name, kind)}


def by_subject(services, name: str, kind: str) -> dict[str, dict]:
    return {r["subject"]: r for r in facts(services, name, kind)}
