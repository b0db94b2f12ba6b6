"""what_shipped's work: per ISO week, merged pull requests (when GitHub is synced) or else the
commits that landed, grouped by conventional-commit type."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from ..storage import metrics as store
from .history import change_type

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


def compute_shipped(engine: Engine, repository_id: int, *, force: bool = False) -> ShippedResult:
    """Replace the weekly rows of one repository (skipped when its commits and pull requests are unchanged)."""
    started = time.perf_counter()
    key = store.shipped_inputs_key(engine, repository_id)
    state = store.get_history_state(engine, repository_id) or {}
    if not force and state.get("shipped_key") == key:
        latest = store.shipped_week(engine, repository_id, None)
        return ShippedResult(source=latest["source"] if latest else "commits",
                             weeks=store.row_count(engine, store.shipped_weeks, repository_id),
                             items=store.shipped_total(engine, repository_id),
                             latest_week=latest["week_start"] if latest else None,
                             latest_counts=latest["counts"] if latest else {},
                             seconds=time.perf_counter() - started, skipped=True)
    github = store.get_collector_state(engine, repository_id, "github")
    prs = store.merged_pull_requests(engine, repository_id)
    weeks: dict[date, list[dict]] = {}
    if prs or (github and github.get("last_success_at")):
        source = "pull_requests"
        for pr in prs:
            weeks.setdefault(week_start(pr["merged_at"].date()), []).append({
                "type": change_type(pr["title"]), "title": pr["title"], "ref": f"#{pr['number']}",
                "url": pr["url"], "author": pr["author_login"], "at": _at(pr["merged_at"])})
    else:
        source = "commits"
        for c in store.shipped_commits(engine, repository_id):
            weeks.setdefault(week_start(c["committed_at"].date()), []).append({
                "type": c["change_type"], "title": c["subject"], "ref": c["sha"][:12], "sha": c["sha"],
                "author": c["author_name"], "author_email": c["author_email"], "at": _at(c["committed_at"])})
    rows = []
    for start, items in sorted(weeks.items()):
        counts: dict[str, int] = {}
        for item in items:
            counts[item["type"]] = counts.get(item["type"], 0) + 1
        rows.append({"week_start": start, "source": source, "counts": counts, "items": items})
    store.replace_shipped(engine, repository_id, rows)
    if state:
        store.set_derived_key(engine, repository_id, "shipped_key", key)
    latest = rows[-1] if rows else None
    return ShippedResult(source=source, weeks=len(rows), items=sum(len(r["items"]) for r in rows),
                         latest_week=latest["week_start"] if latest else None,
                         latest_counts=latest["counts"] if latest else {}, seconds=time.perf_counter() - started)


def shipped(engine: Engine, repository_id: int, week: date | None) -> dict | None:
    row = store.shipped_week(engine, repository_id, week)
    if row is None:
        return None
    groups: dict[str, list] = {}
    for item in row["items"]:
        groups.setdefault(item["type"], []).append(item)
    ordered = [{"type": t, "count": len(groups[t]), "items": groups[t]} for t in TYPE_ORDER if t in groups]
    ordered += [{"type": t, "count": len(v), "items": v} for t, v in groups.items() if t not in TYPE_ORDER]
    start = row["week_start"]
    iso = start.isocalendar()
    return {"week": f"{iso[0]}-W{iso[1]:02d}", "week_start": start.isoformat(),
            "week_end": (start + timedelta(days=6)).isoformat(), "source": row["source"],
            "total": sum(row["counts"].values()), "groups": ordered}
