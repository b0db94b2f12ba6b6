"""The `repo_scoping` schema: every SQLAlchemy Core table of the project, in one MetaData.

This module is the only place a table is defined; the storage modules import their tables from
here, and migrations/env.py targets `metadata`. The tables must match what migrations/versions
creates exactly (tests/test_schema.py runs alembic's autogenerate comparison against a migrated
database): change a table only together with a migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "repo_scoping"
metadata = sa.MetaData(schema=SCHEMA)


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name hook: compare only our schema (dagster's tables share the database)."""
    return name == SCHEMA if type_ == "schema" else True


# How alembic compares a database with `metadata`: migrations/env.py (autogenerate, `alembic check`)
# and tests/test_schema.py use these same options.
AUTOGENERATE_OPTIONS = {
    "version_table_schema": SCHEMA,
    "include_schemas": True,
    "include_name": include_name,
    "compare_type": True,
    "compare_server_default": True,
}


# --- core: repositories, snapshots, inventory, chunks, vectors (0001_initial, 0005, 0006) ------------

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
    # code | tests | docs | config | pull_request | issue (search.classify; 0012_search). NULL on rows
    # chunked before 0012 until the next content_chunks run fills it in.
    sa.Column("file_class", sa.Text),
    sa.Index("ix_content_chunks_repository_path", "repository_id", "path"),
)

# The keyword-search document of a chunk (0005_operations indexes exactly this expression with GIN).
# index_text is already normalised (split, lowercased, stemmed) by our code: the 'simple'
# configuration keeps its tokens as they are, exactly what the BM25 field sees. Queries must use this
# same expression for Postgres to use the index.
content_chunks_tsv = sa.func.to_tsvector(sa.text("'simple'::regconfig"), content_chunks.c.index_text)
sa.Index("ix_content_chunks_index_tsv", content_chunks_tsv, postgresql_using="gin")

# The last dotted segment of a chunk's symbol ("Class.method" -> "method"; 0015_symbol_tail indexes
# exactly this expression): identifiers typed in a query match it exactly.
content_chunks_symbol_tail = sa.func.regexp_replace(content_chunks.c.symbol, sa.text("'^.*\\.'::text"), sa.text("''::text"))
sa.Index("ix_content_chunks_symbol_tail", content_chunks_symbol_tail)
sa.Index("ix_content_chunks_symbol", content_chunks.c.symbol)

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


# --- facts: per-file extraction state, observed facts, the import graph (0002_facts) -----------------

