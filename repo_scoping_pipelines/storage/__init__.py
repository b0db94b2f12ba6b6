"""Storage layer: Postgres (system of record, SQLAlchemy Core + Alembic) and Milvus (vectors)."""
