"""People registry and pull-request metrics (issue 16).

Revision ID: 0007_people
Revises: 0006_index_generations
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_people"
down_revision = "0006_index_generations"
branch_labels = None
depends_on = None

S = "repo_scoping"


def _repo() -> sa.Column:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                     primary_key=True)


def _number() -> sa.Column:
    return sa.Column("number", sa.Integer, primary_key=True)


def upgrade() -> None:
    op.create_table(
        "pull_request_details", _repo(), _number(),
        sa.Column("pr_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviews", sa.Integer, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("additions", sa.BigInteger, nullable=False),
        sa.Column("deletions", sa.BigInteger, nullable=False),
        sa.Column("commits", sa.Integer, nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "pull_request_reviews", _repo(), _number(),
        sa.Column("review_id", sa.BigInteger, primary_key=True),
        sa.Column("reviewer_login", sa.Text),
        sa.Column("state", sa.Text),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_table(
        "pull_request_files", _repo(), _number(),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("additions", sa.Integer, nullable=False),
        sa.Column("deletions", sa.Integer, nullable=False),
        sa.Column("status", sa.Text),
        schema=S,
    )
    op.create_table(
        "pull_request_commits", _repo(), _number(),
        sa.Column("sha", sa.Text, primary_key=True),
        sa.Column("author_login", sa.Text),
        sa.Column("author_email", sa.Text),
        sa.Column("author_name", sa.Text),
        schema=S,
    )
    op.create_table(
        "pr_author_window", _repo(),
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
        schema=S,
    )
    op.create_table(
        "people",
        sa.Column("person_id", sa.Text, primary_key=True),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("primary_email", sa.Text),
        sa.Column("github_login", sa.Text),
        sa.Column("identities", sa.Integer, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "person_identities",
        sa.Column("identity", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("display_name", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("linked_to", sa.Text),
        sa.Column("seen", sa.Integer, nullable=False),
        schema=S,
    )
    op.create_index("ix_person_identities_person", "person_identities", ["person_id"], schema=S)
    op.create_table(
        "person_decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("identity_a", sa.Text, nullable=False),
        sa.Column("identity_b", sa.Text),
        sa.Column("decided_by", sa.Text),
        sa.Column("note", sa.Text),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "person_suggestions",
        sa.Column("identity_a", sa.Text, primary_key=True),
        sa.Column("identity_b", sa.Text, primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_index("ix_person_identities_person", table_name="person_identities", schema=S)
    for table in ("person_suggestions", "person_decisions", "person_identities", "people", "pr_author_window",
                  "pull_request_commits", "pull_request_files", "pull_request_reviews", "pull_request_details"):
        op.drop_table(table, schema=S)
