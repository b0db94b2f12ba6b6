"""Operations storage: guardrail events, Postgres keyword search (the fallback when Milvus is down), row counts."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .tables import SCHEMA, content_chunks, content_chunks_tsv, guardrail_events, repositories

GUARDRAIL_COUNTERS = ("prompt_injection", "ungrounded_claim", "schema_violation", "unsafe_content")

_TOKEN = re.compile(r"^[a-z0-9_]+$")
_TSV = content_chunks_tsv  # the expression ix_content_chunks_index_tsv indexes


def record_guardrail(engine: Engine, counter: str, subject: str, *, repository_id: int | None = None,
                     detail: str | None = None) -> bool:
    """Count one guardrail event; the same (counter, subject) counts once however often a run repeats."""
    if counter not in GUARDRAIL_COUNTERS:
        raise ValueError(f"unknown guardrail counter {counter!r}")
    with engine.begin() as conn:
        row = conn.execute(insert(guardrail_events).values(
            counter=counter, subject=subject, repository_id=repository_id, detail=(detail or "")[:500])
            .on_conflict_do_nothing(constraint="uq_guardrail_events_counter_subject")
            .returning(guardrail_events.c.id)).first()
    return row is not None


def guardrail_counts(engine: Engine) -> dict[str, int]:
    """Ingestion-time events (guardrail_events) plus the LLM stage's counters (latest ability run per repository)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(guardrail_events.c.counter, sa.func.count())
                            .group_by(guardrail_events.c.counter)).all()
    counts = dict.fromkeys(GUARDRAIL_COUNTERS, 0)
    counts.update({c: n for c, n in rows})
    try:
        from .abilities import guardrail_totals
    except ImportError:  # the abilities stage is optional
        return counts
    try:
        for counter, n in guardrail_totals(engine).items():
            counts[counter] = counts.get(counter, 0) + int(n)
    except sa.exc.SQLAlchemyError:  # its tables not migrated in this database
        pass
    return counts


def keyword_search(engine: Engine, keyword_text: str, *, repository: str | None, limit: int) -> list[dict]:
    """Chunks matching any normalised query token, ranked by ts_rank_cd over the GIN-indexed tsvector."""
    tokens = [t for t in dict.fromkeys(keyword_text.split()) if _TOKEN.match(t)][:64]
    if not tokens:
        return []
    query = sa.func.to_tsquery(sa.literal_column("'simple'::regconfig"), " | ".join(tokens))
    score = sa.func.ts_rank_cd(_TSV, query).label("score")
    stmt = (sa.select(content_chunks, repositories.c.name.label("repository"), score)
            .join(repositories, repositories.c.id == content_chunks.c.repository_id)
            .where(_TSV.op("@@")(query))
            .order_by(score.desc(), content_chunks.c.chunk_id).limit(limit))
    if repository is not None:
        stmt = stmt.where(repositories.c.name == repository)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings().all()]


def table_row_counts(engine: Engine) -> dict[str, int]:
    """Exact row counts of every table in the project's schema (backup manifests, restore checks)."""
    with engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"), {"s": SCHEMA}).scalars().all()
        return {n: conn.execute(sa.text(f'SELECT count(*) FROM {SCHEMA}."{n}"')).scalar_one() for n in names}
