"""SQLAlchemy Core tables of the `repo_scoping` schema. Change them only with a migration."""

from __future__ import annotations

import sqlalchemy as sa

SCHEMA = "repo_scoping"
metadata = sa.MetaData(schema=SCHEMA)

repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_kind", sa.Text, nullable=False),  # git_url | local_path | zip
    sa.Column("default_branch", sa.Text),
    sa.Column("last_snapshot_id", sa.Integer),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("commit_sha", sa.Text, nullable=False),
    sa.Column("branch", sa.Text),
    sa.Column("file_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("total_bytes", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("repository_id", "commit_sha", name="uq_snapshots_repository_commit"),
)

# The inventory of each repository's latest snapshot, one row per path.
files = sa.Table(
    "files",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("snapshot_id", sa.Integer, sa.ForeignKey(snapshots.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),  # git blob id
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("language", sa.Text),
    sa.Column("lines", sa.Integer, nullable=False, server_default="0"),
    sa.Column("is_binary", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_vendored", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_generated", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_documentation", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("is_symlink", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("skip_reason", sa.Text),  # why it is inventoried but not chunked
    sa.Column("chunked_hash", sa.Text),  # content_hash whose chunks are stored
)

content_chunks = sa.Table(
    "content_chunks",
    metadata,
    sa.Column("chunk_id", sa.Text, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("file_hash", sa.Text, nullable=False),
    sa.Column("source", sa.Text, nullable=False, server_default="file"),  # file | pull_request | issue
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("symbol", sa.Text),
    sa.Column("language", sa.Text),
    sa.Column("start_line", sa.Integer, nullable=False),
    sa.Column("end_line", sa.Integer, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("index_text", sa.Text, nullable=False),  # normalised text for BM25 / keyword search
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_content_chunks_repository_path", "repository_id", "path"),
)

# Which chunks are stored in which Milvus collection (the collection names the model).
chunk_vectors = sa.Table(
    "chunk_vectors",
    metadata,
    sa.Column("chunk_id", sa.Text, primary_key=True),
    sa.Column("collection", sa.Text, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("embedded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_chunk_vectors_repository", "repository_id", "collection"),
)

# A fresh random token each time a Milvus collection's rows change (embedding runs, restores): search
# caches key on it. A token, not a counter, so a restored backup cannot bring back a value already seen.
index_generations = sa.Table(
    "index_generations",
    metadata,
    sa.Column("collection", sa.Text, primary_key=True),
    sa.Column("token", sa.Text, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
