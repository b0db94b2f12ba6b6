"""The metrics stage's storage work: commit history stored incrementally, per-author daily and
window aggregates, file ownership, what shipped per week, and the GitHub / Redmine sync.

The pure parts (git log parsing, mailmap, week arithmetic) stay in history.py, ownership.py and
shipped.py; this module is the one that reads and writes storage.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.safety.redaction import redact
from repo_scoping_pipelines.search.pipeline import chunk_id
from repo_scoping_pipelines.search.text import index_text

from ..chunking import chunk_file
from ..collectors.github import GitHubCollector, github_slug
from ..collectors.http import CollectorError
from ..collectors.redmine import RedmineCollector, redmine_project
from ..services import Services
from ..storage import catalog
from ..storage import metrics as store
from ..storage.tables import content_chunks
from .history import (
    EARLIEST_PLAUSIBLE,
    Commit,
    HistoryResult,
    change_type,
    head_commit,
    is_ancestor,
    mailmap_blob,
    read_log,
)
from .ownership import OwnershipResult, current_paths
from .shipped import TYPE_ORDER, ShippedResult, _at, week_start

# --- history ----------------------------------------------------------------------------------------

def _commit_row(repository_id: int, c: Commit) -> tuple:
    added = sum(f[2] for f in c.files)
    deleted = sum(f[3] for f in c.files)
    return (repository_id, c.sha, c.author_name, c.author_email, c.committer_name, c.committer_email,
            c.authored_at, c.committed_at, c.authored_at.date(), c.subject, change_type(c.subject), added, deleted,
            len(c.files))


def extract_history(engine: Engine, repository_id: int, checkout: Path, *, full: bool = False,
                    today: date | None = None) -> HistoryResult:
    """Store the non-merge history reachable from the checkout's head.

    Incremental from the stored watermark; re-extracts everything when asked (`full`), when the
    watermark is no longer an ancestor of the head (force-push) or when .mailmap changed.
    """
    started = time.perf_counter()
    head = head_commit(checkout)
    mailmap = mailmap_blob(checkout, head)
    state = store.get_history_state(engine, repository_id)
    previous = state["head_sha"] if state else None
    if full:
        mode, reason = "full", "full refresh requested"
    elif state is None:
        mode, reason = "full", "first extraction"
    elif state["mailmap_blob"] != mailmap:
        mode, reason = "full", ".mailmap changed: authors are resolved again"
    elif previous == head:
        mode, reason = "unchanged", "head unchanged"
    elif is_ancestor(checkout, previous, head):
        mode, reason = "incremental", f"new commits since {previous[:12]}"
    else:
        mode, reason = "full", f"force-push: {previous[:12]} is no longer an ancestor of the head"
    result = HistoryResult(mode=mode, reason=reason, head=head, previous_head=previous)
    if mode == "unchanged":
        result.total_commits = state["commit_count"]
    else:
        old_range = store.history_day_range(engine, repository_id) if mode == "full" else (None, None)
        days: set[date] = set()
        with store.write_history(engine, repository_id, replace=mode == "full") as writer:
            revisions = [head] if mode == "full" else [f"{previous}..{head}"]
            for commit in read_log(checkout, revisions):
                row = _commit_row(repository_id, commit)
                writer.add(row, [(repository_id, commit.sha, *f) for f in commit.files])
                days.add(row[8])
            writer.watermark = (head, mailmap, mode == "full")
        result.commits_added, result.files_added, result.total_commits = writer.commits, writer.files, writer.stored
        days.update(d for d in old_range if d is not None)
        if days:
            result.first_day, result.last_day = min(days), max(days)
    today = today or datetime.now(UTC).date()
    result.implausible_dates = store.implausible_date_count(engine, repository_id, EARLIEST_PLAUSIBLE,
                                                            today + timedelta(days=1))
    result.seconds = time.perf_counter() - started
    return result




# --- aggregates -------------------------------------------------------------------------------------

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




# --- ownership --------------------------------------------------------------------------------------

def compute_ownership(engine: Engine, repository_id: int, checkout: Path, head: str, *,
                      half_life_days: float = 180.0, as_of: datetime | None = None,
                      force: bool = False) -> OwnershipResult:
    """Replace the per-(path, author) rows: changed lines, recency-weighted lines and commits.

    Lines changed under an older name count for the path the file has now (renames followed from
    the newest commit back). Only paths of the head's tree get rows.
    """
    started = time.perf_counter()
    as_of = as_of or datetime.now(UTC)
    state = store.get_history_state(engine, repository_id) or {}
    # Recency weights move with the day, so the rows are recomputed at most daily without new commits.
    key = f"{state.get('head_sha')}|{state.get('mailmap_blob')}|{head}|{as_of.date()}|{half_life_days}"
    if not force and state.get("ownership_key") == key:
        stored = store.owner_summary(engine, repository_id)
        return OwnershipResult(paths=stored["paths"], rows=stored["rows"], skipped=True,
                               seconds=time.perf_counter() - started)
    paths = current_paths(checkout, head)
    alias: dict[str, str] = {}
    acc: dict[tuple[str, str], list] = {}
    for path, old, added, deleted, _binary, email, name, at in store.ownership_inputs(engine, repository_id):
        target = alias.get(path, path)
        if old is not None and old != path:
            alias.setdefault(old, target)
        if target not in paths:
            continue
        age_days = max((as_of - at).total_seconds() / 86400.0, 0.0)
        weight = 0.5 ** (age_days / half_life_days)
        entry = acc.get((target, email))
        lines = added + deleted
        if entry is None:  # newest commit first: its name and date are the latest
            acc[(target, email)] = [name, lines, lines * weight, 1, at]
        else:
            entry[1] += lines
            entry[2] += lines * weight
            entry[3] += 1
    rows = ((p, email, v[0], v[1], round(v[2], 4), v[3], v[4]) for (p, email), v in acc.items())
    written = store.replace_file_owners(engine, repository_id, rows)
    totals: dict[str, int] = {}
    for (_p, email), v in acc.items():
        totals[email] = totals.get(email, 0) + v[1]
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    if state:
        store.set_derived_key(engine, repository_id, "ownership_key", key)
    return OwnershipResult(paths=len({p for p, _ in acc}), rows=written, top=top,
                           seconds=time.perf_counter() - started)


def ownership(engine: Engine, repository_id: int, path: str, *, weighting: str = "lines") -> dict | None:
    """Authors' shares of a file or of everything under a folder; None when nothing is known there."""
    authors, files, is_folder = store.owners_under(engine, repository_id, path)
    if not authors:
        return None
    key = "weighted_lines" if weighting == "recency" else "lines"
    total = sum(float(a[key]) for a in authors)
    commits = sum(int(a["commits"]) for a in authors)
    out = []
    for a in authors:
        # Binary files change no lines: shares fall back to commits there.
        share = float(a[key]) / total if total > 0 else int(a["commits"]) / commits
        out.append({"author_email": a["author_email"], "author_name": a["author_name"], "lines": int(a["lines"]),
                    "weighted_lines": round(float(a["weighted_lines"]), 2), "commits": int(a["commits"]),
                    "share": round(share, 4),
                    "last_changed_at": a["last_changed_at"].isoformat() if a["last_changed_at"] else None})
    out.sort(key=lambda a: (-a["share"], -a["commits"], a["author_email"]))
    return {"path": path.strip("/"), "kind": "folder" if is_folder else "file", "files": files,
            "weighting": weighting, "owner": out[0], "authors": out}




