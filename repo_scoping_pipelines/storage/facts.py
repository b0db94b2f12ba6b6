"""Observed facts, per-file extraction state and the import graph in Postgres."""

from __future__ import annotations

import hashlib
import json

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .tables import fact_file_state, facts, files, graph_edges, graph_nodes, repositories

_BATCH = 1000


def fact_id(repository_id: int, kind: str, subject: str, path: str, line: int, source_hash: str, value) -> str:
    """Stable id from the repository, the fact and its evidence's content: reruns upsert, never duplicate."""
    key = "\0".join([str(repository_id), kind, subject, path, str(line), source_hash,
                     json.dumps(value, sort_keys=True, default=str)])
    return hashlib.sha256(key.encode("utf-8", errors="surrogateescape")).hexdigest()[:32]


def inventory(engine: Engine, repository_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(files.c.path, files.c.content_hash, files.c.size_bytes, files.c.language, files.c.lines,
                      files.c.is_binary, files.c.is_vendored, files.c.is_generated, files.c.is_documentation,
                      files.c.is_symlink, files.c.skip_reason)
            .where(files.c.repository_id == repository_id).order_by(files.c.path)
        ).mappings().all()
    return [dict(r) for r in rows]


def extraction_state(engine: Engine, repository_id: int) -> dict[str, tuple[str, str]]:
    """{path: (content_hash, extractor_version)} of the stored per-file extractions."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(fact_file_state.c.path, fact_file_state.c.content_hash,
                                      fact_file_state.c.extractor_version)
                            .where(fact_file_state.c.repository_id == repository_id)).all()
    return {r.path: (r.content_hash, r.extractor_version) for r in rows}


def stored_complexities(engine: Engine, repository_id: int, extractor_version: str) -> dict[str, tuple[str, int]]:
    """{path: (content_hash, complexity)} of the code files whose stored extraction (by this extractor
    version) measured one."""
    complexity = fact_file_state.c.extraction["complexity"].as_integer()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(fact_file_state.c.path, fact_file_state.c.content_hash, complexity)
                            .where(fact_file_state.c.repository_id == repository_id,
                                   fact_file_state.c.extractor_version == extractor_version,
                                   complexity.is_not(None))).all()
    return {path: (content_hash, value) for path, content_hash, value in rows}


def store_extractions(engine: Engine, repository_id: int, rows: list[dict], removed: list[str]) -> None:
    """Upsert per-file extractions (path, content_hash, extractor_version, family, extraction) and drop
    those of files no longer extracted, in one transaction."""
    with engine.begin() as conn:
        for start in range(0, len(removed), _BATCH):
            conn.execute(sa.delete(fact_file_state).where(fact_file_state.c.repository_id == repository_id,
                                                          fact_file_state.c.path.in_(removed[start:start + _BATCH])))
        if rows:
            # executemany: SQLAlchemy batches it into multi-row INSERTs without compiling one huge statement.
            stmt = insert(fact_file_state)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["repository_id", "path"],
                set_={c: stmt.excluded[c] for c in ("content_hash", "extractor_version", "family", "extraction")}
                | {"extracted_at": sa.func.now()}),
                [{**r, "repository_id": repository_id} for r in rows])


def load_extractions(engine: Engine, repository_id: int) -> dict[str, dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(fact_file_state.c.path, fact_file_state.c.extraction)
                            .where(fact_file_state.c.repository_id == repository_id)).all()
    return {r.path: r.extraction for r in rows}


def replace_facts(engine: Engine, repository_id: int, snapshot_id: int, commit: str,
                  rows: list[dict]) -> tuple[int, int, int]:
    """Make the stored facts of a repository exactly `rows` (dicts with fact_id and the fact's columns),
    all pointing at this snapshot. Returns (added, removed, unchanged)."""
    with engine.begin() as conn:
        existing = set(conn.execute(sa.select(facts.c.fact_id).where(facts.c.repository_id == repository_id))
                       .scalars())
        wanted = {r["fact_id"] for r in rows}
        stale = sorted(existing - wanted)
        for start in range(0, len(stale), _BATCH):
            conn.execute(sa.delete(facts).where(facts.c.fact_id.in_(stale[start:start + _BATCH])))
        new_rows = [r for r in rows if r["fact_id"] not in existing]
        if new_rows:
            conn.execute(insert(facts).on_conflict_do_nothing(index_elements=["fact_id"]),
                         [{**r, "repository_id": repository_id, "snapshot_id": snapshot_id, "commit_sha": commit}
                          for r in new_rows])
        conn.execute(sa.update(facts).where(facts.c.repository_id == repository_id,
                                            facts.c.snapshot_id != snapshot_id)
                     .values(snapshot_id=snapshot_id, commit_sha=commit))
    return len(new_rows), len(stale), len(rows) - len(new_rows)


_LISTING_ORDER = (facts.c.kind, facts.c.path, facts.c.line, facts.c.subject, facts.c.fact_id)


def list_facts(engine: Engine, repository_id: int, kind: str | None = None, limit: int = 1000,
               offset: int = 0) -> tuple[list[dict], int]:
    where = [facts.c.repository_id == repository_id]
    if kind is not None:
        where.append(facts.c.kind == kind)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(facts).where(*where)).scalar_one()
        rows = conn.execute(sa.select(facts).where(*where).order_by(*_LISTING_ORDER)
                            .limit(limit).offset(offset)).mappings().all()
    return [dict(r) for r in rows], total


def facts_of_kinds(engine: Engine, repository_id: int, kinds: tuple[str, ...], limit: int | None = None) -> list[dict]:
    """Every fact of these kinds (the first `limit`), in list_facts' order, in one query."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(facts).where(facts.c.repository_id == repository_id, facts.c.kind.in_(kinds))
                            .order_by(*_LISTING_ORDER).limit(limit)).mappings().all()
    return [dict(r) for r in rows]


