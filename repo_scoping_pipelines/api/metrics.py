"""/metrics/authors, /metrics/ownership and /metrics/shipped."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Query

from ..metrics import pipeline as metrics
from ..metrics.shipped import parse_week
from ..services import Services
from ..storage import catalog
from .deps import services
from .errors import ApiError
from .models import AuthorsResponse, OwnershipResponse, ShippedResponse, error_responses

router = APIRouter()


@router.get("/metrics/authors", summary="Per-author commits, lines and files over a window",
            response_model=AuthorsResponse, responses=error_responses(400, 404, 503))
def metrics_authors(repository: str = Query(..., min_length=1, max_length=100),
                    window: Literal["7d", "30d", "90d", "all"] = "all",
                    svc: Services = Depends(services)) -> dict:
    """Non-merge commits reachable from the default branch head, authors resolved through .mailmap,
    lines from numstat (binary files count 0), as of the last author_metrics_window run."""
    repo = catalog.get_repository(svc.reader, repository)
    return {"repository": repo.name, "window": window,
            "authors": metrics.authors(svc.reader, repo.id, window)}


@router.get("/metrics/ownership", summary="Who owns a file or a folder (shares of changed lines)",
            response_model=OwnershipResponse, responses=error_responses(400, 404, 503))
def metrics_ownership(repository: str = Query(..., min_length=1, max_length=100),
                      path: str = Query("", max_length=4096, description="A file or a folder; empty = everything"),
                      weighting: Literal["lines", "recency"] = "lines",
                      svc: Services = Depends(services)) -> dict:
    repo = catalog.get_repository(svc.reader, repository)
    if "\x00" in path or any(part == ".." for part in path.split("/")):
        raise ApiError(400, "invalid_request", "path must be a relative path inside the repository")
    answer = metrics.ownership(svc.reader, repo.id, path, weighting=weighting)
    if answer is None:
        raise ApiError(404, "not_found", f"no ownership known for {path or '/'!r} in {repo.name!r}")
    return {"repository": repo.name, **answer}


@router.get("/metrics/shipped", summary="What shipped in a week: merged pull requests or commits by type",
            response_model=ShippedResponse, responses=error_responses(400, 404, 503))
def metrics_shipped(repository: str = Query(..., min_length=1, max_length=100),
                    week: str | None = Query(None, max_length=20, description="2024-W03 or a date in the week; "
                                             "default: the latest week with changes"),
                    svc: Services = Depends(services)) -> dict:
    repo = catalog.get_repository(svc.reader, repository)
    start = None
    if week:
        try:
            start = parse_week(week)
        except ValueError:
            raise ApiError(400, "invalid_request", "week must look like 2024-W03 or 2024-01-17") from None
    answer = metrics.shipped(svc.reader, repo.id, start)
    if answer is None:
        if start is None:
            raise ApiError(404, "not_found", f"nothing shipped is known for {repo.name!r} yet")
        iso = start.isocalendar()
        answer = {"week": f"{iso[0]}-W{iso[1]:02d}", "week_start": start.isoformat(),
                  "week_end": (start + timedelta(days=6)).isoformat(), "source": None, "total": 0, "groups": []}
    return {"repository": repo.name, **answer}
