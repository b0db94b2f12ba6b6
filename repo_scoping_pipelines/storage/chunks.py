"""Content chunks and the record of which chunks sit in which Milvus collection."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.engine import Engine

from ..search.classify import TEXT_SOURCES  # PR and issue chunks: their source is their class
from .tables import (
    chunk_vectors,
    content_chunks,
    content_chunks_symbol_tail,
    files,
    index_generations,
    pull_requests,
    repositories,
    tracker_issues,
)

CHUNK_COLUMNS = ("chunk_id", "path", "file_hash", "source", "kind", "symbol", "language", "start_line", "end_line",
                 "text", "index_text", "file_class")


def files_to_chunk(engine: Engine, repository_id: int) -> list[dict]:
    """Files whose current content has no stored chunks yet (and that are worth chunking)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(files.c.path, files.c.content_hash, files.c.language, files.c.is_documentation)
            .where(files.c.repository_id == repository_id, files.c.skip_reason.is_(None),
                   ~files.c.is_vendored, ~files.c.is_generated,
                   files.c.chunked_hash.is_distinct_from(files.c.content_hash))
            .order_by(files.c.path)
        ).mappings().all()
    return [dict(r) for r in rows]


def store_file_chunks(engine: Engine, repository_id: int, batch: list[tuple[dict, list[dict]]]) -> int:
    """Replace the chunks of each (file, chunks) pair and mark the file chunked, atomically per batch.

    Three statements per batch, whatever its size (executemany runs pipelined in psycopg 3):
    round trips per file made the first ingest of a large repository Postgres-bound.
    """
    if not batch:
        return 0
    hashes = {file["path"]: file["content_hash"] for file, _ in batch}
    rows = [{**r, "repository_id": repository_id} for _, chunk_rows in batch for r in chunk_rows]
    inserted = 0
    with engine.begin() as conn:
        conn.execute(sa.delete(content_chunks).where(
            content_chunks.c.repository_id == repository_id, content_chunks.c.source == "file",
            content_chunks.c.path.in_(list(hashes)),
            sa.tuple_(content_chunks.c.path, content_chunks.c.file_hash).not_in(list(hashes.items()))))
        if rows:
            result = conn.execute(
                insert(content_chunks).on_conflict_do_nothing(index_elements=["chunk_id"])
                .returning(content_chunks.c.chunk_id), rows)
            inserted = len(result.all())
        conn.execute(sa.update(files).where(files.c.repository_id == repository_id,
                                            files.c.path == sa.bindparam("file_path"))
                     .values(chunked_hash=sa.bindparam("file_hash")),
                     [{"file_path": path, "file_hash": content_hash} for path, content_hash in hashes.items()])
    return inserted


