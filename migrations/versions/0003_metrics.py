"""Engineering metrics: commit history, author aggregates, file ownership, what shipped, pull
requests, tracker issues and collector state.

Revision ID: 0003_metrics
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003_metrics"
down_revision = "0001_initial"
branch_labels = ("metrics",)
depends_on = None

S = "repo_scoping"


def _repo() -> sa.Column:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                     primary_key=True)


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "history_commits", _repo(),
        sa.Column("sha", sa.Text, primary_key=True),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("author_email", sa.Text, nullable=False),
        sa.Column("committer_name", sa.Text, nullable=False),
        sa.Column("committer_email", sa.Text, nullable=False),
        _ts("authored_at", False), _ts("committed_at", False),
        sa.Column("author_day", sa.Date, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("change_type", sa.Text, nullable=False),
        sa.Column("lines_added", sa.Integer, nullable=False),
        sa.Column("lines_deleted", sa.Integer, nullable=False),
        sa.Column("files_changed", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_index("ix_history_commits_day", "history_commits", ["repository_id", "author_day"], schema=S)
    op.create_table(
        "history_commit_files",
        sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("sha", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("old_path", sa.Text),
        sa.Column("added", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False),
        sa.Column("is_binary", sa.Boolean, nullable=False),
        schema=S,
    )
    op.create_index("ix_history_commit_files_sha", "history_commit_files", ["repository_id", "sha"], schema=S)
    op.create_table(
        "history_state", _repo(),
        sa.Column("head_sha", sa.Text, nullable=False),
        sa.Column("mailmap_blob", sa.Text, nullable=False, server_default=""),
        sa.Column("commit_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        _ts("full_extracted_at"),
        sa.Column("ownership_key", sa.Text),
        sa.Column("shipped_key", sa.Text),
        schema=S,
    )
    op.create_table(
        "author_daily", _repo(),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("author_email", sa.Text, primary_key=True),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("commits", sa.Integer, nullable=False),
        sa.Column("lines_added", sa.Integer, nullable=False),
        sa.Column("lines_deleted", sa.Integer, nullable=False),
        sa.Column("files_touched", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_index("ix_author_daily_day", "author_daily", ["day"], schema=S)
    op.create_table(
        "author_window", _repo(),
        sa.Column("window", sa.Text, primary_key=True),
        sa.Column("author_email", sa.Text, primary_key=True),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("commits", sa.Integer, nullable=False),
        sa.Column("lines_added", sa.BigInteger, nullable=False),
        sa.Column("lines_deleted", sa.BigInteger, nullable=False),
        sa.Column("files_touched", sa.Integer, nullable=False),
        sa.Column("active_days", sa.Integer, nullable=False),
        _ts("first_commit_at"), _ts("last_commit_at"), _ts("as_of", False),
        schema=S,
    )
    op.create_table(
        "file_owners", _repo(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("author_email", sa.Text, primary_key=True),
        sa.Column("author_name", sa.Text, nullable=False),
        sa.Column("lines", sa.BigInteger, nullable=False),
        sa.Column("weighted_lines", sa.Float, nullable=False),
        sa.Column("commits", sa.Integer, nullable=False),
        _ts("last_changed_at"),
        schema=S,
    )
    op.create_index("ix_file_owners_path_prefix", "file_owners", ["repository_id", "path"], schema=S,
                    postgresql_ops={"path": "text_pattern_ops"})
    op.create_table(
        "shipped_weeks", _repo(),
        sa.Column("week_start", sa.Date, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("counts", JSONB, nullable=False),
        sa.Column("items", JSONB, nullable=False),
        schema=S,
    )
    op.create_table(
        "pull_requests", _repo(),
        sa.Column("number", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("author_login", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("base_ref", sa.Text),
        sa.Column("merge_commit_sha", sa.Text),
        _ts("created_at"), _ts("updated_at", False), _ts("merged_at"), _ts("closed_at"),
        schema=S,
    )
    op.create_table(
        "tracker_issues", _repo(),
        sa.Column("issue_id", sa.Integer, primary_key=True),
        sa.Column("project", sa.Text),
        sa.Column("tracker", sa.Text),
        sa.Column("status", sa.Text),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("author", sa.Text),
        sa.Column("assigned_to", sa.Text),
        sa.Column("url", sa.Text),
        _ts("created_on"), _ts("updated_on", False), _ts("closed_on"),
        schema=S,
    )
    op.create_table(
        "collector_state", _repo(),
        sa.Column("source", sa.Text, primary_key=True),
        _ts("watermark"),
        sa.Column("etag", sa.Text),
        sa.Column("etag_url", sa.Text),
        sa.Column("last_status", sa.Text),
        sa.Column("last_error", sa.Text),
        _ts("last_success_at"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    for table in ("collector_state", "tracker_issues", "pull_requests", "shipped_weeks", "file_owners",
                  "author_window", "author_daily", "history_state", "history_commit_files", "history_commits"):
        op.drop_table(table, schema=S)
