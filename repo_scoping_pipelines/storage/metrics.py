"""Engineering metrics in Postgres: commit history, author aggregates, file ownership, what shipped,
pull requests, tracker issues and the state of each incremental collector."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .db import fetch_tuples, stream_tuples
from .tables import (
    SCHEMA,
    author_daily,
    author_window,
    collector_state,
    file_owners,
    history_commit_files,
    history_commits,
    history_state,
    pull_requests,
    shipped_weeks,
)
from .tables import tracker_issues as tracker_issues  # re-exported: metrics.pipeline uses it

COMMIT_COLUMNS = ("repository_id", "sha", "author_name", "author_email", "committer_name", "committer_email",
                  "authored_at", "committed_at", "author_day", "subject", "change_type", "lines_added",
                  "lines_deleted", "files_changed")
FILE_COLUMNS = ("repository_id", "sha", "path", "old_path", "added", "deleted", "is_binary")
WINDOWS = {"7d": 7, "30d": 30, "90d": 90, "all": None}


def _t(table: sa.Table) -> str:
    return f'{SCHEMA}."{table.name}"'


# -- commit history ---------------------------------------------------------------------------

def get_history_state(engine: Engine, repository_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(history_state).where(history_state.c.repository_id == repository_id)
                           ).mappings().first()
    return dict(row) if row else None


class HistoryWriter:
    """Buffers commit and file rows and COPYs them into Postgres in batches, inside one transaction.

    One connection carries one COPY at a time (the wire protocol), so commits and files are
    copied one after the other per batch; batches keep memory flat on long histories. A batch is
    copied by a worker thread while the caller goes on parsing git's output (one batch in flight).
    """

    BATCH_FILES = 20_000

    def __init__(self, raw_connection) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._raw = raw_connection
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="history-copy")
        self._pending = None
        self._commit_rows: list[tuple] = []
        self._file_rows: list[tuple] = []
        self.commits = 0
        self.files = 0
        # (head_sha, mailmap_blob, full): set by the caller once every row is written; the
        # watermark then moves in the same transaction as the rows.
        self.watermark: tuple[str, str, bool] | None = None
        self.stored = 0

    def add(self, commit_row: tuple, file_rows: Iterable[tuple]) -> None:
        self._commit_rows.append(commit_row)
        self.commits += 1
        before = len(self._file_rows)
        self._file_rows.extend(file_rows)
        self.files += len(self._file_rows) - before
        if len(self._file_rows) >= self.BATCH_FILES or len(self._commit_rows) >= self.BATCH_FILES:
            self.flush()

    def _copy(self, commit_rows: list[tuple], file_rows: list[tuple]) -> None:
        for table, columns, rows in ((history_commits, COMMIT_COLUMNS, commit_rows),
                                     (history_commit_files, FILE_COLUMNS, file_rows)):
            if rows:
                with self._raw.cursor() as cur, \
                        cur.copy(f"COPY {_t(table)} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)

    def flush(self, *, wait: bool = False) -> None:
        if self._pending is not None:
            self._pending.result()  # one batch in flight; re-raises a failed COPY here
            self._pending = None
        if self._commit_rows or self._file_rows:
            self._pending = self._pool.submit(self._copy, self._commit_rows, self._file_rows)
            self._commit_rows, self._file_rows = [], []
        if wait and self._pending is not None:
            self._pending.result()
            self._pending = None

    def close(self) -> None:
        if self._pending is not None:
            self._pending.exception()  # let a copy in flight end before the transaction rolls back
        self._pool.shutdown(wait=True)


@contextmanager
def write_history(engine: Engine, repository_id: int, *, replace: bool) -> Iterator[HistoryWriter]:
    """Open one transaction that (when `replace`) drops the stored history and COPYs new rows in.

    Everything commits together with the watermark (`writer.watermark`), so a failure or a killed
    run leaves the previous history untouched.
    """
    with engine.begin() as conn:
        if replace:
            conn.execute(sa.delete(history_commit_files).where(history_commit_files.c.repository_id == repository_id))
            conn.execute(sa.delete(history_commits).where(history_commits.c.repository_id == repository_id))
        writer = HistoryWriter(conn.connection.driver_connection)
        try:
            yield writer
            writer.flush(wait=True)
        finally:
            writer.close()
        if writer.watermark is not None:
            head, mailmap, full = writer.watermark
            writer.stored = set_history_state(conn, repository_id, head, mailmap, full=full)


def set_history_state(conn: sa.Connection, repository_id: int, head_sha: str, mailmap_blob: str, *,
                      full: bool) -> int:
    """Record the new watermark (inside the history transaction); returns the stored commit count."""
    count = conn.execute(sa.select(sa.func.count()).select_from(history_commits)
                         .where(history_commits.c.repository_id == repository_id)).scalar_one()
    values = {"head_sha": head_sha, "mailmap_blob": mailmap_blob, "commit_count": count,
              "extracted_at": sa.func.now()}
    if full:
        values["full_extracted_at"] = sa.func.now()
    stmt = insert(history_state).values(repository_id=repository_id, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=["repository_id"], set_=values))
    return count


def set_derived_key(engine: Engine, repository_id: int, column: str, key: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(history_state).where(history_state.c.repository_id == repository_id)
                     .values({column: key}))


def shipped_inputs_key(engine: Engine, repository_id: int) -> str:
    """Changes whenever the commits or the pull requests behind what_shipped change."""
    with engine.connect() as conn:
        head = conn.execute(sa.select(history_state.c.head_sha, history_state.c.mailmap_blob).where(
            history_state.c.repository_id == repository_id)).first()
        prs = conn.execute(sa.select(sa.func.count(), sa.func.max(pull_requests.c.updated_at)).where(
            pull_requests.c.repository_id == repository_id)).one()
        github = conn.execute(sa.select(collector_state.c.last_success_at).where(
            collector_state.c.repository_id == repository_id, collector_state.c.source == "github")).first()
    return f"{tuple(head or ())}|{prs[0]}|{prs[1]}|{bool(github and github[0])}"


def commit_count(engine: Engine, repository_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(history_commits)
                            .where(history_commits.c.repository_id == repository_id)).scalar_one()


def history_day_range(engine: Engine, repository_id: int) -> tuple[date | None, date | None]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(sa.func.min(history_commits.c.author_day), sa.func.max(history_commits.c.author_day))
                           .where(history_commits.c.repository_id == repository_id)).one()
    return row[0], row[1]


def implausible_date_count(engine: Engine, repository_id: int, earliest: date, latest: date) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(history_commits).where(
            history_commits.c.repository_id == repository_id,
            sa.or_(history_commits.c.author_day < earliest, history_commits.c.author_day > latest))).scalar_one()


# -- author aggregates -------------------------------------------------------------------------

_DAILY_SQL = f"""
INSERT INTO {SCHEMA}.author_daily (repository_id, day, author_email, author_name, commits, lines_added,
                                   lines_deleted, files_touched)