def fact_counts(engine: Engine, repository_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(facts.c.kind, sa.func.count()).where(facts.c.repository_id == repository_id)
                            .group_by(facts.c.kind).order_by(facts.c.kind)).all()
    return {kind: n for kind, n in rows}


def fact_problems(engine: Engine, repository_id: int) -> dict[str, int]:
    """Counts of stored facts whose evidence is not in the snapshot, whose keys are empty, or whose values
    are out of range. All zero for a healthy repository."""
    f, inv = facts, files
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(
                sa.func.count().filter(inv.c.path.is_(None)).label("evidence_missing"),
                sa.func.count().filter(inv.c.content_hash != f.c.source_hash).label("evidence_changed"),
                sa.func.count().filter(sa.or_(f.c.line < 1, f.c.line > sa.func.greatest(inv.c.lines, 1)))
                .label("line_out_of_range"),
                sa.func.count().filter(sa.or_(f.c.kind == "", f.c.subject == "", f.c.path == "",
                                              f.c.commit_sha == "")).label("empty_keys"),
                sa.func.count().filter(sa.or_(f.c.confidence < 0, f.c.confidence > 1)).label("confidence_out_of_range"),
                sa.func.count().filter(f.c.snapshot_id != sa.select(repositories.c.last_snapshot_id).where(
                    repositories.c.id == f.c.repository_id).scalar_subquery()).label("stale_snapshot"),
                sa.func.count().filter(sa.and_(f.c.kind == "language", sa.or_(
                    f.c.value["lines"].as_integer() < 0, f.c.value["share"].as_float() < 0,
                    f.c.value["share"].as_float() > 100))).label("language_lines_out_of_range"),
            ).select_from(f.outerjoin(inv, sa.and_(inv.c.repository_id == f.c.repository_id,
                                                   inv.c.path == f.c.path)))
            .where(f.c.repository_id == repository_id)
        ).mappings().one()
    return {k: int(v) for k, v in row.items()}