def chunks_without_class(engine: Engine, repository_id: int) -> list[dict]:
    """Files whose stored chunks have no file_class yet (chunked before 0012_search), with their flags."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(files.c.path, files.c.language, files.c.is_documentation).where(
                files.c.repository_id == repository_id,
                sa.exists(sa.select(content_chunks.c.chunk_id).where(
                    content_chunks.c.repository_id == repository_id, content_chunks.c.path == files.c.path,
                    content_chunks.c.source == "file", content_chunks.c.file_class.is_(None))))
        ).mappings().all()
    return [dict(r) for r in rows]


def set_file_classes(engine: Engine, repository_id: int, classes: dict[str, str]) -> int:
    """Set file_class on the file chunks of these paths (path -> class); one statement."""
    if not classes:
        return 0
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(content_chunks).where(content_chunks.c.repository_id == repository_id,
                                            content_chunks.c.source == "file",
                                            content_chunks.c.path == sa.bindparam("p"))
            .values(file_class=sa.bindparam("c")),
            [{"p": path, "c": cls} for path, cls in classes.items()])
    return result.rowcount or 0


def delete_orphan_chunks(engine: Engine, repository_id: int) -> int:
    """Drop file chunks whose file is gone, changed, or no longer chunkable."""
    current = sa.select(files.c.path).where(
        files.c.repository_id == repository_id, files.c.path == content_chunks.c.path,
        files.c.content_hash == content_chunks.c.file_hash, files.c.skip_reason.is_(None),
        ~files.c.is_vendored, ~files.c.is_generated)
    with engine.begin() as conn:
        result = conn.execute(sa.delete(content_chunks).where(
            content_chunks.c.repository_id == repository_id, content_chunks.c.source == "file",
            ~sa.exists(current)))
    return result.rowcount or 0


def chunk_counts(engine: Engine, repository_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(content_chunks.c.kind, sa.func.count())
                            .where(content_chunks.c.repository_id == repository_id)
                            .group_by(content_chunks.c.kind)).all()
    return {kind: n for kind, n in rows}


def chunks_without_vectors(engine: Engine, repository_id: int, collection: str, limit: int) -> list[dict]:
    joined = content_chunks.outerjoin(chunk_vectors, sa.and_(
        chunk_vectors.c.chunk_id == content_chunks.c.chunk_id, chunk_vectors.c.collection == collection))
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*[content_chunks.c[c] for c in CHUNK_COLUMNS]).select_from(joined)
            .where(content_chunks.c.repository_id == repository_id, chunk_vectors.c.chunk_id.is_(None))
            .order_by(content_chunks.c.chunk_id).limit(limit)
        ).mappings().all()
    return [dict(r) for r in rows]


def chunk_ids_without_vectors(engine: Engine, repository_id: int, collection: str) -> list[str]:
    """Every chunk of the repository that has no vector in `collection` yet, in one query."""
    joined = content_chunks.outerjoin(chunk_vectors, sa.and_(
        chunk_vectors.c.chunk_id == content_chunks.c.chunk_id, chunk_vectors.c.collection == collection))
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(content_chunks.c.chunk_id).select_from(joined)
            .where(content_chunks.c.repository_id == repository_id, chunk_vectors.c.chunk_id.is_(None))
            .order_by(content_chunks.c.chunk_id)).scalars())


def chunks_for_embedding(engine: Engine, chunk_ids: list[str]) -> list[dict]:
    """The embedding columns of these chunks, in the order given (ids since deleted are left out)."""
    if not chunk_ids:
        return []
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*[content_chunks.c[c] for c in CHUNK_COLUMNS])
                            .where(content_chunks.c.chunk_id.in_(chunk_ids))).mappings().all()
    by_id = {r["chunk_id"]: dict(r) for r in rows}
    return [by_id[c] for c in chunk_ids if c in by_id]


def vectors_without_chunks(engine: Engine, repository_id: int, collection: str) -> list[str]:
    """Vector ids whose chunk was deleted: they must leave Milvus."""
    with engine.connect() as conn:
        return list(conn.execute(
            sa.select(chunk_vectors.c.chunk_id).where(
                chunk_vectors.c.repository_id == repository_id, chunk_vectors.c.collection == collection,
                ~sa.exists(sa.select(content_chunks.c.chunk_id)
                           .where(content_chunks.c.chunk_id == chunk_vectors.c.chunk_id)))
        ).scalars())


def mark_vectors(engine: Engine, repository_id: int, collection: str, chunk_ids: list[str]) -> None:
    if not chunk_ids:
        return
    with engine.begin() as conn:
        conn.execute(insert(chunk_vectors).on_conflict_do_nothing(),
                     [{"chunk_id": c, "collection": collection, "repository_id": repository_id} for c in chunk_ids])


def mark_index_changed(engine: Engine, collection: str) -> str:
    """Give the collection a new generation token (after its Milvus rows changed); return it."""
    token = uuid.uuid4().hex
    stmt = insert(index_generations).values(collection=collection, token=token)
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=[index_generations.c.collection],
                                                set_={"token": token, "changed_at": sa.func.now()}))
    return token


def index_generation(engine: Engine, collection: str) -> str:
    """The collection's current generation token ("" before its first change)."""
    with engine.connect() as conn:
        token = conn.execute(sa.select(index_generations.c.token)
                             .where(index_generations.c.collection == collection)).scalar()
    return token or ""


