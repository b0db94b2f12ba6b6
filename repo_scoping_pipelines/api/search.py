"""/search: hybrid, keyword or vector search over code and docs."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from repo_scoping_pipelines.search.query import search as search_code_with_fallback

from ..services import Services
from ..storage import catalog
from .deps import services
from .models import SearchResponse, error_responses

router = APIRouter()


@router.get("/search", summary="Search code and docs (hybrid, keyword or vector)", response_model=SearchResponse,
            response_model_exclude_unset=True, responses=error_responses(400, 404, 503))
def search(
    q: str = Query(..., min_length=1, max_length=1000, description="What to look for"),
    repository: str | None = Query(None, max_length=100),
    limit: int = Query(10, ge=1, le=100),
    mode: Literal["hybrid", "keyword", "vector"] = "hybrid",
    svc: Services = Depends(services),
) -> dict:
    """Results carry repository, path, 1-based inclusive start/end lines, kind, symbol, score, chunk id, snippet."""
    if repository is not None:
        catalog.get_repository(svc.reader, repository)  # 404 for an unknown repository
    outcome = search_code_with_fallback(svc, q, repository=repository, limit=limit, mode=mode)
    body: dict = {"results": outcome.results}
    if outcome.fallback:  # Milvus was unavailable: say how these results were found
        body["fallback"], body["notice"] = outcome.fallback, outcome.notice
    return body
