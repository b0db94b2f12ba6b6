"""The abilities stage's storage work: one repository's candidates (rules always, the LLM when
configured) stored with their evidence and the run's record; human review decisions; the approved
registry rebuilt and searched. rules.py, llm.py and guardrails.py are pure of storage.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from repo_scoping_pipelines.operations import log as ops_log

from ..services import Services
from ..storage import abilities as store
from ..storage import catalog
from .guardrails import RunGuardrails
from .llm import LlmOutcome, llm_candidates
from .rules import rule_candidates

DECISIONS = tuple(store.DECISIONS)


# --- candidates ---------------------------------------------------------------------------------

@dataclass
class CandidatesResult:
    repository: str
    commit: str | None
    rows: list[dict]
    rule_count: int
    llm: LlmOutcome
    write: store.CandidateWrite
    guardrails: dict[str, int] = field(default_factory=dict)
    facts: int = 0
    chunks: int = 0
    seconds: float = 0.0


def make_candidates(services: Services, name: str, run_id: str | None = None, *, sleep=time.sleep) -> CandidatesResult:
    started = time.perf_counter()
    engine = services.engine
    repo = catalog.get_repository(engine, name)
    snapshot = catalog.latest_snapshot(engine, repo.id)
    commit = snapshot["commit_sha"] if snapshot else None
    facts = store.repository_facts(engine, repo.id)
    chunks = store.repository_chunks(engine, repo.id)
    rules = rule_candidates(facts, chunks)
    guardrails = RunGuardrails(repository=name, repository_id=repo.id)
    outcome = llm_candidates(services.settings, engine, name, facts, chunks, guardrails, sleep=sleep)
    rule_keys = {c.key for c in rules}
    combined = rules + [c for c in outcome.candidates if c.key not in rule_keys]
    rows = [c.row(name) for c in combined]
    # LLM candidates are only retired by an LLM answer: a failed or disabled call leaves them as they were.
    llm_answered = outcome.status in ("called", "cached")
    write = store.store_candidates(engine, repo.id, commit, rows,
                                   keep_sources=() if llm_answered else ("llm",))
    # The timeline of abilities (gained / lost / moved evidence between snapshots) reads these.
    store.record_ability_snapshot(engine, repo.id, commit)
    guardrails.log_events()
    store.record_run(engine, repo.id, run_id or f"adhoc-{uuid.uuid4().hex[:12]}", snapshot_commit=commit,
                     rule_candidates=len(rules), llm_candidates=len(outcome.candidates), llm_status=outcome.status,
                     llm_error=outcome.error, llm_calls=outcome.calls, prompt_tokens=outcome.prompt_tokens,
                     completion_tokens=outcome.completion_tokens, guardrails=dict(guardrails.counts))
    ops_log.event("abilities.candidates", repository=name, commit=commit, rules=len(rules),
                  llm=len(outcome.candidates), llm_status=outcome.status, added=write.added, retired=write.retired,
                  guardrails=dict(guardrails.counts))
    return CandidatesResult(repository=name, commit=commit, rows=rows, rule_count=len(rules), llm=outcome,
                            write=write, guardrails=dict(guardrails.counts), facts=len(facts), chunks=len(chunks),
                            seconds=time.perf_counter() - started)


# --- review -------------------------------------------------------------------------------------

class InvalidReview(ValueError):
    """A review that cannot be stored as given (unknown decision, missing reviewer, note too long)."""


def review_candidate(engine: Engine, candidate_id: str, decision: str, *, reviewer: str,
                     note: str | None = None) -> dict:
    """Record a decision; the newest decision sets the candidate's status. Raises NotFound for an
    unknown candidate (nothing is stored then)."""
    if decision not in DECISIONS:
        raise InvalidReview(f"decision must be one of {', '.join(DECISIONS)}")
    reviewer = (reviewer or "").strip()
    if not reviewer or len(reviewer) > 200:
        raise InvalidReview("reviewer must be 1 to 200 characters")
    if note is not None and len(note) > 4000:
        raise InvalidReview("note must be at most 4000 characters")
    stored = store.record_decision(engine, candidate_id, decision, reviewer, note)
    candidate = store.get_candidate(engine, candidate_id)
    ops_log.review_decision(candidate_id=candidate_id, decision=decision, reviewer=reviewer, note=note,
                            repository=candidate.get("repository"), decision_id=stored["id"])
    return {**stored, "status": candidate["review_status"], "candidate": candidate}



# --- the approved registry ----------------------------------------------------------------------

def publish_registry(engine: Engine) -> store.RegistryWrite:
    """Rebuild the registry from the newest review decisions (one transaction)."""
    return store.publish_registry(engine)


def search_registry(engine: Engine, query: str | None, limit: int = 50) -> list[dict]:
    """Approved abilities across repositories matching every word of `query` (all when empty)."""
    return store.search_abilities(engine, query, limit)


def registry_for_repository(engine: Engine, repository_id: int) -> list[dict]:
    return store.repository_abilities(engine, repository_id)
