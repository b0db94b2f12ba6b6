"""/health, /repositories and /repositories/{name}."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from ..operations.health import health_report
from ..services import Services, open_services
from ..storage import catalog
from ..storage import chunks as chunk_store
from .deps import services
from .models import HealthReport, RepositoryDetail, RepositoryList, error_responses

router = APIRouter()


@router.get("/health", summary="Health of database, milvus, checkout root and dagster",
            response_model=HealthReport, response_model_exclude_unset=True)
def health(request: Request) -> dict:
    from .runs import dagster_instance_of  # the app's own instance: not one opened per probe

    state = request.app.state
    return health_report(state.settings, open_services, lambda: dagster_instance_of(state))


@router.get("/repositories", summary="Registered repositories", response_model=RepositoryList,
            responses=error_responses(503))
def list_repositories(svc: Services = Depends(services)) -> dict:
    return {"repositories": [_summary(svc, repo, snapshot)
                             for repo, snapshot in catalog.repositories_with_snapshots(svc.reader)]}


@router.get("/repositories/{name}", summary="One repository: latest snapshot and counts",
            response_model=RepositoryDetail, responses=error_responses(400, 404, 503))
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
