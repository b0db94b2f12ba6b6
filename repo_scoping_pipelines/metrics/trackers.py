"""pull_requests' and tracker_issues' work: sync from GitHub / Redmine when configured, store the rows,
and make titles and bodies searchable as content chunks (source 'pull_request' / 'issue').

An outside service that fails (401/403/404/5xx, garbage JSON, a rate limit) never loses what is
stored: the error is kept in collector_state and returned, the watermark and ETag stay put.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

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