# --- shipped ----------------------------------------------------------------------------------------

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




# --- trackers ---------------------------------------------------------------------------------------

@dataclass
class SyncResult:
    source: str  # github | redmine
    status: str  # ok | not_modified | not_configured | error
    reason: str = ""
    target: str | None = None  # owner/name on GitHub, the Redmine project
    fetched: int = 0
    stored: int = 0
    chunks_added: int = 0
    requests: int = 0
    error: str | None = None
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


def _chunk_rows(repository: str, source: str, path: str, title: str, body: str, symbol: str) -> tuple[str, list]:
    text = f"{title}\n\n{body}".strip() + "\n"
    digest = hashlib.sha256(text.encode("utf-8", errors="replace")).hexdigest()[:40]
    rows = []
    for c in chunk_file(f"{path}.md", text, "Markdown"):
        rows.append({"chunk_id": chunk_id(repository, path, digest, source, symbol, c.start_line, c.end_line),
                     "path": path, "file_hash": digest, "source": source, "kind": source, "symbol": symbol,
                     "language": None, "start_line": c.start_line, "end_line": c.end_line, "text": c.text,
                     "index_text": index_text(c.text, symbol=symbol, path=path)})
    return digest, rows


def store_text_chunks(services: Services, repository: str, repository_id: int, source: str,
                      docs: list[tuple[str, str, str, str]]) -> int:
    """docs: (path, title, body, symbol). Replaces each document's chunks when its text changed."""
    added = 0
    with services.engine.begin() as conn:
        for path, title, body, symbol in docs:
            digest, rows = _chunk_rows(repository, source, path, title, body, symbol)
            conn.execute(sa.delete(content_chunks).where(
                content_chunks.c.repository_id == repository_id, content_chunks.c.source == source,
                content_chunks.c.path == path, content_chunks.c.file_hash != digest))
            if rows:
                result = conn.execute(insert(content_chunks).values(
                    [{**r, "repository_id": repository_id} for r in rows])
                    .on_conflict_do_nothing(index_elements=["chunk_id"]).returning(content_chunks.c.chunk_id))
                added += len(result.all())
    return added


