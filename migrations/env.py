"""Alembic environment: runs on the connection handed over by storage.db.migrate.

target_metadata is storage/tables.py's, the one module that defines every table; the comparison
options are the ones tests/test_schema.py checks a migrated database with.
"""

from alembic import context

from repo_scoping_pipelines.storage.tables import AUTOGENERATE_OPTIONS, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through repo_scoping_pipelines.storage.db.migrate()")

context.configure(connection=connection, target_metadata=metadata, **AUTOGENERATE_OPTIONS)
with context.begin_transaction():
    context.run_migrations()
