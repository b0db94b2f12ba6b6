"""Knowledge risk, hotspots and change coupling (issue 16).

Revision ID: 0008_insight
Revises: 0007_people
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0008_insight"
down_revision = "0007_people"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
