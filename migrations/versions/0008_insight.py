"""Knowledge risk, hotspots and change coupling (issue 16).

Revision ID: 0008_insight
Revises: 0007_people
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_insight"
down_revision = "0007_people"
branch_labels = None
depends_on = None

S = "repo_scoping"


def _repo() -> sa.Column:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                     primary_key=True)


def upgrade() -> None:
    op.create_table(
        "file_hotspots",
        _repo(),
        sa.Column("window", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("revisions", sa.Integer, nullable=False),
        sa.Column("complexity", sa.Integer, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("previous_revisions", sa.Integer),
        sa.Column("trend", sa.Text),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "line_authors",
        _repo(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("author", sa.Text, primary_key=True),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("last_authored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        schema=S,
    )
    op.create_table(
        "knowledge_paths",
        _repo(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("active_lines", sa.Integer, nullable=False),
        sa.Column("active_share", sa.Float, nullable=False),
        sa.Column("bus_factor", sa.Integer, nullable=False),
        sa.Column("islands", sa.Integer, nullable=False),
        sa.Column("island_lines", sa.Integer, nullable=False),
        sa.Column("top_author", sa.Text, nullable=False),
        sa.Column("top_author_name", sa.Text, nullable=False),
        sa.Column("top_share", sa.Float, nullable=False),
        sa.Column("is_island", sa.Boolean, nullable=False),
        schema=S,
    )
    op.create_table(
        "knowledge_people",
        _repo(),
        sa.Column("author", sa.Text, primary_key=True),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("orphaned_files", sa.Integer, nullable=False),
        sa.Column("orphaned_lines", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_table(
        "file_coupling",
        _repo(),
        sa.Column("path_a", sa.Text, primary_key=True),
        sa.Column("path_b", sa.Text, primary_key=True),
        sa.Column("shared_revisions", sa.Integer, nullable=False),
        sa.Column("revisions_a", sa.Integer, nullable=False),
        sa.Column("revisions_b", sa.Integer, nullable=False),
        sa.Column("degree", sa.Float, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("file_coupling", schema=S)
    op.drop_table("knowledge_people", schema=S)
    op.drop_table("knowledge_paths", schema=S)
    op.drop_table("line_authors", schema=S)
    op.drop_table("file_hotspots", schema=S)
