"""People registry and pull-request metrics (issue 16).

Revision ID: 0007_people
Revises: 0006_index_generations
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0007_people"
down_revision = "0006_index_generations"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
