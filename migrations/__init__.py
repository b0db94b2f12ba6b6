"""Alembic migrations of the repo_scoping schema (applied automatically at start)."""