SELECT c.repository_id, c.author_day, c.author_email,
       (array_agg(c.author_name ORDER BY c.authored_at DESC))[1],
       count(*), sum(c.lines_added), sum(c.lines_deleted),
       coalesce((SELECT count(DISTINCT f.path) FROM {SCHEMA}.history_commit_files f
                 JOIN {SCHEMA}.history_commits c2 ON c2.repository_id = f.repository_id AND c2.sha = f.sha
                 WHERE c2.repository_id = c.repository_id AND c2.author_day = c.author_day
                   AND c2.author_email = c.author_email), 0)
FROM {SCHEMA}.history_commits c
WHERE c.author_day >= :start AND c.author_day < :end {{repo_filter}}
GROUP BY c.repository_id, c.author_day, c.author_email
"""


def rebuild_daily(engine: Engine, start: date, end: date, repository_id: int | None = None) -> int:
    """Replace the per-author daily rows of days [start, end) from the stored commits; returns rows."""
    repo_filter = "AND c.repository_id = :rid" if repository_id is not None else ""
    params = {"start": start, "end": end, "rid": repository_id}
    with engine.begin() as conn:
        delete = sa.delete(author_daily).where(author_daily.c.day >= start, author_daily.c.day < end)
        if repository_id is not None:
            delete = delete.where(author_daily.c.repository_id == repository_id)
        conn.execute(delete)
        result = conn.execute(sa.text(_DAILY_SQL.format(repo_filter=repo_filter)), params)
    return result.rowcount or 0


def daily_totals(engine: Engine, start: date, end: date) -> dict[str, int]:
    """Commits in the daily table and in the history for days [start, end): they must agree."""
    with engine.connect() as conn:
        daily = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(author_daily.c.commits), 0)).where(
            author_daily.c.day >= start, author_daily.c.day < end)).scalar_one()
        history = conn.execute(sa.select(sa.func.count()).select_from(history_commits).where(
            history_commits.c.author_day >= start, history_commits.c.author_day < end)).scalar_one()
    return {"daily_commits": int(daily), "history_commits": int(history)}


_WINDOW_SQL = f"""
WITH c AS (
  SELECT sha, author_email, author_name, authored_at, author_day, lines_added, lines_deleted
  FROM {SCHEMA}.history_commits
  WHERE repository_id = :rid {{since}}
), per AS (
  SELECT author_email, count(*) AS commits, sum(lines_added) AS added, sum(lines_deleted) AS deleted,
         count(DISTINCT author_day) AS days, min(authored_at) AS first_at, max(authored_at) AS last_at,
         (array_agg(author_name ORDER BY authored_at DESC, sha))[1] AS name
  FROM c GROUP BY author_email
), touched AS (
  SELECT c.author_email, count(DISTINCT f.path) AS files
  FROM c JOIN {SCHEMA}.history_commit_files f ON f.repository_id = :rid AND f.sha = c.sha
  GROUP BY c.author_email
)
INSERT INTO {SCHEMA}.author_window (repository_id, "window", author_email, author_name, commits, lines_added,
                                    lines_deleted, files_touched, active_days, first_commit_at, last_commit_at,
                                    as_of)
