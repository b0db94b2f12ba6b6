"""Search kinds and filters (issue 13).

Revision ID: 0012_search
Revises: 0011_access
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_search"
down_revision = "0011_access"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    # Nullable: rows chunked before this revision get their class at the next content_chunks run.
    op.add_column("content_chunks", sa.Column("file_class", sa.Text), schema=S)


def downgrade() -> None:
    op.drop_column("content_chunks", "file_class", schema=S)
