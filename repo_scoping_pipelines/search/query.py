"""Code search over Milvus: hybrid (RRF of dense + BM25), keyword (BM25) or vector; Postgres keyword
search when Milvus is unavailable."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.operations import telemetry
from repo_scoping_pipelines.safety.redaction import redact
from repo_scoping_pipelines.search import rank
from repo_scoping_pipelines.search.classify import (
    FilterError,
    PathFilter,
    chunk_class,
    parse_kinds,
    parse_languages,
    parse_path,
)
from repo_scoping_pipelines.search.rank import DEFAULT_WEIGHTS, RankWeights
from repo_scoping_pipelines.search.text import query_text
from repo_scoping_pipelines.services import Services
from repo_scoping_pipelines.storage import chunks as chunk_store
from repo_scoping_pipelines.storage import operations
from repo_scoping_pipelines.storage.vectors import filter_expr

Mode = Literal["hybrid", "keyword", "vector"]
SNIPPET_LINES = 12
MAX_QUERY_CHARS = 1000
# Candidates each retriever returns for ranking and facets: enough for the priors to reorder the top ten
# and the facets to say where matches are, few enough to keep Milvus Lite's answer in a few ms.
MIN_POOL, MAX_POOL = 50, 300
# What the per-process cache keeps of each candidate: enough to rank, facet and look up the chunk.
_CACHED = ("chunk_id", "score", "repository", "path", "start_line", "end_line", "file_class", "language")


@dataclass
class SearchOutcome:
    results: list[dict]
    fallback: str | None = None  # "postgres_keyword" when Milvus could not answer
    notice: str | None = None
    facets: dict[str, dict[str, int]] = field(default_factory=lambda: rank.facets([]))
    texts: dict[str, str] = field(default_factory=dict)  # chunk id -> whole text, for /ask (not in the API)


@dataclass(frozen=True)
class Filters:
    kinds: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    path: PathFilter | None = None

    def keep(self, chunk: dict) -> bool:
        """The exact test (Milvus has run the pushed-down, possibly wider, expression already)."""
        if self.kinds and (chunk.get("file_class") or chunk_class(chunk)) not in self.kinds:
            return False
        if self.languages and chunk.get("language") not in self.languages:
            return False
        return self.path is None or self.path.matches(chunk["path"])


def parse_filters(kind: str | list[str] | None = None, language: str | list[str] | None = None,
                  path: str | None = None) -> Filters:
    """Validated filters; raises classify.FilterError naming the bad parameter."""
    return Filters(parse_kinds(kind), parse_languages(language), parse_path(path))


def search_code(services: Services, q: str, *, repository: str | None = None, limit: int = 10,
                mode: Mode = "hybrid", **filters) -> list[dict]:
    """Results in the API's shape: repository, path, 1-based inclusive lines, kind, symbol, score, snippet."""
    return search(services, q, repository=repository, limit=limit, mode=mode, **filters).results


def search(services: Services, q: str, *, repository: str | None = None, limit: int = 10,
           mode: Mode = "hybrid", kind: str | list[str] | None = None, language: str | list[str] | None = None,
           path: str | None = None, weights: RankWeights | None = None) -> SearchOutcome:
    """Search Milvus; when Milvus (or the embedding model) fails, answer from Postgres keyword search
    and say so, rather than failing the request.

    kind (code, tests, docs, config, pull_request, issue; comma-separated or a list), language and path
    (a prefix or a glob) narrow the candidates inside Milvus; facets count the candidates. Bad filter
    values or an empty / over-long query raise classify.FilterError (the API answers 400)."""
    started = time.perf_counter()
    if not q or not q.strip():
        raise FilterError("q", "the query is empty")
    if len(q) > MAX_QUERY_CHARS:
        raise FilterError("q", f"the query is longer than {MAX_QUERY_CHARS} characters")
    flt = parse_filters(kind, language, path)
    weights = weights or DEFAULT_WEIGHTS
    keyword = query_text(q)
    pool = min(MAX_POOL, max(MIN_POOL, 3 * limit))
    breaker = _breakers.setdefault(services.settings, _Breaker())
    if breaker.open():
        return _fallback(services, q, keyword, repository, limit, mode, flt, weights, started, breaker.reason)
    try:
        ranked = services.search_cache.hits(
            services.collection, (q, repository, pool, mode, flt, weights),
            lambda: _milvus_search(services, q, keyword, repository, pool, mode, flt, weights))
    except SQLAlchemyError:
        raise  # Postgres (the cache's generation token) failed, not Milvus: no breaker, no fallback
    except Exception as exc:  # Milvus down, locked or refusing; the embedding provider failing
        reason = redact(f"{type(exc).__name__}: {exc}", ops_log.secrets()).splitlines()[0][:300] \
            if str(exc) else type(exc).__name__
        breaker.trip(reason)
        services.reset_vectors()
        ops_log.event("search.fallback", level=logging.WARNING, mode=mode, reason=reason)
        return _fallback(services, q, keyword, repository, limit, mode, flt, weights, started, reason)
    breaker.reset()
    results, texts = _results(services, ranked[:limit])
    telemetry.SEARCH_LATENCY.labels(mode, "milvus").observe(time.perf_counter() - started)
    return SearchOutcome(results, facets=rank.facets(ranked), texts=texts)


