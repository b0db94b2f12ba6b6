"""what_shipped's pure parts: ISO week arithmetic, week parsing and the result shape
(pipeline.compute_shipped groups merged pull requests or commits per week)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

TYPE_ORDER = ("feat", "fix", "perf", "refactor", "docs", "test", "build", "ci", "deps", "chore", "style", "revert",
              "other")
_ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$", re.IGNORECASE)


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def parse_week(text: str) -> date:
    """'2024-W03' or any date in the week ('2024-01-17') -> the Monday that starts it."""
    text = text.strip()
    m = _ISO_WEEK.match(text)
    if m:
        return date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
    return week_start(date.fromisoformat(text))


@dataclass
class ShippedResult:
    source: str  # pull_requests | commits
    weeks: int
    items: int
    latest_week: date | None
    latest_counts: dict[str, int]
    seconds: float
    skipped: bool = False


def _at(value: datetime) -> str:
    return value.isoformat()
