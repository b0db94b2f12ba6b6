"""API tokens and runs (issue 15).

Revision ID: 0011_access
Revises: 0010_ask
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0011_access"
down_revision = "0010_ask"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
