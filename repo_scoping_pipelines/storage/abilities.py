"""Ability candidates, review decisions, the approved registry, the LLM cache and candidate runs."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .catalog import NotFound
from .tables import (
    ability_candidates,
    ability_registry,
    ability_runs,
    ability_snapshot_runs,
    ability_snapshots,
    content_chunks,
    facts,
    llm_cache,
    repositories,
    review_decisions,
)

CANDIDATE_STATUSES = ("pending", "approved", "rejected")
DECISIONS = {"approve": "approved", "reject": "rejected"}

# --- facts (written by the facts stage; read here from the shared schema) -------------------------------

@dataclass(frozen=True)
class StoredFact:
    """A fact as rules and prompts see it: its stored id plus the fact itself."""

    fact_id: str
    kind: str
    subject: str
    value: object
    path: str
    line: int
    confidence: float = 1.0


def repository_facts(engine: Engine, repository_id: int) -> list[StoredFact]:
    """Every current fact of a repository, in a stable order."""
    stmt = (sa.select(facts.c.fact_id, facts.c.kind, facts.c.subject, facts.c.value, facts.c.path, facts.c.line,
                      facts.c.confidence)
            .where(facts.c.repository_id == repository_id))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = [StoredFact(fact_id=row.fact_id, kind=row.kind, subject=row.subject, value=row.value,  # JSONB: decoded
                      path=row.path, line=row.line, confidence=float(row.confidence)) for row in rows]
    out.sort(key=lambda f: (f.kind, f.path, f.line, f.subject, f.fact_id))
    return out


def fact_ids_present(engine: Engine, fact_ids: Iterable[str]) -> set[str]:
    ids = list(dict.fromkeys(str(i) for i in fact_ids))
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(sa.select(facts.c.fact_id).where(facts.c.fact_id.in_(ids))).scalars())


# --- chunks the prompt may quote ------------------------------------------------------------------------

def repository_chunks(engine: Engine, repository_id: int, limit: int = 5000) -> list[dict]:
    """Chunks of a repository with their text, for picking the prompt's evidence."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(content_chunks.c.chunk_id, content_chunks.c.path, content_chunks.c.kind,
                      content_chunks.c.symbol, content_chunks.c.language, content_chunks.c.start_line,
                      content_chunks.c.end_line, content_chunks.c.text, content_chunks.c.source)
            .where(content_chunks.c.repository_id == repository_id)
            .order_by(content_chunks.c.path, content_chunks.c.start_line, content_chunks.c.chunk_id).limit(limit)
        ).mappings().all()
    return [dict(r) for r in rows]


def chunk_ids_present(engine: Engine, chunk_ids: Iterable[str]) -> set[str]:
    ids = list(dict.fromkeys(chunk_ids))
    if not ids:
        return set()
    with engine.connect() as conn:
        return set(conn.execute(sa.select(content_chunks.c.chunk_id).where(content_chunks.c.chunk_id.in_(ids)))
                   .scalars())


# --- candidates -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CandidateWrite:
    added: int
    updated: int
    unchanged: int
    retired: int
    revived: int