def replace_graph(engine: Engine, repository_id: int, snapshot_id: int, nodes: list[dict],
                  edges: list[dict]) -> None:
    node_columns = {c.name for c in graph_nodes.columns}
    edge_columns = {c.name for c in graph_edges.columns}
    with engine.begin() as conn:
        conn.execute(sa.delete(graph_edges).where(graph_edges.c.repository_id == repository_id))
        conn.execute(sa.delete(graph_nodes).where(graph_nodes.c.repository_id == repository_id))
        node_rows = [{**{k: v for k, v in n.items() if k in node_columns}, "node_id": n["id"],
                      "repository_id": repository_id, "snapshot_id": snapshot_id} for n in nodes]
        edge_rows = [{**{k: v for k, v in e.items() if k in edge_columns}, "repository_id": repository_id,
                      "snapshot_id": snapshot_id} for e in edges]
        if node_rows:
            conn.execute(insert(graph_nodes), node_rows)
        if edge_rows:
            conn.execute(insert(graph_edges), edge_rows)


def load_graph(engine: Engine, repository_id: int) -> tuple[list[dict], list[dict]]:
    with engine.connect() as conn:
        nodes = conn.execute(sa.select(graph_nodes).where(graph_nodes.c.repository_id == repository_id)
                             .order_by(graph_nodes.c.rank.asc().nulls_last(), graph_nodes.c.node_id)).mappings().all()
        edges = conn.execute(sa.select(graph_edges).where(graph_edges.c.repository_id == repository_id)
                             .order_by(graph_edges.c.source, graph_edges.c.target)).mappings().all()
    return [dict(n) for n in nodes], [dict(e) for e in edges]


def graph_problems(engine: Engine, repository_id: int) -> dict[str, float]:
    """Edges whose ends or evidence are missing, internal nodes without their file, degree sanity, and the
    internal nodes' PageRank summing to 1."""
    n, e = graph_nodes, graph_edges
    with engine.connect() as conn:
        node_ids = sa.select(n.c.node_id).where(n.c.repository_id == repository_id)
        dangling = conn.execute(sa.select(sa.func.count()).select_from(e).where(
            e.c.repository_id == repository_id,
            sa.or_(e.c.source.not_in(node_ids), e.c.target.not_in(node_ids)))).scalar_one()
        evidence = conn.execute(sa.select(sa.func.count()).select_from(e.outerjoin(
            files, sa.and_(files.c.repository_id == e.c.repository_id, files.c.path == e.c.path))).where(
            e.c.repository_id == repository_id,
            sa.or_(files.c.path.is_(None), e.c.line < 1, e.c.line > sa.func.greatest(files.c.lines, 1)))).scalar_one()
        # A module's path is its file; a Go package's path is its directory ("dir/"), present when a file is in it.
        node_files = conn.execute(sa.select(sa.func.count()).select_from(n).where(
            n.c.repository_id == repository_id, n.c.internal, ~sa.exists().where(
                files.c.repository_id == repository_id,
                sa.or_(files.c.path == n.c.path,
                       sa.and_(n.c.path.like("%/"), n.c.path != "./", files.c.path.startswith(n.c.path)),
                       n.c.path == "./")))).scalar_one()
        stats = conn.execute(sa.select(
            sa.func.count().filter(sa.or_(n.c.in_degree < 0, n.c.out_degree < 0, n.c.lines < 0)),
            sa.func.coalesce(sa.func.sum(n.c.pagerank), 0.0), sa.func.count().filter(n.c.internal))
            .where(n.c.repository_id == repository_id)).one()
    total = float(stats[1])
    return {"dangling_edges": int(dangling), "edge_evidence_missing": int(evidence),
            "internal_nodes_without_file": int(node_files), "negative_counts": int(stats[0]),
            "pagerank_sum_off": 0 if stats[2] == 0 or abs(total - 1.0) < 1e-3 else round(total, 6)}