def unmark_vectors(engine: Engine, collection: str, chunk_ids: list[str]) -> None:
    if not chunk_ids:
        return
    with engine.begin() as conn:
        conn.execute(sa.delete(chunk_vectors).where(chunk_vectors.c.collection == collection,
                                                    chunk_vectors.c.chunk_id.in_(chunk_ids)))


def vector_count(engine: Engine, repository_id: int, collection: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(chunk_vectors).where(
            chunk_vectors.c.repository_id == repository_id, chunk_vectors.c.collection == collection)).scalar_one()


# Built once: search runs it on every request, and a statement rebuilt per call (an IN list of
# fresh bind parameters) costs SQLAlchemy a new cache key each time. `= ANY(:ids)` binds one array.
# PR and issue chunks are stored under the paths "pulls/<number>" and "issues/<id>" (metrics.pipeline):
# the joins bring their tracker URL.
_CHUNKS_BY_IDS = (
    sa.select(content_chunks.c.chunk_id, content_chunks.c.path, content_chunks.c.start_line,
              content_chunks.c.end_line, content_chunks.c.kind, content_chunks.c.symbol, content_chunks.c.text,
              content_chunks.c.source, content_chunks.c.language, content_chunks.c.file_class,
              repositories.c.name.label("repository"), pull_requests.c.number.label("pr_number"),
              pull_requests.c.url.label("pr_url"), tracker_issues.c.issue_id.label("issue_id"),
              tracker_issues.c.url.label("issue_url"))
    .join(repositories, repositories.c.id == content_chunks.c.repository_id)
    .outerjoin(pull_requests, sa.and_(
        content_chunks.c.source == "pull_request", pull_requests.c.repository_id == content_chunks.c.repository_id,
        content_chunks.c.path == sa.func.concat("pulls/", pull_requests.c.number)))
    .outerjoin(tracker_issues, sa.and_(
        content_chunks.c.source == "issue", tracker_issues.c.repository_id == content_chunks.c.repository_id,
        content_chunks.c.path == sa.func.concat("issues/", tracker_issues.c.issue_id)))
    .where(content_chunks.c.chunk_id == sa.any_(sa.bindparam("ids", type_=ARRAY(sa.Text))))
)


# Chunks whose symbol is one of the names or ends in ".name" (Class.method): the tail expression and the
# symbol column are indexed (0015_symbol_tail), so the plain lookup is two index scans. A dotted name
# ("Class.method" in "pkg.Class.method") needs a LIKE with a leading wildcard, which no index serves:
# that branch is only in the statement used when the query has one. Built once, arrays bound whole.
_SYMBOL_COLUMNS = (content_chunks.c.chunk_id, content_chunks.c.path, content_chunks.c.start_line,
                   content_chunks.c.end_line, content_chunks.c.kind, content_chunks.c.symbol, content_chunks.c.source,
                   content_chunks.c.language, content_chunks.c.file_class, repositories.c.name.label("repository"))
_EXACT_SYMBOL = sa.or_(content_chunks.c.symbol == sa.any_(sa.bindparam("names", type_=ARRAY(sa.Text))),
                       content_chunks_symbol_tail == sa.any_(sa.bindparam("plain", type_=ARRAY(sa.Text))))


