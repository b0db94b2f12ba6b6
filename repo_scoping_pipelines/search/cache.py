"""Per-process cache of Milvus search hits, in the manner of Solr's queryResultCache.

Milvus Lite (the embedded default) answers in Python and serialises all searches behind one GIL:
~12 ms of its CPU per hybrid search on a 1,400-chunk collection, growing with the collection. The
same question asked again between two refreshes has the same answer, so each API process keeps the
ranked candidates (chunk id, score and the few fields ranking and facets need; no text) of recent
searches.

An entry is keyed by the collection's generation token, which `storage.chunks.mark_index_changed`
replaces after every change to the collection's rows. A process re-reads the token at most every
`search_cache_refresh_s` seconds, so a refresh becomes visible to cached queries within that delay
(the trade Elasticsearch makes with its 1 s refresh interval). Results are still built from Postgres
rows on every request: a chunk deleted since is dropped, and snippets are current.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

from cachetools import LRUCache
from sqlalchemy.engine import Engine

from repo_scoping_pipelines.operations import telemetry
from repo_scoping_pipelines.storage.chunks import index_generation


class SearchCache:
    def __init__(self, engine: Engine, entries: int, refresh_s: float) -> None:
        self._engine = engine
        self._refresh_s = refresh_s
        self._hits: LRUCache | None = LRUCache(maxsize=entries) if entries > 0 else None
        self._tokens: dict[str, tuple[float, str]] = {}  # collection -> (read at, token)
        self._lock = threading.Lock()

    def token(self, collection: str) -> str:
        """The collection's generation token, read from Postgres at most every refresh_s seconds."""
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(collection)
        if cached is not None and now - cached[0] < self._refresh_s:
            return cached[1]
        token = index_generation(self._engine, collection)
        with self._lock:
            self._tokens[collection] = (now, token)
        return token

    def hits(self, collection: str, key: Hashable, search: Callable[[], list[dict]]) -> list[dict]:
        """The cached hits for key in this collection's current generation, else search()'s, stored."""
        if self._hits is None:
            return search()
        full_key = (collection, self.token(collection), key)
        with self._lock:
            found = self._hits.get(full_key)
        if found is not None:
            telemetry.SEARCH_CACHE.labels("hit").inc()
            return [dict(hit) for hit in found]
        telemetry.SEARCH_CACHE.labels("miss").inc()
        found = search()
        with self._lock:
            self._hits[full_key] = tuple(dict(hit) for hit in found)
        return found

    def clear(self) -> None:
        with self._lock:
            if self._hits is not None:
                self._hits.clear()
            self._tokens.clear()
