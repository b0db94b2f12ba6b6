"""Dagster instance storage in the project's Postgres, embedded or external alike.

dagster.yaml names these classes, so `dagster dev`, the daemon and run workers all find the
same database as our own code without any environment variable: the URL comes from the
settings (REPO_SCOPING_DATABASE_URL, else the embedded pgserver under var/pgdata).

dagster.yaml ships inside this package (package data, so a wheel has it too); the top-level
dagster.yaml of a checkout is a symlink to it, where `dagster dev` and the design card expect it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage
from dagster_postgres.utils import create_pg_engine

from repo_scoping_pipelines.config import Settings, get_settings
from repo_scoping_pipelines.storage.db import dagster_database_url

# Package data: found the same way in a wheel, an editable install and a checkout.
INSTANCE_YAML = resources.files("repo_scoping_pipelines").joinpath("dagster.yaml")


def _url() -> str:
    return dagster_database_url(get_settings())


class _FromSettings:
    """Dagster storage whose Postgres URL comes from our settings, not from dagster.yaml."""

    @classmethod
    def config_type(cls):
        return {}

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        storage = cls(postgres_url=_url(), inst_data=inst_data)
        # dagster-postgres opens a new connection per statement (NullPool): ~100 events a refresh
        # paid ~500 connects (2 s of a 3,000-file no-change refresh). A small pool, as Dagster's own
        # optimize_for_webserver does, keeps one or two open per process instead.
        storage._engine.dispose()
        # synchronous_commit=off for Dagster's own rows only: each event is one autocommit statement,
        # and waiting for its WAL flush was ~2 ms an event (more on a loaded disk), ~200 events a
        # no-change refresh. A Postgres crash can lose the last few hundred ms of events, never
        # corrupt them, and WAL order is kept: our own tables still commit synchronously, and every
        # such commit flushes the events before it. A lost materialization only makes the next run
        # redo that asset (the skip gate finds no previous record).
        storage._engine = create_pg_engine(storage.postgres_url, isolation_level="AUTOCOMMIT",
                                           pool_size=2, max_overflow=8, pool_recycle=1800,
                                           pool_pre_ping=False,
                                           connect_args={"options": "-c synchronous_commit=off"})
        return storage


class RunStorage(_FromSettings, PostgresRunStorage):
    """Runs, in the project's Postgres."""

    # Dagster asks whether these migrated columns exist by reflecting the table (three catalog
    # queries) on every call. A column, once there, stays: remember a True answer for the process.
    def has_run_stats_index_cols(self) -> bool:
        if not getattr(self, "_has_run_stats_cols", False):
            self._has_run_stats_cols = super().has_run_stats_index_cols()
        return self._has_run_stats_cols

    def has_backfill_id_column(self) -> bool:
        if not getattr(self, "_has_backfill_id", False):
            self._has_backfill_id = super().has_backfill_id_column()
        return self._has_backfill_id


class EventLogStorage(_FromSettings, PostgresEventLogStorage):
    """Event log (materializations, check results), in the project's Postgres."""

    def _has_asset_key_col_on_connection(self, conn, column_name: str) -> bool:
        # Reflected for each materialization and each latest-record read (~50 a refresh, ~7 ms each):
        # a column found once is remembered (columns are only ever added by a migration).
        known = self.__dict__.setdefault("_asset_key_cols", set())
        if column_name in known:
            return True
        found = super()._has_asset_key_col_on_connection(conn, column_name)
        if found:
            known.add(column_name)
        return found


class ScheduleStorage(_FromSettings, PostgresScheduleStorage):
    """Schedule and sensor ticks and cursors, in the project's Postgres."""


def prepare_dagster_home(settings: Settings) -> Path:
    """Point DAGSTER_HOME at var/dagster holding the project's dagster.yaml (Dagster reads it only there)."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    wanted = INSTANCE_YAML.read_text()
    if not target.exists() or target.read_text() != wanted:
        target.write_text(wanted)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@contextmanager
def dagster_instance(settings: Settings) -> Iterator:
    import dagster as dg

    prepare_dagster_home(settings)
    with dg.DagsterInstance.get() as instance:
        yield instance
