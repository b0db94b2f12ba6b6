"""Ability snapshots and exports (issue 17): the snapshots each ability candidate was seen in (for
gained / lost / moved-evidence changes) and the latest generated export documents.

Revision ID: 0009_exports
Revises: 0008_insight
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0009_exports"
down_revision = "0008_insight"
branch_labels = None
depends_on = None

S = "repo_scoping"


def _repo() -> sa.Column:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                     primary_key=True)


def upgrade() -> None:
    op.create_table(
        "ability_snapshot_runs",
        _repo(),
        sa.Column("snapshot_commit", sa.Text, primary_key=True),
        sa.Column("candidates", sa.Integer, nullable=False, server_default="0"),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("ix_ability_snapshot_runs_seen", "ability_snapshot_runs", ["repository_id", "seen_at"], schema=S)
    op.create_table(
        "ability_snapshots",
        _repo(),
        sa.Column("snapshot_commit", sa.Text, primary_key=True),
        sa.Column("candidate_id", sa.Text, primary_key=True),
        sa.Column("ability_key", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("locations", JSONB, nullable=False, server_default="[]"),
        sa.Column("evidence_hash", sa.Text, nullable=False),
        schema=S,
    )
    op.create_table(
        "export_documents",
        _repo(),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("commit_sha", sa.Text),
        sa.Column("media_type", sa.Text, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    for table in ("export_documents", "ability_snapshots", "ability_snapshot_runs"):
        op.drop_table(table, schema=S)
