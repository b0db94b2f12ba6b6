"""Repositories, snapshots and the file inventory in Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from ..collectors import languages
from .tables import files, repositories, snapshots


class NotFound(LookupError):
    """A named thing (repository, candidate, ...) is not stored."""


class AlreadyExists(ValueError):
    """A repository with that name is already registered."""


@dataclass(frozen=True)
class Repository:
    id: int
    name: str
    source: str
    source_kind: str
    default_branch: str | None
    last_snapshot_id: int | None
    created_at: datetime


def _repository(row) -> Repository:
    return Repository(id=row.id, name=row.name, source=row.source, source_kind=row.source_kind,
                      default_branch=row.default_branch, last_snapshot_id=row.last_snapshot_id,
                      created_at=row.created_at)


def add_repository(engine: Engine, name: str, source: str, source_kind: str) -> Repository:
    with engine.begin() as conn:
        row = conn.execute(
            insert(repositories).values(name=name, source=source, source_kind=source_kind)
            .on_conflict_do_nothing(index_elements=["name"]).returning(*repositories.c)
        ).first()
    if row is None:
        raise AlreadyExists(f"repository {name!r} is already registered")
    return _repository(row)


def set_source(engine: Engine, name: str, source: str) -> Repository:
    """Point a registered repository at a new source (e.g. a newer uploaded archive)."""
    with engine.begin() as conn:
        row = conn.execute(sa.update(repositories).where(repositories.c.name == name)
                           .values(source=source, updated_at=sa.func.now()).returning(*repositories.c)).first()
    if row is None:
        raise NotFound(f"repository {name!r} is not registered")
    return _repository(row)


def remove_repository(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(repositories).where(repositories.c.name == name))


def get_repository(engine: Engine, name: str) -> Repository:
    with engine.connect() as conn:
        row = conn.execute(sa.select(repositories).where(repositories.c.name == name)).first()
    if row is None:
        raise NotFound(f"repository {name!r} is not registered")
    return _repository(row)


def list_repositories(engine: Engine) -> list[Repository]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(repositories).order_by(repositories.c.name)).all()
    return [_repository(r) for r in rows]


def previous_inventory(engine: Engine, repository_id: int) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(files.c.path, files.c.content_hash, files.c.lines, files.c.is_binary, files.c.skip_reason)
            .where(files.c.repository_id == repository_id)
        ).mappings().all()
    return {r["path"]: dict(r) for r in rows}


@dataclass(frozen=True)
class SnapshotWrite:
    snapshot_id: int
    new_snapshot: bool
    added: int
    changed: int
    removed: int
    unchanged: int


def record_snapshot(engine: Engine, repository_id: int, commit: str, branch: str | None,
                    records: list[dict]) -> SnapshotWrite:
    """Store the snapshot and replace the inventory with `records`, in one transaction."""
    with engine.begin() as conn:
        snapshot_id = conn.execute(
            insert(snapshots).values(repository_id=repository_id, commit_sha=commit, branch=branch,
                                     file_count=len(records), total_bytes=sum(r["size_bytes"] for r in records))
            .on_conflict_do_nothing(constraint="uq_snapshots_repository_commit").returning(snapshots.c.id)
        ).scalar()
        new_snapshot = snapshot_id is not None
        if snapshot_id is None:
            snapshot_id = conn.execute(
                sa.select(snapshots.c.id).where(snapshots.c.repository_id == repository_id,
                                                snapshots.c.commit_sha == commit)
            ).scalar_one()
        old = {r.path: r.content_hash for r in conn.execute(
            sa.select(files.c.path, files.c.content_hash).where(files.c.repository_id == repository_id))}
        new_paths = {r["path"] for r in records}
        removed = [p for p in old if p not in new_paths]
        if removed:
            conn.execute(sa.delete(files).where(files.c.repository_id == repository_id, files.c.path.in_(removed)))
        changed_rows = [r for r in records if old.get(r["path"]) != r["content_hash"]]
        for start in range(0, len(changed_rows), 1000):
            batch = [{**r, "repository_id": repository_id, "snapshot_id": snapshot_id}
                     for r in changed_rows[start:start + 1000]]
            stmt = insert(files).values(batch)
            update = {c: stmt.excluded[c] for c in batch[0] if c not in ("repository_id", "path")}
            conn.execute(stmt.on_conflict_do_update(index_elements=["repository_id", "path"], set_=update))
        conn.execute(sa.update(files).where(files.c.repository_id == repository_id)
                     .values(snapshot_id=snapshot_id))
        conn.execute(sa.update(repositories).where(repositories.c.id == repository_id)
                     .values(last_snapshot_id=snapshot_id, default_branch=branch, updated_at=sa.func.now()))
    added = sum(1 for r in changed_rows if r["path"] not in old)
    return SnapshotWrite(snapshot_id=snapshot_id, new_snapshot=new_snapshot, added=added,
                         changed=len(changed_rows) - added, removed=len(removed),
                         unchanged=len(records) - len(changed_rows))


def latest_snapshot(engine: Engine, repository_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(snapshots).join(repositories, repositories.c.last_snapshot_id == snapshots.c.id)
            .where(repositories.c.id == repository_id)
        ).mappings().first()
    return dict(row) if row else None


_SNAPSHOT_SUMMARY = (snapshots.c.commit_sha, snapshots.c.file_count, snapshots.c.total_bytes,
                     snapshots.c.created_at.label("snapshot_created_at"))


def repositories_with_snapshots(engine: Engine, name: str | None = None) -> list[tuple[Repository, dict | None]]:
    """Every repository (or the one named) with its latest snapshot's summary, in one query."""
    query = (sa.select(repositories, *_SNAPSHOT_SUMMARY)
             .outerjoin(snapshots, snapshots.c.id == repositories.c.last_snapshot_id)
             .order_by(repositories.c.name))
    if name is not None:
        query = query.where(repositories.c.name == name)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if name is not None and not rows:
        raise NotFound(f"repository {name!r} is not registered")
    return [(_repository(row), None if row.commit_sha is None else {
        "commit_sha": row.commit_sha, "file_count": row.file_count, "total_bytes": row.total_bytes,
        "created_at": row.snapshot_created_at}) for row in rows]


def language_lines(engine: Engine, repository_id: int) -> dict[str, int]:
    """Lines per language over files that are not vendored, generated or documentation."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(files.c.language, sa.func.sum(files.c.lines))
            .where(files.c.repository_id == repository_id, files.c.language.is_not(None),
                   ~files.c.is_vendored, ~files.c.is_generated, ~files.c.is_documentation, ~files.c.is_binary)
            .group_by(files.c.language).order_by(sa.func.sum(files.c.lines).desc())
        ).all()
    # Like github-linguist's statistics: programming and markup languages, not data formats.
    return {lang: int(n or 0) for lang, n in rows if lang in languages.COUNTED}
