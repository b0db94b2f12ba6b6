"""Repositories, snapshots, file inventory, content chunks and vector bookkeeping.

Revision ID: 0001_initial
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

S = "repo_scoping"


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


def upgrade() -> None:
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_kind", sa.Text, nullable=False),
        sa.Column("default_branch", sa.Text),
        sa.Column("last_snapshot_id", sa.Integer),
        _ts("created_at"),
        _ts("updated_at"),
        schema=S,
    )
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("commit_sha", sa.Text, nullable=False),
        sa.Column("branch", sa.Text),
        sa.Column("file_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_bytes", sa.BigInteger, nullable=False, server_default="0"),
        _ts("created_at"),
        sa.UniqueConstraint("repository_id", "commit_sha", name="uq_snapshots_repository_commit"),
        schema=S,
    )
    op.create_table(
        "files",
        sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("snapshot_id", sa.Integer, sa.ForeignKey(f"{S}.snapshots.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("language", sa.Text),
        sa.Column("lines", sa.Integer, nullable=False, server_default="0"),
        sa.Column("is_binary", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_vendored", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_generated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_documentation", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("is_symlink", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("skip_reason", sa.Text),
        sa.Column("chunked_hash", sa.Text),
        schema=S,
    )
    op.create_table(
        "content_chunks",
        sa.Column("chunk_id", sa.Text, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("file_hash", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default="file"),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("symbol", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("start_line", sa.Integer, nullable=False),
        sa.Column("end_line", sa.Integer, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("index_text", sa.Text, nullable=False),
        _ts("created_at"),
        schema=S,
    )
    op.create_index("ix_content_chunks_repository_path", "content_chunks", ["repository_id", "path"], schema=S)
    op.create_table(
        "chunk_vectors",
        sa.Column("chunk_id", sa.Text, primary_key=True),
        sa.Column("collection", sa.Text, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                  nullable=False),
        _ts("embedded_at"),
        schema=S,
    )
    op.create_index("ix_chunk_vectors_repository", "chunk_vectors", ["repository_id", "collection"], schema=S)


def downgrade() -> None:
    for table in ("chunk_vectors", "content_chunks", "files", "snapshots", "repositories"):
        op.drop_table(table, schema=S)