SELECT :rid, :window, per.author_email, per.name, per.commits, per.added, per.deleted,
       coalesce(touched.files, 0), per.days, per.first_at, per.last_at, :as_of
FROM per LEFT JOIN touched USING (author_email)
"""


def rebuild_windows(engine: Engine, repository_id: int, as_of: datetime) -> dict[str, int]:
    """Replace the 7d/30d/90d/all author rows of one repository; windows end at `as_of`."""
    from datetime import timedelta

    counts = {}
    with engine.begin() as conn:
        conn.execute(sa.delete(author_window).where(author_window.c.repository_id == repository_id))
        for window, days in WINDOWS.items():
            since = "" if days is None else "AND authored_at > :since AND authored_at <= :as_of"
            params = {"rid": repository_id, "window": window, "as_of": as_of,
                      "since": None if days is None else as_of - timedelta(days=days)}
            counts[window] = conn.execute(sa.text(_WINDOW_SQL.format(since=since)), params).rowcount or 0
    return counts


def window_authors(engine: Engine, repository_id: int, window: str) -> list[dict]:
    cols = ("author_email", "author_name", "commits", "lines_added", "lines_deleted", "files_touched",
            "active_days")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(*[author_window.c[c] for c in cols])
            .where(author_window.c.repository_id == repository_id, author_window.c.window == window)
            .order_by(author_window.c.commits.desc(), author_window.c.author_email)
        ).mappings().all()
    return [{k: (int(v) if isinstance(v, int) else v) for k, v in r.items()} for r in rows]


def windows_as_of(engine: Engine, repository_id: int) -> datetime | None:
    """When the stored window rows of a repository end (the last author_metrics_window run)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(author_window.c.as_of))
                            .where(author_window.c.repository_id == repository_id)).scalar()


def window_commit_total(engine: Engine, repository_id: int, window: str = "all") -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(author_window.c.commits), 0)).where(
            author_window.c.repository_id == repository_id, author_window.c.window == window)).scalar_one())


# -- ownership -----------------------------------------------------------------------------------

def ownership_inputs(engine: Engine, repository_id: int) -> Iterator[tuple]:
    """(path, old_path, added, deleted, is_binary, email, name, authored_at), newest commit first."""
    stmt = (
        sa.select(history_commit_files.c.path, history_commit_files.c.old_path, history_commit_files.c.added,
                  history_commit_files.c.deleted, history_commit_files.c.is_binary, history_commits.c.author_email,
                  history_commits.c.author_name, history_commits.c.authored_at)
        .join(history_commits, sa.and_(history_commits.c.repository_id == history_commit_files.c.repository_id,
                                       history_commits.c.sha == history_commit_files.c.sha))
        .where(history_commit_files.c.repository_id == repository_id)
        .order_by(history_commits.c.committed_at.desc(), history_commits.c.authored_at.desc(),
                  history_commits.c.sha)
    )
    with engine.connect() as conn:
        yield from stream_tuples(conn, stmt)


