"""CODEOWNERS compared with the line authors at the head (issue 16): one row per rule, one summary
per repository (written by knowledge_risk).

Revision ID: 0013_codeowners_drift
Revises: 0012_search
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013_codeowners_drift"
down_revision = "0012_search"
branch_labels = None
depends_on = None

S = "repo_scoping"


def _repo() -> sa.Column:
    return sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE"),
                     primary_key=True)


def upgrade() -> None:
    op.create_table(
        "codeowners_summary",
        _repo(),
        sa.Column("codeowners_file", sa.Text),
        sa.Column("syntax", sa.Text),
        sa.Column("rules", sa.Integer, nullable=False),
        sa.Column("rules_with_drift", sa.Integer, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("governed_files", sa.Integer, nullable=False),
        sa.Column("unowned_files", sa.Integer, nullable=False),
        sa.Column("unowned_lines", sa.Integer, nullable=False),
        sa.Column("section_files", JSONB, nullable=False),
        sa.Column("warnings", JSONB, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        schema=S,
    )
    op.create_table(
        "codeowners_rules",
        _repo(),
        sa.Column("rule_order", sa.Integer, primary_key=True),
        sa.Column("codeowners_file", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("pattern", sa.Text, nullable=False),
        sa.Column("section", sa.Text),
        sa.Column("owners", JSONB, nullable=False),
        sa.Column("owner_status", JSONB, nullable=False),
        sa.Column("files", sa.Integer, nullable=False),
        sa.Column("lines", sa.Integer, nullable=False),
        sa.Column("declared_lines", sa.Integer, nullable=False),
        sa.Column("declared_share", sa.Float),
        sa.Column("top_authors", JSONB, nullable=False),
        sa.Column("inactive_owners", JSONB, nullable=False),
        sa.Column("unresolved_owners", JSONB, nullable=False),
        sa.Column("owner_inactive", sa.Boolean, nullable=False),
        sa.Column("undeclared_top_author", sa.Boolean),
        sa.Column("no_files", sa.Boolean, nullable=False),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("codeowners_rules", schema=S)
    op.drop_table("codeowners_summary", schema=S)