def _fail(services: Services, repo_id: int, name: str, result: SyncResult, exc: Exception,
          secrets: tuple[str, ...]) -> SyncResult:
    result.status, result.error = "error", redact(str(exc), secrets)
    table = store.pull_requests if result.source == "github" else store.tracker_issues
    result.stored = store.row_count(services.engine, table, repo_id)
    store.set_collector_state(services.engine, repo_id, result.source, last_status="error",
                              last_error=result.error[:1000])
    ops_log.event(f"{result.source}.sync_failed", level=logging.ERROR, repository=name, error=result.error)
    return result


def _secrets(services: Services) -> tuple[str, ...]:
    s = services.settings
    return tuple(v.get_secret_value() for v in (s.github_token, s.redmine_api_key) if v)


def sync_pull_requests(services: Services, name: str, *, full: bool = False,
                       sleep: Callable[[float], None] = time.sleep) -> SyncResult:
    started = time.perf_counter()
    settings = services.settings
    repo = catalog.get_repository(services.engine, name)
    result = SyncResult(source="github", status="not_configured")
    if settings.github_token is None:
        result.reason = "REPO_SCOPING_GITHUB_TOKEN is not set"
    elif not (slug := github_slug(repo.source, repo.source_kind, settings)):
        result.reason = "the repository is not on GitHub"
    else:
        result.target = slug
        state = store.get_collector_state(services.engine, repo.id, "github") or {}
        since = None if full else state.get("watermark")
        try:
            collector = GitHubCollector(settings, sleep=sleep)
            sync = collector.pull_requests(slug, since=since, etag=None if full else state.get("etag"),
                                           etag_url=state.get("etag_url"))
        except CollectorError as exc:
            result.seconds = time.perf_counter() - started
            return _fail(services, repo.id, name, result, exc, _secrets(services))
        result.requests = sync.requests
        result.details = {"pages": sync.pages, "rate_limit_wait_s": round(sync.waited_s, 3)}
        if sync.not_modified:
            result.status, result.reason = "not_modified", "304 Not Modified: nothing changed"
            store.set_collector_state(services.engine, repo.id, "github", last_status="not_modified")
        else:
            result.fetched = len(sync.pulls)
            store.upsert_rows(services.engine, store.pull_requests, repo.id, sync.pulls)
            result.chunks_added = store_text_chunks(
                services, name, repo.id, "pull_request",
                [(f"pulls/{p['number']}", p["title"], p["body"], f"PR #{p['number']}") for p in sync.pulls])
            newest = max([p["updated_at"] for p in sync.pulls] + ([since] if since else []), default=None)
            store.set_collector_state(services.engine, repo.id, "github", last_status="ok", watermark=newest,
                                      etag=sync.etag, etag_url=sync.etag_url)
            result.status, result.reason = "ok", f"{len(sync.pulls)} pull requests new or updated"
    result.stored = store.row_count(services.engine, store.pull_requests, repo.id)
    result.seconds = time.perf_counter() - started
    return result


