"""Human review of ability candidates: approve or reject, with who, when and a note; history kept."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from repo_scoping_pipelines.operations import log as ops_log

from ..storage import abilities as store

DECISIONS = tuple(store.DECISIONS)


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


def history(engine: Engine, candidate_id: str) -> list[dict]:
    store.get_candidate(engine, candidate_id)  # NotFound for an unknown id
    return store.decision_history(engine, candidate_id)
