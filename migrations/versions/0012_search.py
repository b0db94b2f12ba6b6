"""Search kinds and filters (issue 13).

Revision ID: 0012_search
Revises: 0011_access
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012_search"
down_revision = "0011_access"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
