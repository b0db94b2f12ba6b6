"""The approved ability registry: every approved, current candidate across repositories."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from ..storage import abilities as store


def publish(engine: Engine) -> store.RegistryWrite:
    """Rebuild the registry from the newest review decisions (one transaction)."""
    return store.publish_registry(engine)


def search(engine: Engine, query: str | None, limit: int = 50) -> list[dict]:
    """Approved abilities across repositories matching every word of `query` (all when empty)."""
    return store.search_abilities(engine, query, limit)


def for_repository(engine: Engine, repository_id: int) -> list[dict]:
    return store.repository_abilities(engine, repository_id)
