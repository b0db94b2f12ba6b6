"""The handles every entry point needs (engine, vector store, embedder), built once per process."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from . import ops_log
from .config import Settings, get_settings
from .embedding import Embedder, collection_name, get_embedder
from .storage.db import make_engine, migrate
from .storage.vectors import VectorStore, milvus_uri


@dataclass
class Services:
    settings: Settings
    engine: Engine
    _vectors: VectorStore | None = None
    _embedder: Embedder | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
    def collection(self) -> str:
        return collection_name(self.embedder)

    def close(self) -> None:
        if self._vectors is not None:
            self._vectors.close()
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