def sync_tracker_issues(services: Services, name: str, *, full: bool = False,
                        sleep: Callable[[float], None] = time.sleep) -> SyncResult:
    started = time.perf_counter()
    settings = services.settings
    repo = catalog.get_repository(services.engine, name)
    result = SyncResult(source="redmine", status="not_configured")
    if not settings.redmine_url or settings.redmine_api_key is None:
        result.reason = "REPO_SCOPING_REDMINE_URL and REPO_SCOPING_REDMINE_API_KEY are not both set"
    else:
        project = result.target = redmine_project(name, settings)
        state = store.get_collector_state(services.engine, repo.id, "redmine") or {}
        since = None if full else state.get("watermark")
        try:
            sync = RedmineCollector(settings, sleep=sleep).issues(project, since=since)
        except CollectorError as exc:
            result.seconds = time.perf_counter() - started
            return _fail(services, repo.id, name, result, exc, _secrets(services))
        result.requests, result.fetched = sync.requests, len(sync.issues)
        result.details = {"pages": sync.pages}
        store.upsert_rows(services.engine, store.tracker_issues, repo.id, sync.issues)
        result.chunks_added = store_text_chunks(
            services, name, repo.id, "issue",
            [(f"issues/{i['issue_id']}", i["subject"], i["description"], f"Issue #{i['issue_id']}")
             for i in sync.issues])
        newest = max([i["updated_on"] for i in sync.issues] + ([since] if since else []), default=None)
        store.set_collector_state(services.engine, repo.id, "redmine", last_status="ok", watermark=newest)
        result.status, result.reason = "ok", f"{len(sync.issues)} issues new or updated"
    result.stored = store.row_count(services.engine, store.tracker_issues, repo.id)
    result.seconds = time.perf_counter() - started
    return result




# --- people and pull-request metrics (issue 16) ------------------------------------------------------

@dataclass
class DetailsResult:
    status: str  # ok | not_configured | error
    reason: str = ""
    pending: int = 0
    fetched: int = 0
    requests: int = 0
    skipped_records: int = 0
    error: str | None = None
    seconds: float = 0.0
    totals: dict = field(default_factory=dict)


def sync_pull_request_details(services: Services, name: str, *,
                              sleep: Callable[[float], None] = time.sleep) -> DetailsResult:
    """Reviews, files and commits of each PR new or updated since its details were fetched.

    Each PR is stored in its own transaction, so a failure half-way keeps the PRs done and the next
    run fetches only the rest.
    """
    from ..storage import people as people_store

    started = time.perf_counter()
    settings = services.settings
    repo = catalog.get_repository(services.engine, name)
    result = DetailsResult(status="not_configured")
    slug = github_slug(repo.source, repo.source_kind, settings) if settings.github_token is not None else None
    if settings.github_token is None:
        result.reason = "REPO_SCOPING_GITHUB_TOKEN is not set"
    elif not slug:
        result.reason = "the repository is not on GitHub"
    else:
        pending = people_store.pending_details(services.engine, repo.id)
        result.pending, result.status = len(pending), "ok"
        result.reason = f"{len(pending)} pull requests new or updated"
        if pending:
            try:
                collector = GitHubCollector(settings, sleep=sleep)
                for number, updated_at in pending:
                    details = collector.pull_details(slug, number)
                    people_store.store_details(services.engine, repo.id, number, updated_at, details.reviews,
                                               details.files, details.commits)
                    result.fetched += 1
                    result.skipped_records += details.skipped
                result.requests = collector.client.requests_made
            except CollectorError as exc:
                result.status, result.error = "error", redact(str(exc), _secrets(services))
                ops_log.event("github.details_failed", level=logging.ERROR, repository=name, error=result.error)
    result.totals = people_store.detail_totals(services.engine, repo.id)
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class PrWindowResult:
    rows: dict[str, int]
    prs: int
    counts: dict[str, int]
    top: list[dict]
    as_of: datetime
    seconds: float


def compute_pr_windows(engine: Engine, repository_id: int, as_of: datetime | None = None) -> PrWindowResult:
    """Replace the per-author PR rows of the 7d/30d/90d/all windows ending at `as_of`."""
    from ..storage import people as people_store
    from . import pull_requests as prm

    started = time.perf_counter()
    as_of = as_of or datetime.now(UTC)
    frames = prm.prepare(*people_store.pr_inputs(engine, repository_id))
    windows = {}
    for window, days in store.WINDOWS.items():
        start = None if days is None else as_of - timedelta(days=days)
        windows[window] = prm.records(prm.author_metrics(frames, start, as_of))
    people_store.replace_pr_windows(engine, repository_id, windows, as_of)
    return PrWindowResult(rows={w: len(v) for w, v in windows.items()}, prs=frames.counts["prs"],
                          counts=frames.counts, top=windows["30d"][:10], as_of=as_of,
                          seconds=time.perf_counter() - started)


def pr_metrics_between(engine: Engine, repository_id: int, since: datetime | None,
                       until: datetime | None) -> list[dict]:
    """Per-author PR metrics for any range (since, until], computed from the stored PRs."""
    from ..storage import people as people_store
    from . import pull_requests as prm

    frames = prm.prepare(*people_store.pr_inputs(engine, repository_id))
    return prm.records(prm.author_metrics(frames, since, until))