def store_candidates(engine: Engine, repository_id: int, commit: str | None, candidates: list[dict], *,
                     keep_sources: tuple[str, ...] = ()) -> CandidateWrite:
    """Upsert this snapshot's candidates by (repository, ability key) and retire the ones no longer found.

    A candidate keeps its id and review status across snapshots; its evidence and wording follow the
    latest snapshot. Candidates of `keep_sources` that were not made this time are left as they are
    (not retired). All in one transaction, so a rerun or a killed run leaves a consistent set.
    """
    added = updated = unchanged = revived = 0
    keys = [c["ability_key"] for c in candidates]
    with engine.begin() as conn:
        existing = {r.ability_key: r for r in conn.execute(
            sa.select(ability_candidates).where(ability_candidates.c.repository_id == repository_id))}
        for cand in candidates:
            old = existing.get(cand["ability_key"])
            content = {k: cand[k] for k in ("name", "category", "description", "evidence", "confidence", "source")}
            if old is None:
                conn.execute(insert(ability_candidates).values(
                    candidate_id=cand["candidate_id"], repository_id=repository_id,
                    ability_key=cand["ability_key"], snapshot_commit=commit, first_seen_commit=commit, **content,
                ).on_conflict_do_nothing(index_elements=["candidate_id"]))
                added += 1
                continue
            same = all(getattr(old, k) == v for k, v in content.items())
            if same and old.retired_at is None and old.snapshot_commit == commit:
                unchanged += 1
                continue
            if old.retired_at is not None:
                revived += 1
            elif same:
                unchanged += 1
            else:
                updated += 1
            conn.execute(sa.update(ability_candidates)
                         .where(ability_candidates.c.candidate_id == old.candidate_id)
                         .values(**content, snapshot_commit=commit, retired_at=None,
                                 updated_at=sa.func.now() if not same else old.updated_at))
        retire = conn.execute(
            sa.update(ability_candidates)
            .where(ability_candidates.c.repository_id == repository_id, ability_candidates.c.retired_at.is_(None),
                   ability_candidates.c.ability_key.not_in(keys) if keys else sa.true(),
                   ability_candidates.c.source.not_in(keep_sources) if keep_sources else sa.true())
            .values(retired_at=sa.func.now(), updated_at=sa.func.now()))
    return CandidateWrite(added=added, updated=updated, unchanged=unchanged, retired=retire.rowcount or 0,
                          revived=revived)


def _candidate(row, repository: str | None = None) -> dict:
    out = {
        "candidate_id": row.candidate_id,
        "key": row.ability_key,
        "name": row.name,
        "category": row.category,
        "description": row.description,
        "evidence": row.evidence,
        "confidence": round(float(row.confidence), 3),
        "source": row.source,
        "status": "retired" if row.retired_at is not None else row.status,
        "review_status": row.status,
        "snapshot_commit": row.snapshot_commit,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None,
    }
    if repository is not None:
        out["repository"] = repository
    return out


def list_candidates(engine: Engine, repository_id: int, status: str | None = None) -> list[dict]:
    """Candidates of a repository; status pending|approved|rejected (current ones) or retired."""
    stmt = sa.select(ability_candidates).where(ability_candidates.c.repository_id == repository_id)
    if status == "retired":
        stmt = stmt.where(ability_candidates.c.retired_at.is_not(None))
    elif status is not None:
        stmt = stmt.where(ability_candidates.c.status == status, ability_candidates.c.retired_at.is_(None))
    else:
        stmt = stmt.where(ability_candidates.c.retired_at.is_(None))
    stmt = stmt.order_by(ability_candidates.c.category, ability_candidates.c.name, ability_candidates.c.candidate_id)
    with engine.connect() as conn:
        return [_candidate(r) for r in conn.execute(stmt)]


def get_candidate(engine: Engine, candidate_id: str) -> dict:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(ability_candidates, repositories.c.name.label("repository"))
            .join(repositories, repositories.c.id == ability_candidates.c.repository_id)
            .where(ability_candidates.c.candidate_id == candidate_id)).first()
    if row is None:
        raise NotFound(f"candidate {candidate_id!r} does not exist")
    return _candidate(row, row.repository)


# --- reviews --------------------------------------------------------------------------------------------

