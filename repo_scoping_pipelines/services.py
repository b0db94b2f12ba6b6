"""The handles every entry point needs (engine, vector store, embedder), built once per process."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.search.cache import SearchCache

from .config import Settings, get_settings
from .embedding import Embedder, collection_name, get_embedder
from .storage.chunks import mark_index_changed
from .storage.db import make_engine, migrate
from .storage.vectors import VectorStore, milvus_uri


@dataclass
class Services:
    settings: Settings
    engine: Engine
    _vectors: VectorStore | None = None
    _embedder: Embedder | None = None
    _search_cache: SearchCache | None = None
    _reader: Engine | None = None
    _lock: threading.RLock = field(default_factory=threading.RLock)  # properties build on each other

    @property
    def vectors(self) -> VectorStore:
        """Connect to Milvus on first use: commands that need only Postgres never wait for it."""
        with self._lock:
            if self._vectors is None:
                token = self.settings.milvus_token.get_secret_value() if self.settings.milvus_token else None
                self._vectors = VectorStore(milvus_uri(self.settings), token)
            return self._vectors

    def reset_vectors(self) -> None:
        """Forget the Milvus connection after a failure: the next use reconnects."""
        with self._lock:
            vectors, self._vectors = self._vectors, None
        if vectors is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                vectors.close()

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = get_embedder(self.settings)
            return self._embedder

    @property
    def reader(self) -> Engine:
        """The engine for read-only work (the API): its own pool of autocommit connections, so a
        query costs one round trip instead of BEGIN, the query and ROLLBACK. Writes go through
        `engine` and its transactions."""
        with self._lock:
            if self._reader is None:
                self._reader = make_engine(self.settings, autocommit=True)
            return self._reader

    @property
    def search_cache(self) -> SearchCache:
        with self._lock:
            if self._search_cache is None:
                self._search_cache = SearchCache(self.reader, self.settings.search_cache_entries,
                                                 self.settings.search_cache_refresh_s)
            return self._search_cache

    def index_changed(self, collection: str) -> None:
        """Record that the collection's Milvus rows changed: every process's cached searches of it
        expire (a new generation token in Postgres), this process's at once."""
        mark_index_changed(self.engine, collection)
        with self._lock:
            cache = self._search_cache
        if cache is not None:
            cache.clear()

    @property
    def collection(self) -> str:
        return collection_name(self.embedder)

    def close(self) -> None:
        if self._vectors is not None:
            self._vectors.close()
        if self._reader is not None:
            self._reader.dispose()
        self.engine.dispose()


_cache: dict[Settings, Services] = {}
_cache_lock = threading.Lock()


def open_services(settings: Settings | None = None) -> Services:
    """Services for these settings (migrations applied), shared within the process."""
    settings = settings or get_settings()
    with _cache_lock:
        services = _cache.get(settings)
        if services is None:
            ops_log.configure(settings)
            engine = make_engine(settings)
            migrate(engine)
            services = Services(settings=settings, engine=engine)
            _cache[settings] = services
        return services


def close_all() -> None:
    with _cache_lock:
        for services in _cache.values():
            services.close()
        _cache.clear()