@dataclass
class PeopleResult:
    people: int
    identities: int
    suggestions: int
    moved: int
    new: int
    counts: dict[str, int]
    top: list[tuple]
    seconds: float


@dataclass(frozen=True)
class PeopleInputs:
    """What the people registry is built from: every identity seen (storage.people.registry_inputs)
    and every manual decision."""

    frames: dict
    decisions: list[tuple[str, str, str | None]]

    def fingerprint(self) -> str:
        """A hash of the inputs, independent of row order: the same inputs build the same registry."""
        import hashlib

        import pandas as pd

        digest = hashlib.sha256()
        for name in sorted(self.frames):
            frame = self.frames[name]
            ordered = frame.sort_values(list(frame.columns)).reset_index(drop=True) if len(frame) else frame
            digest.update(name.encode())
            digest.update(pd.util.hash_pandas_object(ordered.astype(str), index=False).values.tobytes())
        digest.update(repr(self.decisions).encode())
        return digest.hexdigest()[:24]


def people_inputs(engine: Engine) -> PeopleInputs:
    from ..storage import people as people_store

    return PeopleInputs(people_store.registry_inputs(engine), people_store.decisions(engine))


def compute_people(engine: Engine, inputs: PeopleInputs | None = None) -> PeopleResult:
    """Rebuild the people registry from every identity seen and every manual decision (read now
    unless `inputs` were read already)."""
    from ..storage import people as people_store
    from .people import build_registry

    started = time.perf_counter()
    inputs = inputs or people_inputs(engine)
    frames = inputs.frames
    registry = build_registry(frames["git"], frames["github"], frames["linkage"], frames["redmine"], inputs.decisions)
    changed = people_store.replace_registry(engine, registry.identities, registry.people, registry.suggestions)
    top = registry.people.sort_values(["identities", "display_name"], ascending=[False, True]).head(10)
    return PeopleResult(people=len(registry.people), identities=len(registry.identities),
                        suggestions=len(registry.suggestions), moved=changed["moved"], new=changed["new"],
                        counts=registry.counts,
                        top=[(r.display_name, r.primary_email or "", r.github_login or "", r.identities)
                             for r in top.itertuples()],
                        seconds=time.perf_counter() - started)


def decide_people(engine: Engine, action: str, identities: list[str], *, decided_by: str | None = None,
                  note: str | None = None) -> dict:
    """A manual merge (two or more identities become one person) or split (an identity stands alone).

    Identities are what a user types (e-mail, github:LOGIN, redmine:NAME, git-name:NAME) or a person id
    (for merge: all of that person's identities join). Raises UnknownIdentity naming an unknown one,
    PeopleError for a decision that cannot be made.
    """
    from ..storage import people as people_store
    from .people import PeopleError, UnknownIdentity, parse_identity

    keys: list[str] = []
    for text in identities:
        if text.startswith("p-") and people_store.person(engine, text):
            keys.append(people_store.person(engine, text)["identity_list"][0]["identity"])
            continue
        keys.append(parse_identity(text))
    unknown = sorted(set(keys) - people_store.known_identities(engine, keys))
    if unknown:
        raise UnknownIdentity(f"unknown identity: {', '.join(unknown)} (see `repo-scoping people list`)")
    if action == "merge":
        if len(set(keys)) < 2:
            raise PeopleError("merge needs two different identities")
        for other in keys[1:]:
            people_store.add_decision(engine, "merge", keys[0], other, decided_by=decided_by, note=note)
    elif action == "split":
        for key in keys:
            people_store.add_decision(engine, "split", key, None, decided_by=decided_by, note=note)
    else:
        raise PeopleError(f"action must be merge or split, not {action!r}")
    compute_people(engine)
    persons = {people_store.person_of(engine, k) for k in keys}
    return {"action": action, "identities": keys,
            "people": [person_detail(engine, p) for p in sorted(p for p in persons if p)]}


# --- reads behind /metrics/pull-requests, /metrics/authors/daily and /people (issue 16) ---------------

class UnknownAuthor(LookupError):
    """An author= / person that neither the people registry nor the history knows."""


