"""Abilities: candidates with their evidence, review decisions, the approved registry, the LLM
response cache and one row per candidate-making run (token usage, guardrail counters).

Revision ID: 0004_abilities
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_abilities"
down_revision = "0001_initial"
branch_labels = ("abilities",)
depends_on = None

S = "repo_scoping"


def _ts(name: str, nullable: bool = False) -> sa.Column:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True))
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def _repo(**kw) -> sa.Column:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                     nullable=False, **kw)


def upgrade() -> None:
    op.create_table(
        "ability_candidates",
        sa.Column("candidate_id", sa.Text, primary_key=True),
        _repo(),
        sa.Column("ability_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("evidence", JSONB, nullable=False, server_default="[]"),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("snapshot_commit", sa.Text),
        sa.Column("first_seen_commit", sa.Text),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("reviewed_at", nullable=True),
        _ts("retired_at", nullable=True),
        sa.UniqueConstraint("repository_id", "ability_key", name="uq_ability_candidates_repository_key"),
        schema=S,
    )
    op.create_index("ix_ability_candidates_status", "ability_candidates", ["repository_id", "status"], schema=S)
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("candidate_id", sa.Text, sa.ForeignKey(f"{S}.ability_candidates.candidate_id", ondelete="CASCADE"),
                  nullable=False),
        _repo(),
        sa.Column("decision", sa.Text, nullable=False),
        sa.Column("reviewer", sa.Text, nullable=False),
        sa.Column("note", sa.Text),
        _ts("created_at"),
        schema=S,
    )
    op.create_index("ix_review_decisions_candidate", "review_decisions", ["candidate_id", "id"], schema=S)
    op.create_table(
        "ability_registry",
        sa.Column("candidate_id", sa.Text, primary_key=True),
        _repo(),
        sa.Column("repository", sa.Text, nullable=False),
        sa.Column("ability_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("evidence", JSONB, nullable=False, server_default="[]"),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("approved_by", sa.Text),
        sa.Column("approval_note", sa.Text),
        _ts("approved_at", nullable=True),
        _ts("published_at"),
        schema=S,
    )
    op.create_table(
        "llm_cache",
        sa.Column("prompt_hash", sa.Text, primary_key=True),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
        _ts("created_at"),
        schema=S,
    )
    op.create_table(
        "ability_runs",
        sa.Column("id", sa.BigInteger, primary_key=True),
        _repo(),
        sa.Column("run_id", sa.Text, nullable=False),
        sa.Column("snapshot_commit", sa.Text),
        sa.Column("rule_candidates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("llm_candidates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("llm_status", sa.Text, nullable=False),
        sa.Column("llm_error", sa.Text),
        sa.Column("llm_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("guardrails", JSONB, nullable=False, server_default="{}"),
        _ts("started_at"),
        _ts("finished_at"),
        sa.UniqueConstraint("repository_id", "run_id", name="uq_ability_runs_repository_run"),
        schema=S,
    )


def downgrade() -> None:
    for table in ("ability_runs", "llm_cache", "ability_registry", "review_decisions", "ability_candidates"):
        op.drop_table(table, schema=S)
