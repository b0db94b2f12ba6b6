"""FastAPI application factory: one router module per domain."""

from __future__ import annotations

from fastapi import FastAPI

from .. import ops_log
from ..config import Settings, get_settings
from . import abilities, facts, metrics, prometheus, repositories, search, uploads
from .errors import install_error_handlers

# Each router module exposes `router` (a fastapi.APIRouter); add new domains here.
# prometheus first: its fixed /metrics/prometheus must win over any /metrics/{...} route.
ROUTERS = [prometheus.router, repositories.router, search.router, uploads.router, metrics.router, facts.router,
           abilities.router]


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="repo-scoping-pipelines", version="0.1.0",
                  description="Read API over repositories, their code, facts, abilities and metrics.")
    app.state.settings = settings or get_settings()
    ops_log.configure(app.state.settings)
    install_error_handlers(app)
    prometheus.install_prometheus(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
