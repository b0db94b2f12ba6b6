"""Ability snapshots and exports (issue 17).

Revision ID: 0009_exports
Revises: 0008_insight
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0009_exports"
down_revision = "0008_insight"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
