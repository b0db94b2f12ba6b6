"""Operations: keyword-search index for the Postgres fallback, guardrail events.

Revision ID: 0005_operations
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_operations"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

S = "repo_scoping"


def upgrade() -> None:
    # index_text is already normalised (split, lowercased, stemmed) by our code: the 'simple'
    # configuration keeps its tokens as they are, exactly what the BM25 field sees.
    op.execute(f"CREATE INDEX IF NOT EXISTS ix_content_chunks_index_tsv ON {S}.content_chunks "
               "USING gin (to_tsvector('simple'::regconfig, index_text))")
    op.create_table(
        "guardrail_events",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("counter", sa.Text, nullable=False),  # prompt_injection | ungrounded_claim | ...
        sa.Column("subject", sa.Text, nullable=False),  # what was flagged, e.g. chunk:<id>
        sa.Column("repository_id", sa.Integer, sa.ForeignKey(f"{S}.repositories.id", ondelete="CASCADE")),
        sa.Column("detail", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("counter", "subject", name="uq_guardrail_events_counter_subject"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("guardrail_events", schema=S)
    op.execute(f"DROP INDEX IF EXISTS {S}.ix_content_chunks_index_tsv")