def record_decision(engine: Engine, candidate_id: str, decision: str, reviewer: str, note: str | None) -> dict:
    """Append a decision to the history and make it the candidate's status (the newest decision wins)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    with engine.begin() as conn:
        row = conn.execute(sa.select(ability_candidates.c.candidate_id, ability_candidates.c.repository_id)
                           .where(ability_candidates.c.candidate_id == candidate_id)
                           .with_for_update()).first()
        if row is None:
            raise NotFound(f"candidate {candidate_id!r} does not exist")
        stored = conn.execute(insert(review_decisions).values(
            candidate_id=candidate_id, repository_id=row.repository_id, decision=decision, reviewer=reviewer,
            note=note).returning(review_decisions)).one()
        conn.execute(sa.update(ability_candidates).where(ability_candidates.c.candidate_id == candidate_id)
                     .values(status=DECISIONS[decision], reviewed_at=stored.created_at))
    return _decision(stored)


def _decision(row) -> dict:
    return {"id": row.id, "candidate_id": row.candidate_id, "decision": row.decision, "reviewer": row.reviewer,
            "note": row.note, "created_at": row.created_at.isoformat()}


def decision_history(engine: Engine, candidate_id: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(review_decisions).where(review_decisions.c.candidate_id == candidate_id)
                            .order_by(review_decisions.c.id)).all()
    return [_decision(r) for r in rows]


def last_decision_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(review_decisions.c.id), 0))).scalar_one())


# --- the approved registry ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RegistryWrite:
    total: int
    added: int
    removed: int
    by_repository: dict[str, int] = field(default_factory=dict)


def publish_registry(engine: Engine) -> RegistryWrite:
    """Replace the registry with every approved, current candidate (one transaction)."""
    latest = (sa.select(review_decisions.c.candidate_id, review_decisions.c.reviewer, review_decisions.c.note,
                        review_decisions.c.created_at)
              .distinct(review_decisions.c.candidate_id)
              .order_by(review_decisions.c.candidate_id, review_decisions.c.id.desc())).subquery()
    source = (sa.select(ability_candidates.c.candidate_id, ability_candidates.c.repository_id,
                        repositories.c.name.label("repository"), ability_candidates.c.ability_key,
                        ability_candidates.c.name, ability_candidates.c.category, ability_candidates.c.description,
                        ability_candidates.c.evidence, ability_candidates.c.confidence, ability_candidates.c.source,
                        latest.c.reviewer.label("approved_by"), latest.c.note.label("approval_note"),
                        latest.c.created_at.label("approved_at"))
              .join(repositories, repositories.c.id == ability_candidates.c.repository_id)
              .outerjoin(latest, latest.c.candidate_id == ability_candidates.c.candidate_id)
              .where(ability_candidates.c.status == "approved", ability_candidates.c.retired_at.is_(None)))
    with engine.begin() as conn:
        conn.execute(sa.text("LOCK TABLE repo_scoping.ability_registry IN EXCLUSIVE MODE"))
        before = set(conn.execute(sa.select(ability_registry.c.candidate_id)).scalars())
        rows = [dict(r) for r in conn.execute(source).mappings()]
        conn.execute(sa.delete(ability_registry))
        if rows:
            conn.execute(insert(ability_registry).values(rows))
    after = {r["candidate_id"] for r in rows}
    by_repo: dict[str, int] = {}
    for r in rows:
        by_repo[r["repository"]] = by_repo.get(r["repository"], 0) + 1
    return RegistryWrite(total=len(rows), added=len(after - before), removed=len(before - after),
                         by_repository=dict(sorted(by_repo.items())))


def _ability(row) -> dict:
    return {
        "candidate_id": row.candidate_id, "repository": row.repository, "key": row.ability_key, "name": row.name,
        "category": row.category, "description": row.description, "evidence": row.evidence,
        "confidence": round(float(row.confidence), 3), "source": row.source, "approved_by": row.approved_by,
        "approval_note": row.approval_note, "approved_at": row.approved_at.isoformat() if row.approved_at else None,
    }


def repository_abilities(engine: Engine, repository_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(ability_registry).where(ability_registry.c.repository_id == repository_id)
                            .order_by(ability_registry.c.category, ability_registry.c.name)).all()
    return [_ability(r) for r in rows]


_WORD = re.compile(r"[A-Za-z0-9]+")


def search_abilities(engine: Engine, query: str | None, limit: int = 50) -> list[dict]:
    """Approved abilities matching every word of the query (prefix match on name, category, description,
    repository), best ranked first by Postgres full-text rank."""
    doc = sa.func.concat_ws(" ", ability_registry.c.name, ability_registry.c.category,
                            ability_registry.c.description, ability_registry.c.repository)
    stmt = sa.select(ability_registry)
    words = [w.lower() for w in _WORD.findall(query or "")][:12]
    if words:
        stmt = stmt.where(*[doc.ilike(f"%{w}%") for w in words])
        tsv = sa.func.to_tsvector(sa.literal_column("'english'::regconfig"), doc)
        tsq = sa.func.plainto_tsquery(sa.literal_column("'english'::regconfig"), " ".join(words))
        name_hit = sa.case((ability_registry.c.name.ilike(f"%{words[0]}%"), 1), else_=0)
        stmt = stmt.order_by(sa.func.ts_rank(tsv, tsq).desc(), name_hit.desc(), ability_registry.c.repository,
                             ability_registry.c.name)
    else:
        stmt = stmt.order_by(ability_registry.c.repository, ability_registry.c.category, ability_registry.c.name)
    with engine.connect() as conn:
        return [_ability(r) for r in conn.execute(stmt.limit(limit))]


def registry_mismatches(engine: Engine) -> int:
    """Approved, current candidates missing from the registry plus registry rows that are not such a candidate."""
    approved = sa.select(ability_candidates.c.candidate_id).where(ability_candidates.c.status == "approved",
                                                                  ability_candidates.c.retired_at.is_(None))
    with engine.connect() as conn:
        wanted = set(conn.execute(approved).scalars())
        published = set(conn.execute(sa.select(ability_registry.c.candidate_id)).scalars())
    return len(wanted ^ published)


def registry_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(ability_registry)).scalar_one()


# --- ability snapshots: each candidate in each snapshot it was seen in (issue 17) ----------------------

def evidence_locations(evidence: list[dict]) -> list[str]:
    """Where a candidate's evidence is, as sorted unique "path:line" (chunks: "path:start-end")."""
    out = set()
    for e in evidence or []:
        if e.get("start_line") is not None:
            out.add(f"{e.get('path')}:{e['start_line']}-{e.get('end_line', e['start_line'])}")
        else:
            out.add(f"{e.get('path')}:{e.get('line') or 1}")
    return sorted(out)


