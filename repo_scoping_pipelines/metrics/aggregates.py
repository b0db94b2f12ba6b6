"""Author aggregates: per author per day, and per author over 7, 30, 90 days and all time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine

from ..storage import metrics as store

WINDOWS = tuple(store.WINDOWS)


@dataclass
class WindowResult:
    rows: dict[str, int]  # window -> authors
    commits_all: int
    as_of: datetime
    seconds: float


def author_windows(engine: Engine, repository_id: int, as_of: datetime | None = None) -> WindowResult:
    """Recompute the window rows of one repository; windows end at `as_of` (now by default)."""
    started = time.perf_counter()
    as_of = as_of or datetime.now(UTC)
    rows = store.rebuild_windows(engine, repository_id, as_of)
    return WindowResult(rows=rows, commits_all=store.window_commit_total(engine, repository_id), as_of=as_of,
                        seconds=time.perf_counter() - started)


@dataclass
class DailyResult:
    start: date
    end: date  # exclusive
    rows: int
    daily_commits: int
    history_commits: int
    seconds: float


def author_daily(engine: Engine, start: date, end: date, repository_id: int | None = None) -> DailyResult:
    """Recompute the per-author rows of days [start, end) for every repository (or one)."""
    started = time.perf_counter()
    rows = store.rebuild_daily(engine, start, end, repository_id)
    totals = store.daily_totals(engine, start, end)
    return DailyResult(start=start, end=end, rows=rows, seconds=time.perf_counter() - started, **totals)


def authors(engine: Engine, repository_id: int, window: str) -> list[dict]:
    if window not in store.WINDOWS:
        raise ValueError(f"window must be one of {', '.join(store.WINDOWS)}")
    return store.window_authors(engine, repository_id, window)
