"""FastAPI application factory: one router module per domain."""

from __future__ import annotations

import contextlib

import anyio.to_thread
from fastapi import FastAPI

from .. import ops_log
from ..config import Settings, get_settings
from . import abilities, facts, metrics, prometheus, repositories, search, uploads
from .errors import install_error_handlers

# Each router module exposes `router` (a fastapi.APIRouter); add new domains here.
# prometheus first: its fixed /metrics/prometheus must win over any /metrics/{...} route.
ROUTERS = [prometheus.router, repositories.router, search.router, uploads.router, metrics.router, facts.router,
           abilities.router]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    # Endpoints are sync and run in anyio's thread pool (40 threads by default). More threads than
    # Postgres connections only queue on the pool and fight over the GIL: match the two.
    anyio.to_thread.current_default_thread_limiter().total_tokens = app.state.settings.db_pool_size
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="repo-scoping-pipelines", version="0.1.0", lifespan=_lifespan,
                  description="Read API over repositories, their code, facts, abilities and metrics.")
    app.state.settings = settings or get_settings()
    ops_log.configure(app.state.settings)
    install_error_handlers(app)
    prometheus.install_prometheus(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