def record_ability_snapshot(engine: Engine, repository_id: int, commit: str | None) -> int:
    """Record the repository's current (not retired) candidates as seen in snapshot `commit`, replacing
    what an earlier run recorded for that commit (one transaction). A commit seen again after another
    one moves to the end of the timeline. Returns the number of candidates recorded."""
    if not commit:
        return 0
    with engine.begin() as conn:
        current = conn.execute(sa.select(ability_candidates).where(
            ability_candidates.c.repository_id == repository_id, ability_candidates.c.retired_at.is_(None))).all()
        rows = []
        for c in current:
            locations = evidence_locations(c.evidence)
            rows.append({"repository_id": repository_id, "snapshot_commit": commit, "candidate_id": c.candidate_id,
                         "ability_key": c.ability_key, "name": c.name, "category": c.category, "status": c.status,
                         "locations": locations,
                         "evidence_hash": hashlib.sha256("\n".join(locations).encode()).hexdigest()[:16]})
        latest = conn.execute(sa.select(ability_snapshot_runs.c.snapshot_commit)
                              .where(ability_snapshot_runs.c.repository_id == repository_id)
                              .order_by(ability_snapshot_runs.c.seen_at.desc()).limit(1)).scalar()
        stmt = insert(ability_snapshot_runs).values(repository_id=repository_id, snapshot_commit=commit,
                                                    candidates=len(rows))
        update = {"candidates": stmt.excluded.candidates}
        if latest is not None and latest != commit:
            update["seen_at"] = sa.func.now()
        conn.execute(stmt.on_conflict_do_update(index_elements=["repository_id", "snapshot_commit"], set_=update))
        conn.execute(sa.delete(ability_snapshots).where(ability_snapshots.c.repository_id == repository_id,
                                                        ability_snapshots.c.snapshot_commit == commit))
        if rows:
            conn.execute(insert(ability_snapshots), rows)
    return len(rows)


