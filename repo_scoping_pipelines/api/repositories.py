"""/health, /repositories and /repositories/{name}."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..health import health_report
from ..services import Services, open_services
from ..storage import catalog
from ..storage import chunks as chunk_store
from .deps import services

router = APIRouter()


@router.get("/health", summary="Health of database, milvus, checkout root and dagster")
def health(request: Request) -> dict:
    return health_report(request.app.state.settings, open_services)


@router.get("/repositories", summary="Registered repositories")
def list_repositories(svc: Services = Depends(services)) -> dict:
    return {"repositories": [_summary(svc, repo, snapshot)
                             for repo, snapshot in catalog.repositories_with_snapshots(svc.reader)]}


@router.get("/repositories/{name}", summary="One repository: latest snapshot and counts")
def get_repository(name: str, svc: Services = Depends(services)) -> dict:
    [(repo, snapshot)] = catalog.repositories_with_snapshots(svc.reader, name)
    return _summary(svc, repo, snapshot, detail=True)


def _summary(svc: Services, repo: catalog.Repository, snapshot: dict | None, detail: bool = False) -> dict:
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
        out["languages"] = catalog.language_lines(svc.reader, repo.id)
        out["chunks"] = chunk_store.chunk_counts(svc.reader, repo.id)
    return out