# The search filters, each off when its parameter is NULL, so that the limit counts matching rows only.
# They may be wider than the search's own test (a chunk with no stored class passes `kinds`; LIKE
# widens a glob), which runs afterwards on the few rows returned.
_SYMBOL_FILTERS = (
    sa.or_(sa.bindparam("repository", type_=sa.Text).is_(None),
           repositories.c.name == sa.bindparam("repository", type_=sa.Text)),
    sa.or_(sa.bindparam("kinds", type_=ARRAY(sa.Text)).is_(None),
           sa.case((content_chunks.c.source.in_(TEXT_SOURCES), content_chunks.c.source),
                   else_=content_chunks.c.file_class) == sa.any_(sa.bindparam("kinds", type_=ARRAY(sa.Text))),
           sa.and_(content_chunks.c.source.not_in(TEXT_SOURCES), content_chunks.c.file_class.is_(None))),
    sa.or_(sa.bindparam("languages", type_=ARRAY(sa.Text)).is_(None),
           content_chunks.c.language == sa.any_(sa.bindparam("languages", type_=ARRAY(sa.Text)))),
    sa.or_(sa.bindparam("path_like", type_=sa.Text).is_(None),
           content_chunks.c.path.like(sa.bindparam("path_like", type_=sa.Text), escape="")),
)


def _symbol_statement(condition) -> sa.Select:
    return (sa.select(*_SYMBOL_COLUMNS)
            .join(repositories, repositories.c.id == content_chunks.c.repository_id)
            .where(condition, *_SYMBOL_FILTERS)
            .order_by(content_chunks.c.chunk_id)
            .limit(sa.bindparam("limit", type_=sa.Integer)))


_SYMBOL_MATCHES = _symbol_statement(_EXACT_SYMBOL)
_SYMBOL_MATCHES_DOTTED = _symbol_statement(sa.or_(
    _EXACT_SYMBOL, content_chunks.c.symbol.like(sa.any_(sa.bindparam("dotted", type_=ARRAY(sa.Text))))))


def symbol_matches(engine: Engine, names: list[str], *, repository: str | None, limit: int,
                   kinds: tuple[str, ...] = (), languages: tuple[str, ...] = (),
                   path_like: str | None = None) -> list[dict]:
    """Chunks whose symbol is one of `names` or ends in ".name", for the exact symbol matches of the
    identifiers typed in a query (the name "method" matches "Class.method"; "Class.method" matches
    "pkg.Class.method"), narrowed by the search filters (`path_like`: a LIKE pattern, no escape)."""
    if not names:
        return []
    escaped = [n.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for n in names if "." in n]
    params = {"names": list(names), "plain": [n for n in names if "." not in n],
              "dotted": ["%." + n for n in escaped], "repository": repository, "limit": limit,
              "kinds": list(kinds) or None, "languages": list(languages) or None, "path_like": path_like}
    statement = _SYMBOL_MATCHES_DOTTED if params["dotted"] else _SYMBOL_MATCHES
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(statement, params).mappings()]


def chunks_by_ids(engine: Engine, chunk_ids: list[str]) -> dict[str, dict]:
    """What a search result shows of each chunk (not its index text), by chunk id."""
    if not chunk_ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(_CHUNKS_BY_IDS, {"ids": list(chunk_ids)}).mappings().all()
    return {r["chunk_id"]: dict(r) for r in rows}


def chunk_problems(engine: Engine, repository_id: int) -> dict[str, int]:
    """Data-quality counts for content_chunks: bad spans, chunks of files no longer inventoried."""
    with engine.connect() as conn:
        bad_spans = conn.execute(sa.select(sa.func.count()).select_from(content_chunks).where(
            content_chunks.c.repository_id == repository_id,
            sa.or_(content_chunks.c.start_line < 1, content_chunks.c.end_line < content_chunks.c.start_line))
        ).scalar_one()
        orphans = conn.execute(sa.select(sa.func.count()).select_from(content_chunks).where(
            content_chunks.c.repository_id == repository_id, content_chunks.c.source == "file",
            ~sa.exists(sa.select(files.c.path).where(files.c.repository_id == repository_id,
                                                     files.c.path == content_chunks.c.path,
                                                     files.c.content_hash == content_chunks.c.file_hash)))
        ).scalar_one()
    return {"bad_spans": bad_spans, "orphan_chunks": orphans}


def chunk_total(engine: Engine, repository_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(content_chunks)
                            .where(content_chunks.c.repository_id == repository_id)).scalar_one()