def replace_file_owners(engine: Engine, repository_id: int, rows: Iterable[tuple]) -> int:
    """rows: (path, email, name, lines, weighted_lines, commits, last_changed_at)."""
    n = 0
    with engine.begin() as conn:
        conn.execute(sa.delete(file_owners).where(file_owners.c.repository_id == repository_id))
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(
                f"COPY {_t(file_owners)} (repository_id, path, author_email, author_name, lines, weighted_lines, "
                "commits, last_changed_at) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((repository_id, *row))
                n += 1
    return n


def owners_under(engine: Engine, repository_id: int, path: str) -> tuple[list[dict], int, bool]:
    """Per-author sums over a file or a folder. Returns (authors, files, is_folder)."""
    path = path.strip("/")
    exact = file_owners.c.path == path
    under = file_owners.c.path.startswith(path + "/", autoescape=True) if path else sa.true()
    with engine.connect() as conn:
        is_file = bool(path) and conn.execute(sa.select(sa.literal(1)).where(
            file_owners.c.repository_id == repository_id, exact).limit(1)).first() is not None
        where = exact if is_file else under
        rows = conn.execute(
            sa.select(file_owners.c.author_email,
                      sa.func.max(file_owners.c.author_name).label("author_name"),
                      sa.func.sum(file_owners.c.lines).label("lines"),
                      sa.func.sum(file_owners.c.weighted_lines).label("weighted_lines"),
                      sa.func.sum(file_owners.c.commits).label("commits"),
                      sa.func.max(file_owners.c.last_changed_at).label("last_changed_at"))
            .where(file_owners.c.repository_id == repository_id, where)
            .group_by(file_owners.c.author_email)
        ).mappings().all()
        files = conn.execute(sa.select(sa.func.count(sa.distinct(file_owners.c.path))).where(
            file_owners.c.repository_id == repository_id, where)).scalar_one()
    return [dict(r) for r in rows], int(files), not is_file


def owner_summary(engine: Engine, repository_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows, paths = conn.execute(sa.select(sa.func.count(), sa.func.count(sa.distinct(file_owners.c.path)))
                                   .where(file_owners.c.repository_id == repository_id)).one()
    return {"rows": int(rows), "paths": int(paths)}


def owner_problems(engine: Engine, repository_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        negative = conn.execute(sa.select(sa.func.count()).select_from(file_owners).where(
            file_owners.c.repository_id == repository_id,
            sa.or_(file_owners.c.lines < 0, file_owners.c.weighted_lines < 0, file_owners.c.commits < 1))
        ).scalar_one()
    return {"invalid_rows": int(negative)}


# -- what shipped ------------------------------------------------------------------------------

_SHIPPED_COLUMNS = ("sha", "subject", "change_type", "author_name", "author_email", "committed_at")


def shipped_commits(engine: Engine, repository_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = fetch_tuples(conn, sa.select(*[history_commits.c[c] for c in _SHIPPED_COLUMNS])
                            .where(history_commits.c.repository_id == repository_id)
                            .order_by(history_commits.c.committed_at, history_commits.c.sha))
    return [dict(zip(_SHIPPED_COLUMNS, r, strict=True)) for r in rows]


def merged_pull_requests(engine: Engine, repository_id: int) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(pull_requests.c.number, pull_requests.c.title, pull_requests.c.author_login,
                      pull_requests.c.url, pull_requests.c.merged_at)
            .where(pull_requests.c.repository_id == repository_id, pull_requests.c.merged_at.is_not(None))
            .order_by(pull_requests.c.merged_at, pull_requests.c.number)
        ).mappings().all()
    return [dict(r) for r in rows]


def replace_shipped(engine: Engine, repository_id: int, weeks: list[dict]) -> int:
    with engine.begin() as conn:
        conn.execute(sa.delete(shipped_weeks).where(shipped_weeks.c.repository_id == repository_id))
        for start in range(0, len(weeks), 500):
            conn.execute(insert(shipped_weeks).values([
                {"repository_id": repository_id, "week_start": w["week_start"], "source": w["source"],
                 "counts": w["counts"], "items": w["items"]} for w in weeks[start:start + 500]]))
    return len(weeks)


def shipped_week(engine: Engine, repository_id: int, week_start: date | None) -> dict | None:
    stmt = sa.select(shipped_weeks).where(shipped_weeks.c.repository_id == repository_id)
    stmt = stmt.where(shipped_weeks.c.week_start == week_start) if week_start else \
        stmt.order_by(shipped_weeks.c.week_start.desc()).limit(1)
    with engine.connect() as conn:
        row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def shipped_total(engine: Engine, repository_id: int) -> int:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(shipped_weeks.c.counts).where(
            shipped_weeks.c.repository_id == repository_id)).scalars().all()
    return sum(sum(c.values()) for c in rows)


# -- pull requests, tracker issues, collector state ---------------------------------------------

def get_collector_state(engine: Engine, repository_id: int, source: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(collector_state).where(collector_state.c.repository_id == repository_id,
                                                            collector_state.c.source == source)).mappings().first()
    return dict(row) if row else None


def set_collector_state(engine: Engine, repository_id: int, source: str, **values) -> None:
    values = {**values, "updated_at": sa.func.now()}
    if values.get("last_status") in ("ok", "not_modified"):
        values["last_success_at"] = sa.func.now()
        values.setdefault("last_error", None)
    stmt = insert(collector_state).values(repository_id=repository_id, source=source, **values)
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_update(index_elements=["repository_id", "source"], set_=values))


def upsert_rows(engine: Engine, table: sa.Table, repository_id: int, rows: list[dict]) -> int:
    if not rows:
        return 0
    keys = [c.name for c in table.primary_key.columns]
    with engine.begin() as conn:
        for start in range(0, len(rows), 500):
            stmt = insert(table).values([{**r, "repository_id": repository_id} for r in rows[start:start + 500]])
            update = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
            conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update))
    return len(rows)


def row_count(engine: Engine, table: sa.Table, repository_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.repository_id == repository_id)).scalar_one()
