"""Conversations for /ask (issue 14).

Revision ID: 0010_ask
Revises: 0009_exports
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010_ask"
down_revision = "0009_exports"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.Text, primary_key=True),
        sa.Column("repository", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "conversation_turns",
        sa.Column("conversation_id", sa.Text,
                  sa.ForeignKey(f"{S}.conversations.conversation_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("turn", sa.Integer, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("citations", JSONB, nullable=False, server_default="[]"),
        sa.Column("mode", sa.Text, nullable=False),
        sa.Column("usage", JSONB, nullable=False, server_default="{}"),
        sa.Column("guardrails", JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("conversation_turns", schema=S)
    op.drop_table("conversations", schema=S)