def _milvus_search(services: Services, q: str, keyword: str, repository: str | None, pool: int, mode: Mode,
                   flt: Filters, weights: RankWeights) -> list[dict]:
    """The ranked candidate pool (filters applied), as small dicts the cache can keep."""
    path_like = flt.path.like() if flt.path else None
    expr = filter_expr(repository=repository, kinds=flt.kinds, languages=flt.languages, path_like=path_like)
    dense = None if mode == "keyword" else services.embedder.embed([q])[0]
    lists = services.vectors.retrieve(services.collection, keyword_text=None if mode == "vector" else keyword,
                                      dense=dense, expr=expr, limit=pool)
    if flt.path is not None:  # LIKE is wider than the glob, and `_` / `%` in a prefix are wildcards to it
        lists = {name: [h for h in hits if flt.path.matches(h["path"])] for name, hits in lists.items()}
    if mode != "vector":
        names = rank.symbol_names(rank.identifiers(q))
        if names:  # exact symbol matches from Postgres: indexed, where a Milvus Lite query scans everything
            rows = chunk_store.symbol_matches(services.reader, names, repository=repository, limit=pool,
                                              kinds=flt.kinds, languages=flt.languages, path_like=path_like)
            lists["symbol"] = [hit for hit in ({**r, "file_class": chunk_class(r)} for r in rows)
                               if flt.keep(hit)]
    ranked = rank.rank(lists, q, kinds=flt.kinds, weights=weights)
    return [{k: h.get(k) for k in _CACHED} for h in ranked]


def _results(services: Services, ranked: list[dict]) -> tuple[list[dict], dict[str, str]]:
    """The API's results for the ranked hits, and each one's whole text."""
    stored = chunk_store.chunks_by_ids(services.reader, [h["chunk_id"] for h in ranked])
    results, texts = [], {}
    for hit in ranked:
        chunk = stored.get(hit["chunk_id"])
        if chunk is None:  # deleted since it was indexed; the next embedding run removes it
            continue
        results.append(_result(chunk, hit["score"]))
        texts[chunk["chunk_id"]] = chunk["text"]
    return results, texts


def _result(chunk: dict, score: float) -> dict:
    out = {
        "repository": chunk["repository"], "path": chunk["path"], "start_line": chunk["start_line"],
        "end_line": chunk["end_line"], "kind": chunk["kind"], "symbol": chunk["symbol"],
        "score": round(float(score), 6), "chunk_id": chunk["chunk_id"],
        "snippet": "\n".join(chunk["text"].splitlines()[:SNIPPET_LINES]),
        "file_class": chunk_class(chunk), "language": chunk.get("language"),
    }
    if chunk.get("source") == "pull_request":
        out["ref"] = {"kind": "pull_request", "number": chunk.get("pr_number") or _number(chunk["path"]),
                      "url": chunk.get("pr_url")}
    elif chunk.get("source") == "issue":
        out["ref"] = {"kind": "issue", "id": chunk.get("issue_id") or _number(chunk["path"]),
                      "url": chunk.get("issue_url")}
    return out


def _number(path: str) -> int | None:
    tail = path.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _fallback(services: Services, q: str, keyword: str, repository: str | None, limit: int, mode: str,
              flt: Filters, weights: RankWeights, started: float, reason: str) -> SearchOutcome:
    wide = flt != Filters()
    rows = operations.keyword_search(services.reader, keyword, repository=repository,
                                     limit=MAX_POOL if wide else max(limit, MIN_POOL))
    rows = [{**r, "file_class": chunk_class(r)} for r in rows]
    rows = [r for r in rows if flt.keep(r)]
    ranked = rank.rank({"sparse": rows}, q, kinds=flt.kinds, weights=weights)
    telemetry.SEARCH_FALLBACKS.inc()
    telemetry.SEARCH_LATENCY.labels(mode, "postgres_keyword").observe(time.perf_counter() - started)
    results, texts = _results(services, ranked[:limit])
    return SearchOutcome(results, fallback="postgres_keyword",
                         notice=f"vector search unavailable ({reason}); results come from Postgres keyword search",
                         facets=rank.facets(ranked), texts=texts)


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
