"""Conversations for /ask (issue 14).

Revision ID: 0010_ask
Revises: 0009_exports
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0010_ask"
down_revision = "0009_exports"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
