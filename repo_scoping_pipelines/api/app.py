"""FastAPI application factory."""

from __future__ import annotations

from typing import Literal

from fastapi import Depends, FastAPI, Query, Request

from ..config import Settings, get_settings
from ..health import health_report
from ..search import search_code
from ..services import Services, open_services
from ..storage import catalog
from ..storage import chunks as chunk_store
from .errors import install_error_handlers


def create_app(settings: Settings | None = None) -> FastAPI:
    app = FastAPI(title="repo-scoping-pipelines", version="0.1.0",
                  description="Read API over repositories, their code, facts, abilities and metrics.")
    app.state.settings = settings or get_settings()
    install_error_handlers(app)

    def services(request: Request) -> Services:
        return open_services(request.app.state.settings)

    @app.get("/health", summary="Health of database, milvus, checkout root and dagster")
    def health(request: Request) -> dict:
        return health_report(request.app.state.settings, open_services)

    @app.get("/repositories", summary="Registered repositories")
    def list_repositories(svc: Services = Depends(services)) -> dict:
        return {"repositories": [_repository_summary(svc, r) for r in catalog.list_repositories(svc.engine)]}

    @app.get("/repositories/{name}", summary="One repository: latest snapshot and counts")
    def get_repository(name: str, svc: Services = Depends(services)) -> dict:
        repo = catalog.get_repository(svc.engine, name)
        return _repository_summary(svc, repo, detail=True)

    @app.get("/search", summary="Search code and docs (hybrid, keyword or vector)")
    def search(
        q: str = Query(..., min_length=1, max_length=1000, description="What to look for"),
        repository: str | None = Query(None, max_length=100),
        limit: int = Query(10, ge=1, le=100),
        mode: Literal["hybrid", "keyword", "vector"] = "hybrid",
        svc: Services = Depends(services),
    ) -> dict:
        if repository is not None:
            catalog.get_repository(svc.engine, repository)  # 404 for an unknown repository
        return {"results": search_code(svc, q, repository=repository, limit=limit, mode=mode)}

    return app


def _repository_summary(svc: Services, repo: catalog.Repository, detail: bool = False) -> dict:
    snapshot = catalog.latest_snapshot(svc.engine, repo.id)
    out = {
        "name": repo.name,
        "source_kind": repo.source_kind,
        "default_branch": repo.default_branch,
        "registered_at": repo.created_at.isoformat(),
        "snapshot": None if snapshot is None else {
            "commit": snapshot["commit_sha"], "files": snapshot["file_count"], "bytes": snapshot["total_bytes"],
            "taken_at": snapshot["created_at"].isoformat()},
    }
    if detail:
        out["languages"] = catalog.language_lines(svc.engine, repo.id)
        out["chunks"] = chunk_store.chunk_counts(svc.engine, repo.id)
    return out
