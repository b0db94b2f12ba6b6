"""API tokens and runs (issue 15).

Revision ID: 0011_access
Revises: 0010_ask
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_access"
down_revision = "0010_ask"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    # Runs themselves live in Dagster's run storage; only the API's bearer tokens are ours (hashed).
    op.create_table(
        "api_tokens",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("scope IN ('read', 'review', 'admin')", name="ck_api_tokens_scope"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("api_tokens", schema=S)
