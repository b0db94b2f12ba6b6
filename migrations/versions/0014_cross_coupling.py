"""Change coupling across repositories (issue 16): pairs of files of two repositories changed under the
same issue keys (written by cross_repository_coupling).

Revision ID: 0014_cross_coupling
Revises: 0013_codeowners_drift
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014_cross_coupling"
down_revision = "0013_codeowners_drift"
branch_labels = None
depends_on = None

S = "repo_scoping"


def _repo(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "cross_repository_coupling",
        _repo("repository_a_id"),
        sa.Column("path_a", sa.Text, primary_key=True),
        _repo("repository_b_id"),
        sa.Column("path_b", sa.Text, primary_key=True),
        sa.Column("shared_revisions", sa.Integer, nullable=False),
        sa.Column("revisions_a", sa.Integer, nullable=False),
        sa.Column("revisions_b", sa.Integer, nullable=False),
        sa.Column("degree", sa.Float, nullable=False),
        sa.Column("shared_keys", JSONB, nullable=False),
        sa.CheckConstraint("repository_a_id < repository_b_id", name="ck_cross_repository_coupling_order"),
        schema=S,
    )
    op.create_index("ix_cross_repository_coupling_b", "cross_repository_coupling", ["repository_b_id", "path_b"],
                    schema=S)


def downgrade() -> None:
    op.drop_index("ix_cross_repository_coupling_b", table_name="cross_repository_coupling", schema=S)
    op.drop_table("cross_repository_coupling", schema=S)
