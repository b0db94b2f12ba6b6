"""Make one repository's ability candidates: rules (always), the LLM (when configured), stored with
their evidence, plus the run's record (LLM outcome, token usage, guardrail counters)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from repo_scoping_pipelines.operations import log as ops_log

from ..services import Services
from ..storage import abilities as store
from ..storage import catalog
from .guardrails import RunGuardrails
from .llm import LlmOutcome, llm_candidates
from .rules import rule_candidates


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