# What each file yielded the last time it was read, keyed by its content hash: a refresh re-reads a file
# only when its hash (or the extractor version) changed.
fact_file_state = sa.Table(
    "fact_file_state",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("extractor_version", sa.Text, nullable=False),
    sa.Column("family", sa.Text, nullable=False),
    sa.Column("extraction", JSONB, nullable=False),  # FileExtraction.as_json()
    sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

facts = sa.Table(
    "facts",
    metadata,
    sa.Column("fact_id", sa.Text, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("snapshot_id", sa.Integer, sa.ForeignKey(snapshots.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("commit_sha", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("value", JSONB, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("source_hash", sa.Text, nullable=False),  # content hash of the evidence file
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_facts_repository_kind", "repository_id", "kind"),
)

graph_nodes = sa.Table(
    "graph_nodes",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("node_id", sa.Text, primary_key=True),
    sa.Column("snapshot_id", sa.Integer, sa.ForeignKey(snapshots.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("path", sa.Text),  # null for external packages
    sa.Column("language", sa.Text),
    sa.Column("kind", sa.Text, nullable=False),  # module | package | external | stdlib
    sa.Column("internal", sa.Boolean, nullable=False),
    sa.Column("lines", sa.Integer, nullable=False, server_default="0"),
    sa.Column("files", sa.Integer, nullable=False, server_default="0"),
    sa.Column("in_degree", sa.Integer, nullable=False),
    sa.Column("out_degree", sa.Integer, nullable=False),
    sa.Column("pagerank", sa.Float, nullable=False),
    sa.Column("rank", sa.Integer),  # 1 = most central internal module; null for external packages
)

graph_edges = sa.Table(
    "graph_edges",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("target", sa.Text, primary_key=True),
    sa.Column("snapshot_id", sa.Integer, sa.ForeignKey(snapshots.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.Text, nullable=False),  # internal | external | stdlib
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("path", sa.Text, nullable=False),  # evidence: the first importing file and line
    sa.Column("line", sa.Integer, nullable=False),
)


# --- metrics: history, author aggregates, ownership, shipped, PRs, issues, collectors (0003_metrics) ---

def _repo_fk() -> sa.ForeignKey:
    return sa.ForeignKey(repositories.c.id, ondelete="CASCADE")


history_commits = sa.Table(
    "history_commits",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("sha", sa.Text, primary_key=True),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("author_email", sa.Text, nullable=False),
    sa.Column("committer_name", sa.Text, nullable=False),
    sa.Column("committer_email", sa.Text, nullable=False),
    sa.Column("authored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("committed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("author_day", sa.Date, nullable=False),  # UTC day of the author date
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("change_type", sa.Text, nullable=False),  # conventional-commit type or "other"
    sa.Column("lines_added", sa.Integer, nullable=False),
    sa.Column("lines_deleted", sa.Integer, nullable=False),
    sa.Column("files_changed", sa.Integer, nullable=False),
    sa.Index("ix_history_commits_day", "repository_id", "author_day"),
)

history_commit_files = sa.Table(
    "history_commit_files",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), nullable=False),
    sa.Column("sha", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("old_path", sa.Text),  # set for a rename
    sa.Column("added", sa.Integer, nullable=False),
    sa.Column("deleted", sa.Integer, nullable=False),
    sa.Column("is_binary", sa.Boolean, nullable=False),
    sa.Index("ix_history_commit_files_sha", "repository_id", "sha"),
)

history_state = sa.Table(
    "history_state",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("head_sha", sa.Text, nullable=False),  # the watermark: history is stored up to here
    sa.Column("mailmap_blob", sa.Text, nullable=False, server_default=""),
    sa.Column("commit_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("full_extracted_at", sa.DateTime(timezone=True)),
    # What file_ownership / what_shipped were last computed from: equal keys mean nothing to redo.
    sa.Column("ownership_key", sa.Text),
    sa.Column("shipped_key", sa.Text),
)

author_daily = sa.Table(
    "author_daily",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("author_email", sa.Text, primary_key=True),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("commits", sa.Integer, nullable=False),
    sa.Column("lines_added", sa.Integer, nullable=False),
    sa.Column("lines_deleted", sa.Integer, nullable=False),
    sa.Column("files_touched", sa.Integer, nullable=False),
    sa.Index("ix_author_daily_day", "day"),
)

author_window = sa.Table(
    "author_window",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("window", sa.Text, primary_key=True),  # 7d | 30d | 90d | all
    sa.Column("author_email", sa.Text, primary_key=True),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("commits", sa.Integer, nullable=False),
    sa.Column("lines_added", sa.BigInteger, nullable=False),
    sa.Column("lines_deleted", sa.BigInteger, nullable=False),
    sa.Column("files_touched", sa.Integer, nullable=False),
    sa.Column("active_days", sa.Integer, nullable=False),
    sa.Column("first_commit_at", sa.DateTime(timezone=True)),
    sa.Column("last_commit_at", sa.DateTime(timezone=True)),
    sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
)

file_owners = sa.Table(
    "file_owners",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("author_email", sa.Text, primary_key=True),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("lines", sa.BigInteger, nullable=False),
    sa.Column("weighted_lines", sa.Float, nullable=False),
    sa.Column("commits", sa.Integer, nullable=False),
    sa.Column("last_changed_at", sa.DateTime(timezone=True)),
    sa.Index("ix_file_owners_path_prefix", "repository_id", "path", postgresql_ops={"path": "text_pattern_ops"}),
)

shipped_weeks = sa.Table(
    "shipped_weeks",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("week_start", sa.Date, primary_key=True),  # Monday (ISO week), UTC
    sa.Column("source", sa.Text, nullable=False),  # pull_requests | commits
    sa.Column("counts", JSONB, nullable=False),
    sa.Column("items", JSONB, nullable=False),
)

pull_requests = sa.Table(
    "pull_requests",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False, server_default=""),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("author_login", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("base_ref", sa.Text),
    sa.Column("merge_commit_sha", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("merged_at", sa.DateTime(timezone=True)),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
)

tracker_issues = sa.Table(
    "tracker_issues",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("issue_id", sa.Integer, primary_key=True),
    sa.Column("project", sa.Text),
    sa.Column("tracker", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("author", sa.Text),
    sa.Column("assigned_to", sa.Text),
    sa.Column("url", sa.Text),
    sa.Column("created_on", sa.DateTime(timezone=True)),
    sa.Column("updated_on", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_on", sa.DateTime(timezone=True)),
)

# One row per (repository, outside source): the incremental watermark, the ETag of the first page,
# and the outcome of the last sync (errors are kept here and shown, stored data is never dropped).
collector_state = sa.Table(
    "collector_state",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),  # github | redmine
    sa.Column("watermark", sa.DateTime(timezone=True)),
    sa.Column("etag", sa.Text),
    sa.Column("etag_url", sa.Text),
    sa.Column("last_status", sa.Text),  # ok | not_modified | error
    sa.Column("last_error", sa.Text),
    sa.Column("last_success_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


# --- abilities: candidates, reviews, the approved registry, LLM cache, runs (0004_abilities) ---------

ability_candidates = sa.Table(
    "ability_candidates",
    metadata,
    sa.Column("candidate_id", sa.Text, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("ability_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("evidence", JSONB, nullable=False, server_default="[]"),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("source", sa.Text, nullable=False),  # rules | llm
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),  # pending | approved | rejected
    sa.Column("snapshot_commit", sa.Text),
    sa.Column("first_seen_commit", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("reviewed_at", sa.DateTime(timezone=True)),
    sa.Column("retired_at", sa.DateTime(timezone=True)),  # not found in the latest snapshot
    sa.UniqueConstraint("repository_id", "ability_key", name="uq_ability_candidates_repository_key"),
    sa.Index("ix_ability_candidates_status", "repository_id", "status"),
)

review_decisions = sa.Table(
    "review_decisions",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("candidate_id", sa.Text, sa.ForeignKey(ability_candidates.c.candidate_id, ondelete="CASCADE"),
              nullable=False),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("decision", sa.Text, nullable=False),  # approve | reject
    sa.Column("reviewer", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_review_decisions_candidate", "candidate_id", "id"),
)

ability_registry = sa.Table(
    "ability_registry",
    metadata,
    sa.Column("candidate_id", sa.Text, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("repository", sa.Text, nullable=False),
    sa.Column("ability_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("evidence", JSONB, nullable=False, server_default="[]"),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("approved_by", sa.Text),
    sa.Column("approval_note", sa.Text),
    sa.Column("approved_at", sa.DateTime(timezone=True)),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

llm_cache = sa.Table(
    "llm_cache",
    metadata,
    sa.Column("prompt_hash", sa.Text, primary_key=True),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

ability_runs = sa.Table(
    "ability_runs",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("snapshot_commit", sa.Text),
    sa.Column("rule_candidates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("llm_candidates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("llm_status", sa.Text, nullable=False),  # disabled | called | cached | failed
    sa.Column("llm_error", sa.Text),
    sa.Column("llm_calls", sa.Integer, nullable=False, server_default="0"),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("completion_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("guardrails", JSONB, nullable=False, server_default="{}"),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("repository_id", "run_id", name="uq_ability_runs_repository_run"),
)


# --- operations: guardrail events (0005_operations) ---------------------------------------------------

guardrail_events = sa.Table(
    "guardrail_events",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True),
    sa.Column("counter", sa.Text, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE")),
    sa.Column("detail", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.UniqueConstraint("counter", "subject", name="uq_guardrail_events_counter_subject"),
)


# === people and pull-request metrics (issue 16, 0007_people) (tables of this area go below this line) ===

# GitHub details of each pull request (reviews, files, commits), fetched when the PR's updated_at moves.
pull_request_details = sa.Table(
    "pull_request_details",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("pr_updated_at", sa.DateTime(timezone=True), nullable=False),  # the PR version fetched
    sa.Column("reviews", sa.Integer, nullable=False),
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("additions", sa.BigInteger, nullable=False),
    sa.Column("deletions", sa.BigInteger, nullable=False),
    sa.Column("commits", sa.Integer, nullable=False),
    sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

pull_request_reviews = sa.Table(
    "pull_request_reviews",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("review_id", sa.BigInteger, primary_key=True),
    sa.Column("reviewer_login", sa.Text),
    sa.Column("state", sa.Text),
    sa.Column("submitted_at", sa.DateTime(timezone=True)),
)

pull_request_files = sa.Table(
    "pull_request_files",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("additions", sa.Integer, nullable=False),
    sa.Column("deletions", sa.Integer, nullable=False),
    sa.Column("status", sa.Text),
)

# GitHub's commit-author linkage: which login GitHub attributes a commit (and its git e-mail) to.
pull_request_commits = sa.Table(
    "pull_request_commits",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("sha", sa.Text, primary_key=True),
    sa.Column("author_login", sa.Text),
    sa.Column("author_email", sa.Text),
    sa.Column("author_name", sa.Text),
)

pr_author_window = sa.Table(
    "pr_author_window",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("window", sa.Text, primary_key=True),
    sa.Column("author_login", sa.Text, primary_key=True),
    sa.Column("opened", sa.Integer, nullable=False),
    sa.Column("merged", sa.Integer, nullable=False),
    sa.Column("reviews_given", sa.Integer, nullable=False),
    sa.Column("median_hours_to_first_review", sa.Float),
    sa.Column("median_hours_to_merge", sa.Float),
    sa.Column("median_lines", sa.Float),
    sa.Column("median_files", sa.Float),
    sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
)

# The people registry (global, recomputed from every identity seen): one row per person ...
people = sa.Table(
    "people",
    metadata,
    sa.Column("person_id", sa.Text, primary_key=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("primary_email", sa.Text),
    sa.Column("github_login", sa.Text),
    sa.Column("identities", sa.Integer, nullable=False),
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# ... and one per identity ("email:a@b", "github:login", "redmine:Full Name", "git-name:Name"), with
# why it belongs to its person (the link that put it there) and how sure that is.
person_identities = sa.Table(
    "person_identities",
    metadata,
    sa.Column("identity", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # email | github | redmine | git-name
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("linked_to", sa.Text),
    sa.Column("seen", sa.Integer, nullable=False),
)
sa.Index("ix_person_identities_person", person_identities.c.person_id)

# Merges and splits decided by a person: inputs of the registry, never overwritten by a recomputation.
person_decisions = sa.Table(
    "person_decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action", sa.Text, nullable=False),  # merge | split
    sa.Column("identity_a", sa.Text, nullable=False),
    sa.Column("identity_b", sa.Text),
    sa.Column("decided_by", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Links below the bar (similar names): they wait for `people merge`.
person_suggestions = sa.Table(
    "person_suggestions",
    metadata,
    sa.Column("identity_a", sa.Text, primary_key=True),
    sa.Column("identity_b", sa.Text, primary_key=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
)


# === insight: knowledge, hotspots, coupling (issue 16, 0008_insight) (tables of this area go below this line) ===

# Hotspots per window (30d, 90d, 365d, all) ending at the newest stored commit: revisions x complexity.
file_hotspots = sa.Table(
    "file_hotspots",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("window", sa.Text, primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("revisions", sa.Integer, nullable=False),
    sa.Column("complexity", sa.Integer, nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.Column("rank", sa.Integer, nullable=False),
    sa.Column("previous_revisions", sa.Integer),  # the window before (none for "all")
    sa.Column("trend", sa.Text),  # rising | falling | steady
    sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
)

# Line authorship at the head (git blame): lines per (file, author); content_hash says which blob was
# blamed, so only files whose content changed are blamed again.
line_authors = sa.Table(
    "line_authors",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("author", sa.Text, primary_key=True),  # the e-mail (after .mailmap), or name:NAME
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("last_authored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),
)

# Knowledge risk per file and folder ("" = the repository), from line_authors and the active authors.
knowledge_paths = sa.Table(
    "knowledge_paths",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),  # file | folder
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
)

# Per author: lines held at the head, and what leaving would orphan.
knowledge_people = sa.Table(
    "knowledge_people",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("author", sa.Text, primary_key=True),
    sa.Column("author_name", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("orphaned_files", sa.Integer, nullable=False),
    sa.Column("orphaned_lines", sa.Integer, nullable=False),
)

# Change coupling (code-maat's logical coupling) between files of one repository; path_a < path_b.
file_coupling = sa.Table(
    "file_coupling",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("path_a", sa.Text, primary_key=True),
    sa.Column("path_b", sa.Text, primary_key=True),
    sa.Column("shared_revisions", sa.Integer, nullable=False),
    sa.Column("revisions_a", sa.Integer, nullable=False),
    sa.Column("revisions_b", sa.Integer, nullable=False),
    sa.Column("degree", sa.Float, nullable=False),
)


# CODEOWNERS compared with the line authors at the head (0013_codeowners_drift, written by knowledge_risk):
# one summary per repository (codeowners_file NULL: no CODEOWNERS file found) ...
codeowners_summary = sa.Table(
    "codeowners_summary",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("codeowners_file", sa.Text),
    sa.Column("syntax", sa.Text),  # github | gitlab
    sa.Column("rules", sa.Integer, nullable=False),
    sa.Column("rules_with_drift", sa.Integer, nullable=False),
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("governed_files", sa.Integer, nullable=False),
    sa.Column("unowned_files", sa.Integer, nullable=False),
    sa.Column("unowned_lines", sa.Integer, nullable=False),
    sa.Column("section_files", JSONB, nullable=False),  # section ("" = none) -> files governed in it
    sa.Column("warnings", JSONB, nullable=False),  # the CODEOWNERS file's malformed lines
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
)

# ... and one row per rule (insight/codeowners_drift.py defines the columns).
codeowners_rules = sa.Table(
    "codeowners_rules",
    metadata,
    sa.Column("repository_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("rule_order", sa.Integer, primary_key=True),  # 0-based rule index in the file
    sa.Column("codeowners_file", sa.Text, nullable=False),
    sa.Column("line", sa.Integer, nullable=False),
    sa.Column("pattern", sa.Text, nullable=False),
    sa.Column("section", sa.Text),
    sa.Column("owners", JSONB, nullable=False),
    sa.Column("owner_status", JSONB, nullable=False),
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("lines", sa.Integer, nullable=False),
    sa.Column("declared_lines", sa.Integer, nullable=False),
    sa.Column("declared_share", sa.Float),  # NULL: no lines, or no declared owner resolves
    sa.Column("top_authors", JSONB, nullable=False),
    sa.Column("inactive_owners", JSONB, nullable=False),
    sa.Column("unresolved_owners", JSONB, nullable=False),
    sa.Column("owner_inactive", sa.Boolean, nullable=False),
    sa.Column("undeclared_top_author", sa.Boolean),  # NULL: an unresolved owner could be the top author
    sa.Column("no_files", sa.Boolean, nullable=False),
)

# Change coupling across repositories (0014_cross_coupling, written by cross_repository_coupling): files of
# two repositories changed under the same issue keys (insight/cross_coupling.py). Each pair once, the
# repository with the smaller id first; replaced whole on every run.
cross_repository_coupling = sa.Table(
    "cross_repository_coupling",
    metadata,
    sa.Column("repository_a_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("path_a", sa.Text, primary_key=True),
    sa.Column("repository_b_id", sa.Integer, _repo_fk(), primary_key=True),
    sa.Column("path_b", sa.Text, primary_key=True),
    sa.Column("shared_revisions", sa.Integer, nullable=False),  # issue keys both files changed under
    sa.Column("revisions_a", sa.Integer, nullable=False),  # issue keys each file changed under
    sa.Column("revisions_b", sa.Integer, nullable=False),
    sa.Column("degree", sa.Float, nullable=False),
    sa.Column("shared_keys", JSONB, nullable=False),  # the first few shared keys, sorted
    sa.CheckConstraint("repository_a_id < repository_b_id", name="ck_cross_repository_coupling_order"),
    sa.Index("ix_cross_repository_coupling_b", "repository_b_id", "path_b"),
)

# === exports and ability snapshots (issue 17, 0009_exports) (tables of this area go below this line) ===

# The snapshots whose ability candidates were made: one row per (repository, commit); seen_at orders them
# (a commit seen again after another one, e.g. a revert, moves to the end).
ability_snapshot_runs = sa.Table(
    "ability_snapshot_runs",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("snapshot_commit", sa.Text, primary_key=True),
    sa.Column("candidates", sa.Integer, nullable=False, server_default="0"),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_ability_snapshot_runs_seen", "repository_id", "seen_at"),
)

# Each candidate in each snapshot it was seen in, with where its evidence was (to tell moved evidence).
ability_snapshots = sa.Table(
    "ability_snapshots",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("snapshot_commit", sa.Text, primary_key=True),
    sa.Column("candidate_id", sa.Text, primary_key=True),
    sa.Column("ability_key", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("category", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # review status when seen: pending | approved | rejected
    sa.Column("locations", JSONB, nullable=False, server_default="[]"),  # sorted "path:line" of the evidence
    sa.Column("evidence_hash", sa.Text, nullable=False),
)

# The latest generated export documents (catalog-info.yaml, SBOM, OpenAPI) of each repository.
export_documents = sa.Table(
    "export_documents",
    metadata,
    sa.Column("repository_id", sa.Integer, sa.ForeignKey(repositories.c.id, ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),  # backstage | sbom | openapi
    sa.Column("commit_sha", sa.Text),
    sa.Column("media_type", sa.Text, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("content_hash", sa.Text, nullable=False),
    sa.Column("generated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)


# === ask: conversations (issue 14, 0010_ask) (tables of this area go below this line) ===

# One conversation of /ask; its turns are stored only once an answer is complete (never half an answer).
conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("conversation_id", sa.Text, primary_key=True),
    sa.Column("repository", sa.Text),  # the repository the first question was scoped to, if any
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

conversation_turns = sa.Table(
    "conversation_turns",
    metadata,
    sa.Column("conversation_id", sa.Text, sa.ForeignKey(conversations.c.conversation_id, ondelete="CASCADE"),
              primary_key=True),
    sa.Column("turn", sa.Integer, primary_key=True),  # 1, 2, ... in the order asked
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("citations", JSONB, nullable=False, server_default="[]"),
    sa.Column("mode", sa.Text, nullable=False),  # llm | extractive
    sa.Column("usage", JSONB, nullable=False, server_default="{}"),
    sa.Column("guardrails", JSONB, nullable=False, server_default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)



# === access: tokens and runs (issue 15, 0011_access) (tables of this area go below this line) ===

# Bearer tokens of the API (storage/tokens.py): only the SHA-256 of each token is kept.
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("scope", sa.Text, nullable=False),  # read | review | admin
    sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("last_used_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint("scope IN ('read', 'review', 'admin')", name="ck_api_tokens_scope"),
)


# === search (issue 13, 0012_search) (tables of this area go below this line) ===
