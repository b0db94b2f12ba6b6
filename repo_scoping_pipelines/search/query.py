"""Code search over Milvus: hybrid (RRF of dense + BM25), keyword (BM25) or vector; Postgres keyword
search when Milvus is unavailable."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.operations import telemetry
from repo_scoping_pipelines.safety.redaction import redact
from repo_scoping_pipelines.search.text import query_text
from repo_scoping_pipelines.services import Services
from repo_scoping_pipelines.storage import chunks as chunk_store
from repo_scoping_pipelines.storage import operations

Mode = Literal["hybrid", "keyword", "vector"]
SNIPPET_LINES = 12


@dataclass
class SearchOutcome:
    results: list[dict]
    fallback: str | None = None  # "postgres_keyword" when Milvus could not answer
    notice: str | None = None


def search_code(services: Services, q: str, *, repository: str | None = None, limit: int = 10,
                mode: Mode = "hybrid") -> list[dict]:
    """Results in the API's shape: repository, path, 1-based inclusive lines, kind, symbol, score, snippet."""
    return search(services, q, repository=repository, limit=limit, mode=mode).results


def search(services: Services, q: str, *, repository: str | None = None, limit: int = 10,
           mode: Mode = "hybrid") -> SearchOutcome:
    """Search Milvus; when Milvus (or the embedding model) fails, answer from Postgres keyword search
    and say so, rather than failing the request."""
    started = time.perf_counter()
    keyword = query_text(q)
    breaker = _breakers.setdefault(services.settings, _Breaker())
    if breaker.open():
        return _fallback(services, keyword, repository, limit, mode, started, breaker.reason)
    try:
        hits = services.search_cache.hits(
            services.collection, (q, repository, limit, mode),
            lambda: _milvus_search(services, q, keyword, repository, limit, mode))
    except SQLAlchemyError:
        raise  # Postgres (the cache's generation token) failed, not Milvus: no breaker, no fallback
    except Exception as exc:  # Milvus down, locked or refusing; the embedding provider failing
        reason = redact(f"{type(exc).__name__}: {exc}", ops_log.secrets()).splitlines()[0][:300] \
            if str(exc) else type(exc).__name__
        breaker.trip(reason)
        services.reset_vectors()
        ops_log.event("search.fallback", level=logging.WARNING, mode=mode, reason=reason)
        return _fallback(services, keyword, repository, limit, mode, started, reason)
    breaker.reset()
    stored = chunk_store.chunks_by_ids(services.reader, [h["chunk_id"] for h in hits])
    results = []
    for hit in hits:
        chunk = stored.get(hit["chunk_id"])
        if chunk is None:  # deleted since it was indexed; the next embedding run removes it
            continue
        results.append(_result(chunk, hit["score"]))
    telemetry.SEARCH_LATENCY.labels(mode, "milvus").observe(time.perf_counter() - started)
    return SearchOutcome(results)


def _milvus_search(services: Services, q: str, keyword: str, repository: str | None, limit: int,
                   mode: Mode) -> list[dict]:
    dense = None if mode == "keyword" else services.embedder.embed([q])[0]
    return services.vectors.search(services.collection, keyword_text=keyword, dense=dense,
                                   repository=repository, limit=limit, mode=mode)


def _result(chunk: dict, score: float) -> dict:
    return {
        "repository": chunk["repository"], "path": chunk["path"], "start_line": chunk["start_line"],
        "end_line": chunk["end_line"], "kind": chunk["kind"], "symbol": chunk["symbol"],
        "score": round(float(score), 6), "chunk_id": chunk["chunk_id"],
        "snippet": "\n".join(chunk["text"].splitlines()[:SNIPPET_LINES]),
    }


def _fallback(services: Services, keyword: str, repository: str | None, limit: int, mode: str, started: float,
              reason: str) -> SearchOutcome:
    rows = operations.keyword_search(services.reader, keyword, repository=repository, limit=limit)
    telemetry.SEARCH_FALLBACKS.inc()
    telemetry.SEARCH_LATENCY.labels(mode, "postgres_keyword").observe(time.perf_counter() - started)
    return SearchOutcome([_result(r, r["score"]) for r in rows], fallback="postgres_keyword",
                         notice=f"vector search unavailable ({reason}); results come from Postgres keyword search")


class _Breaker:
    """After Milvus fails, skip it for a few seconds so a dead server does not slow every request."""

    COOL_DOWN_S = 5.0

    def __init__(self) -> None:
        self._until = 0.0
        self.reason = ""
        self._lock = threading.Lock()

    def open(self) -> bool:
        return time.monotonic() < self._until

    def trip(self, reason: str) -> None:
        with self._lock:
            self._until, self.reason = time.monotonic() + self.COOL_DOWN_S, reason

    def reset(self) -> None:
        self._until = 0.0


_breakers: dict = {}