def ability_timeline(engine: Engine, repository_id: int) -> list[dict]:
    """The recorded snapshots, oldest first: {commit, seen_at, candidates: {candidate_id: row}}."""
    with engine.connect() as conn:
        runs = conn.execute(sa.select(ability_snapshot_runs).where(
            ability_snapshot_runs.c.repository_id == repository_id)
            .order_by(ability_snapshot_runs.c.seen_at, ability_snapshot_runs.c.snapshot_commit)).all()
        members = conn.execute(sa.select(ability_snapshots).where(
            ability_snapshots.c.repository_id == repository_id)).mappings().all()
    by_commit: dict[str, dict] = {}
    for m in members:
        by_commit.setdefault(m["snapshot_commit"], {})[m["candidate_id"]] = dict(m)
    return [{"commit": r.snapshot_commit, "seen_at": r.seen_at, "candidates": by_commit.get(r.snapshot_commit, {})}
            for r in runs]


def ability_snapshot_problems(engine: Engine, repository_id: int) -> dict[str, int]:
    """Snapshot members without their snapshot row, and snapshot rows whose count disagrees."""
    with engine.connect() as conn:
        orphans = conn.execute(sa.select(sa.func.count()).select_from(ability_snapshots).where(
            ability_snapshots.c.repository_id == repository_id,
            ~sa.exists().where(ability_snapshot_runs.c.repository_id == ability_snapshots.c.repository_id,
                               ability_snapshot_runs.c.snapshot_commit == ability_snapshots.c.snapshot_commit))
        ).scalar_one()
        counted = sa.select(sa.func.count()).where(
            ability_snapshots.c.repository_id == ability_snapshot_runs.c.repository_id,
            ability_snapshots.c.snapshot_commit == ability_snapshot_runs.c.snapshot_commit).scalar_subquery()
        mismatched = conn.execute(sa.select(sa.func.count()).select_from(ability_snapshot_runs).where(
            ability_snapshot_runs.c.repository_id == repository_id,
            ability_snapshot_runs.c.candidates != counted)).scalar_one()
    return {"members_without_snapshot": int(orphans), "count_mismatches": int(mismatched)}


# --- LLM cache and runs ---------------------------------------------------------------------------------

def cached_response(engine: Engine, prompt_hash: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(llm_cache).where(llm_cache.c.prompt_hash == prompt_hash)).mappings().first()
    return dict(row) if row else None


def cache_response(engine: Engine, prompt_hash: str, model: str, response: str, prompt_tokens: int,
                   completion_tokens: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(llm_cache).values(prompt_hash=prompt_hash, model=model, response=response,
                                              prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
                     .on_conflict_do_nothing(index_elements=["prompt_hash"]))


def record_run(engine: Engine, repository_id: int, run_id: str, **values) -> None:
    """One row per (repository, run): candidate counts, LLM outcome, token usage, guardrail counters."""
    row = {"repository_id": repository_id, "run_id": run_id, "finished_at": sa.func.now(), **values}
    stmt = insert(ability_runs).values(row)
    update = {k: stmt.excluded[k] for k in row if k not in ("repository_id", "run_id")}
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(constraint="uq_ability_runs_repository_run", set_=update))


def _run(row, repository: str) -> dict:
    return {"repository": repository, "run_id": row.run_id, "snapshot_commit": row.snapshot_commit,
            "rule_candidates": row.rule_candidates, "llm_candidates": row.llm_candidates,
            "llm_status": row.llm_status, "llm_error": row.llm_error, "llm_calls": row.llm_calls,
            "prompt_tokens": row.prompt_tokens, "completion_tokens": row.completion_tokens,
            "guardrails": row.guardrails, "finished_at": row.finished_at.isoformat()}


def latest_runs(engine: Engine) -> list[dict]:
    """The newest candidate run of each repository."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(ability_runs, repositories.c.name.label("repository"))
            .join(repositories, repositories.c.id == ability_runs.c.repository_id)
            .distinct(ability_runs.c.repository_id)
            .order_by(ability_runs.c.repository_id, ability_runs.c.id.desc())).all()
    return [_run(r, r.repository) for r in rows]


def guardrail_totals(engine: Engine) -> dict[str, int]:
    """Guardrail counters summed over the latest run of each repository."""
    totals: dict[str, int] = {}
    for run in latest_runs(engine):
        for counter, n in (run["guardrails"] or {}).items():
            totals[counter] = totals.get(counter, 0) + int(n)
    return totals


def last_run_finished(engine: Engine) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(ability_runs.c.finished_at))).scalar()
