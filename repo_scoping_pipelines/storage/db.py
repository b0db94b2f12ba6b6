"""Database URLs, engines and migrations."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator
from pathlib import Path

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from repo_scoping_pipelines.operations.embedded import embedded_postgres_uri

from ..config import Settings

if TYPE_CHECKING:
    from alembic.config import Config


def _migrations_dir() -> Path:
    """The folder of the package repo_scoping_pipelines.migrations, wherever it was installed from.

    pyproject maps that package to the top-level migrations/ (package-dir), so a wheel has it
    inside repo_scoping_pipelines/ while an editable install finds it at the checkout's top level.
    """
    spec = importlib.util.find_spec("repo_scoping_pipelines.migrations")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the package repo_scoping_pipelines.migrations is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


MIGRATIONS_DIR = _migrations_dir()
_MIGRATION_LOCK_ID = 0x5245504F  # pg advisory lock key: "REPO"
# The head revisions of migrations/versions (tests/test_schema.py checks them against alembic's own
# answer): a database already at these needs no alembic at all, which every process start would
# otherwise import and run (~0.15 s) to find nothing to do.
SCHEMA_HEADS = frozenset({"0002_facts", "0003_metrics", "0004_abilities", "0015_symbol_tail"})


def _raw_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    return embedded_postgres_uri(settings)


def _with_driver(url: str, driver: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"REPO_SCOPING_DATABASE_URL must be a PostgreSQL URL, got {parsed.get_backend_name()!r}")
    return parsed.set(drivername=f"postgresql+{driver}").render_as_string(hide_password=False)


def database_url(settings: Settings) -> str:
    """SQLAlchemy URL for our own code (psycopg 3)."""
    return _with_driver(_raw_url(settings), "psycopg")


def dagster_database_url(settings: Settings) -> str:
    """URL for dagster-postgres: psycopg2, which its NOTIFY statements need (shared/STACK.md)."""
    return _with_driver(_raw_url(settings), "psycopg2")


def redact_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


IDLE_PING_S = 1.0


def make_engine(settings: Settings, *, autocommit: bool = False) -> Engine:
    """The project's engine; autocommit=True for read-only use (the API).

    A read-only engine runs each query on its own (no BEGIN/ROLLBACK round trips) and pings only
    connections that sat idle in the pool for over IDLE_PING_S: a connection the server dropped
    while idle is replaced before use, and under load no request pays a ping round trip."""
    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    engine = sa.create_engine(
        database_url(settings),
        **options,
        pool_pre_ping=not autocommit,
        # Connections past pool_size are opened and closed per checkout (a new Postgres backend
        # each time): keep enough for the API's concurrent requests.
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        connect_args={"connect_timeout": 10},
    )
    if autocommit:
        _ping_when_idle(engine, IDLE_PING_S)
    return engine


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    @sa.event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as exc:
            # The pool discards this connection and checks out another (SQLAlchemy's documented
            # checkout-event recipe for pessimistic disconnect handling).
            raise sa.exc.DisconnectionError(f"pooled connection was dropped while idle: {exc}") from exc


# Reads of a whole stored history (tens or hundreds of thousands of rows) take the driver's own tuples:
# building SQLAlchemy Row objects cost more than the query itself (history_changes: 0.37 s -> 0.11 s
# for 69,162 rows). Only for statements whose parameters and columns need no SQLAlchemy type
# processing (plain text, numbers, booleans, timestamps): the driver's values are returned as they are.
def fetch_tuples(conn: sa.Connection, statement: sa.Executable) -> list[tuple]:
    """Every row of `statement` as plain tuples, fetched at once."""
    compiled = statement.compile(dialect=conn.dialect)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), compiled.params)
        return cursor.fetchall()
    finally:
        cursor.close()


def stream_tuples(conn: sa.Connection, statement: sa.Executable, batch: int = 5000) -> Iterator[tuple]:
    """The rows of `statement` as plain tuples through a server-side cursor, `batch` at a time (memory
    stays flat whatever the history's length)."""
    compiled = statement.compile(dialect=conn.dialect)
    dbapi = conn.connection.dbapi_connection
    # A server-side cursor lives in a transaction; on an autocommit connection it must be WITH HOLD.
    with dbapi.cursor(name=f"stream_{id(statement):x}", withhold=bool(dbapi.autocommit)) as cursor:
        cursor.itersize = batch
        cursor.execute(str(compiled), compiled.params)
        yield from cursor


def alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def schema_revisions(conn: sa.Connection) -> frozenset[str]:
    """The revisions alembic recorded in the database (none before the first migration)."""
    exists = conn.execute(sa.text("SELECT to_regclass('repo_scoping.alembic_version') IS NOT NULL")).scalar()
    if not exists:
        return frozenset()
    return frozenset(conn.execute(sa.text("SELECT version_num FROM repo_scoping.alembic_version")).scalars())


def migrate(engine: Engine) -> None:
    """Apply pending migrations; safe to call from many processes at once."""
    with engine.connect() as conn:
        at_heads = schema_revisions(conn) == SCHEMA_HEADS
        conn.commit()
    if at_heads:  # revisions only move forward, under the lock below: nothing to do, no lock needed
        return
    from alembic import command

    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        try:
            conn.execute(sa.text("CREATE SCHEMA IF NOT EXISTS repo_scoping"))
            conn.commit()
            command.upgrade(alembic_config(conn), "heads")  # one branch per domain
            conn.commit()
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK_ID})
            conn.commit()
