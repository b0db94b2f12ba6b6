"""FastAPI application factory: one router module per domain."""

from __future__ import annotations

from fastapi import FastAPI

from ..config import Settings, get_settings
from . import repositories, search
from .errors import install_error_handlers

# Each router module exposes `router` (a fastapi.APIRouter); add new domains here.
ROUTERS = [repositories.router, search.router]


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="repo-scoping-pipelines", version="0.1.0",
                  description="Read API over repositories, their code, facts, abilities and metrics.")
    app.state.settings = settings or get_settings()
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    return app
