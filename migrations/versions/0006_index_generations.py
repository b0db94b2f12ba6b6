"""Index generations: a token per Milvus collection that changes with its rows (search cache keys).

Revision ID: 0006_index_generations
Revises: 0005_operations
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_index_generations"
down_revision = "0005_operations"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    op.create_table(
        "index_generations",
        sa.Column("collection", sa.Text, primary_key=True),
        sa.Column("token", sa.Text, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("index_generations", schema=S)