def resolve_author(engine: Engine, repository_id: int, author: str) -> tuple[str | None, list[str]]:
    """(person id, that person's lowercased e-mails) for an e-mail, an identity key or a person id.

    An e-mail the registry does not know yet (people not computed) but the history has stands alone.
    Raises UnknownAuthor naming it otherwise.
    """
    from ..storage import people as people_store
    from .people import PeopleError, parse_identity

    text = author.strip()
    person_id = people_store.person_of(engine, text) if text.startswith("p-") else None
    key = None
    if person_id is None:
        try:
            key = parse_identity(text)
        except PeopleError:
            raise UnknownAuthor(f"unknown author {author!r}: give an e-mail, github:LOGIN or a person id") from None
        person_id = people_store.person_of(engine, key)
    if person_id is not None:
        return person_id, sorted(people_store.identities_of(engine, person_id, "email"))
    if key is not None and key.startswith("email:") and people_store.author_emails_known(
            engine, repository_id, key[len("email:"):]):
        return None, [key[len("email:"):]]
    raise UnknownAuthor(f"unknown author {author!r}")


def _day_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """Inclusive UTC days as the (start, end] range the PR frames take."""
    start = None if since is None else datetime(since.year, since.month, since.day, tzinfo=UTC) - timedelta(
        microseconds=1)
    end = None if until is None else datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(
        days=1, microseconds=-1)
    return start, end


def authors_in_days(engine: Engine, repository_id: int, since: date | None, until: date | None, *,
                    by_person: bool = False) -> list[dict]:
    """/metrics/authors for the inclusive UTC days [since, until] of the author date, from the history
    (one row per person with `by_person`)."""
    from ..storage import people as people_store

    return people_store.authors_between(engine, repository_id, *_day_bounds(since, until), by_person=by_person)


def people_in_window(engine: Engine, repository_id: int, window: str) -> list[dict]:
    """/metrics/authors?by=person for a window: one row per person, from the history, over the same
    range as the stored window rows (ending at their as_of; now when there are none)."""
    from ..storage import people as people_store

    if window not in store.WINDOWS:
        raise ValueError(f"window must be one of {', '.join(store.WINDOWS)}")
    as_of = store.windows_as_of(engine, repository_id) or datetime.now(UTC)
    days = store.WINDOWS[window]
    return people_store.authors_between(engine, repository_id, None if days is None else as_of - timedelta(days=days),
                                        as_of, by_person=True)


def pull_request_metrics(engine: Engine, repository_id: int, window: str, since: date | None = None,
                         until: date | None = None, person_id: str | None = None) -> dict:
    """Per-login PR metrics: the stored window rows, or computed for the days [since, until] when given;
    only the logins of one person when `person_id` is given."""
    from ..storage import people as people_store

    if since is not None or until is not None:
        rows = pr_metrics_between(engine, repository_id, *_day_bounds(since, until))
        answer = {"window": None, "as_of": None}
    else:
        if window not in store.WINDOWS:
            raise ValueError(f"window must be one of {', '.join(store.WINDOWS)}")
        rows = people_store.pr_window_rows(engine, repository_id, window)
        as_of = people_store.pr_window_as_of(engine, repository_id)
        answer = {"window": window, "as_of": as_of.isoformat() if as_of else None}
    persons = people_store.person_map(engine, "github")
    if person_id is not None:
        rows = [r for r in rows if persons.get(r["author_login"], (None,))[0] == person_id]
    authors = []
    for row in rows:
        person_id, name = persons.get(row["author_login"], (None, None))
        authors.append({**row, "person_id": person_id, "person_name": name})
    return {**answer, "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None, "authors": authors}


def daily_authors(engine: Engine, repository_id: int, since: date, until: date,
                  emails: list[str] | None = None) -> dict:
    """author_daily rows of the days [since, until], each with its person, and their totals."""
    from ..storage import people as people_store

    rows = people_store.daily_rows(engine, repository_id, since, until, emails)
    persons = people_store.person_map(engine, "email")
    days = [{**r, "day": r["day"].isoformat(), "person_id": persons.get(r["author_email"].lower(), (None, None))[0]}
            for r in rows]
    totals = {k: sum(int(r[k]) for r in rows) for k in ("commits", "lines_added", "lines_deleted")}
    return {"since": since.isoformat(), "until": until.isoformat(), "days": days, "totals": totals}


def person_detail(engine: Engine, person_or_identity: str) -> dict | None:
    """A person (by id or by one of its identity keys) with its identities and pending suggestions."""
    from ..storage import people as people_store

    person_id = people_store.person_of(engine, person_or_identity)
    if person_id is None:
        return None
    found = people_store.person(engine, person_id)
    if found is None:
        return None
    keys = [i["identity"] for i in found["identity_list"]]
    suggestions = people_store.suggestions_of(engine, keys)
    found.pop("computed_at", None)
    for identity in found["identity_list"]:
        identity.pop("person_id", None)
    return {**found, "suggestions": suggestions}
