"""Alembic environment: runs on the connection handed over by storage.db.migrate."""

from alembic import context

from repo_scoping_pipelines.storage.tables import SCHEMA, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through repo_scoping_pipelines.storage.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table_schema=SCHEMA,
    include_schemas=True,
)
with context.begin_transaction():
    context.run_migrations()
