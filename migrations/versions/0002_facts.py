"""Observed facts, per-file extraction state and the import graph.

Revision ID: 0002_facts
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002_facts"
down_revision = "0001_initial"
branch_labels = ("facts",)
depends_on = None

S = "repo_scoping"


def _repository_fk() -> sa.Column:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                     primary_key=True)


def _snapshot_fk() -> sa.Column:
    return sa.Column("snapshot_id", sa.Integer, sa.ForeignKey(f"{S}.snapshots.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "fact_file_state",
        _repository_fk(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("extractor_version", sa.Text, nullable=False),
        sa.Column("family", sa.Text, nullable=False),
        sa.Column("extraction", JSONB, nullable=False),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "facts",
        sa.Column("fact_id", sa.Text, primary_key=True),
        sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                  nullable=False),
        _snapshot_fk(),
        sa.Column("commit_sha", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("source_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_index("ix_facts_repository_kind", "facts", ["repository_id", "kind"], schema=S)
    op.create_table(
        "graph_nodes",
        _repository_fk(),
        sa.Column("node_id", sa.Text, primary_key=True),
        _snapshot_fk(),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("path", sa.Text),
        sa.Column("language", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("internal", sa.Boolean, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False, server_default="0"),
        sa.Column("files", sa.Integer, nullable=False, server_default="0"),
        sa.Column("in_degree", sa.Integer, nullable=False),
        sa.Column("out_degree", sa.Integer, nullable=False),
        sa.Column("pagerank", sa.Float, nullable=False),
        sa.Column("rank", sa.Integer),
        schema=S,
    )
    op.create_table(
        "graph_edges",
        _repository_fk(),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("target", sa.Text, primary_key=True),
        _snapshot_fk(),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for table in ("graph_edges", "graph_nodes", "facts", "fact_file_state"):
        op.drop_table(table, schema=S)
