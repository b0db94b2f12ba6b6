"""Conversations of /ask in Postgres: a conversation row and its completed turns."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .catalog import NotFound
from .tables import conversation_turns, conversations


def _turn(row) -> dict:
    return {"turn": row.turn, "question": row.question, "answer": row.answer, "citations": row.citations,
            "mode": row.mode, "usage": row.usage, "guardrails": row.guardrails,
            "created_at": row.created_at.isoformat() if row.created_at else None}


def get_conversation(engine: Engine, conversation_id: str) -> dict:
    """The conversation with its turns in order; NotFound when there is none of that id."""
    with engine.connect() as conn:
        head = conn.execute(sa.select(conversations).where(
            conversations.c.conversation_id == conversation_id)).first()
        if head is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        turns = conn.execute(sa.select(conversation_turns)
                             .where(conversation_turns.c.conversation_id == conversation_id)
                             .order_by(conversation_turns.c.turn)).all()
    return {"conversation_id": head.conversation_id, "repository": head.repository,
            "created_at": head.created_at.isoformat(), "updated_at": head.updated_at.isoformat(),
            "turns": [_turn(t) for t in turns]}


def add_turn(engine: Engine, conversation_id: str, repository: str | None, turn: dict) -> int:
    """Store one completed turn (question, answer, citations, mode, usage, guardrails) in one transaction,
    creating the conversation on its first turn. The conversation row is locked so that two answers
    finishing at once get turns n and n+1. Returns the turn number."""
    with engine.begin() as conn:
        conn.execute(insert(conversations).values(conversation_id=conversation_id, repository=repository)
                     .on_conflict_do_nothing(index_elements=["conversation_id"]))
        conn.execute(sa.select(conversations.c.conversation_id)
                     .where(conversations.c.conversation_id == conversation_id).with_for_update())
        number = conn.execute(sa.select(sa.func.coalesce(sa.func.max(conversation_turns.c.turn), 0) + 1)
                              .where(conversation_turns.c.conversation_id == conversation_id)).scalar_one()
        conn.execute(insert(conversation_turns).values(
            conversation_id=conversation_id, turn=number, question=turn["question"], answer=turn["answer"],
            citations=turn["citations"], mode=turn["mode"], usage=turn.get("usage") or {},
            guardrails=turn.get("guardrails") or {}))
        conn.execute(sa.update(conversations).where(conversations.c.conversation_id == conversation_id)
                     .values(updated_at=sa.func.now()))
    return int(number)


def delete_conversation(engine: Engine, conversation_id: str) -> int:
    """Remove a conversation and its turns; NotFound when there is none. Returns the turns removed."""
    with engine.begin() as conn:
        turns = conn.execute(sa.select(sa.func.count()).select_from(conversation_turns).where(
            conversation_turns.c.conversation_id == conversation_id)).scalar_one()
        gone = conn.execute(sa.delete(conversations).where(
            conversations.c.conversation_id == conversation_id)).rowcount
    if not gone:
        raise NotFound(f"no conversation {conversation_id!r}")
    return int(turns)
