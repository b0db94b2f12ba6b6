"""FastAPI application factory: one router module per domain."""

from __future__ import annotations

import contextlib

import anyio.to_thread
from fastapi import Depends, FastAPI

from ..config import Settings, get_settings
from ..operations import log as ops_log
from . import (
    abilities,
    ask,
    auth,
    exports,
    facts,
    insight,
    metrics,
    prometheus,
    repositories,
    runs,
    search,
    uploads,
)
from .errors import install_error_handlers
from .models import error_responses

# Each router module exposes `router` (a fastapi.APIRouter); add new domains here.
# prometheus first: its fixed /metrics/prometheus must win over any /metrics/{...} route.
ROUTERS = [prometheus.router, repositories.router, search.router, uploads.router, metrics.router, facts.router,
           abilities.router, ask.router, runs.router, exports.router, insight.router]


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI):
    # Endpoints are sync and run in anyio's thread pool (40 threads by default). More threads than
    # Postgres connections only queue on the pool and fight over the GIL: match the two.
    anyio.to_thread.current_default_thread_limiter().total_tokens = app.state.settings.db_pool_size
    yield
    runs.close_dagster(app.state)


def _install_openapi(app: FastAPI) -> None:
    """/openapi.json as FastAPI makes it, less the 422 responses it adds to every route with parameters:
    this API answers bad input with a 400 in the one error shape (api/errors.py), never a 422."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = schema.get("components", {}).get("schemas", {})
            for unused in ("HTTPValidationError", "ValidationError"):
                schemas.pop(unused, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Read auth on: every route of every router needs a read token (auth.read_access, which leaves
    # auth.PUBLIC_PATHS open); write routes declare their own scope (auth.require_scope).
    guarded = bool(settings.read_auth)
    app = FastAPI(title="repo-scoping-pipelines", version="0.1.0", lifespan=_lifespan,
                  description="Read API over repositories, their code, facts, abilities and metrics.",
                  dependencies=[Depends(auth.read_access)] if guarded else None,
                  responses=error_responses(401, 403) if guarded else None)
    app.state.settings = settings
    ops_log.configure(app.state.settings)
    install_error_handlers(app)
    prometheus.install_prometheus(app)
    for router in ROUTERS:
        app.include_router(router)
    _install_openapi(app)
    return app
