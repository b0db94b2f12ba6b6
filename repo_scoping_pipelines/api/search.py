"""/search: hybrid, keyword or vector search over code, docs, PR and issue text, with filters and facets."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from repo_scoping_pipelines.search.classify import KINDS, FilterError
from repo_scoping_pipelines.search.query import MAX_QUERY_CHARS
from repo_scoping_pipelines.search.query import search as search_code_with_fallback

from ..services import Services
from ..storage import catalog
from .deps import services
from .errors import ApiError
from .models import SearchResponse, error_responses

router = APIRouter()


@router.get("/search", summary="Search code and docs (hybrid, keyword or vector)", response_model=SearchResponse,
            response_model_exclude_unset=True, responses=error_responses(400, 404, 503))
def search(
    q: str = Query(..., min_length=1, max_length=MAX_QUERY_CHARS, description="What to look for"),
    repository: str | None = Query(None, max_length=100),
    limit: int = Query(10, ge=1, le=100),
    mode: Literal["hybrid", "keyword", "vector"] = "hybrid",
    kind: str | None = Query(None, max_length=200, description="One or more of " + ", ".join(KINDS)
                             + ", comma-separated; a file's class comes from the inventory"),
    language: str | None = Query(None, max_length=200, description="Language name(s) as /repositories reports "
                                 "them (e.g. Python, Go), comma-separated"),
    # No max_length here: search.classify checks it, so the 400 names `path` (a validation error's
    # location drops a parameter called "path").
    path: str | None = Query(None, description="A path prefix (src/app/) or a glob "
                             "(`*` within a segment, `**` across, `?`; without `/` it matches the file name)"),
    svc: Services = Depends(services),
) -> dict:
    """Results carry repository, path, 1-based inclusive start/end lines, kind, symbol, score, chunk id, snippet,
    the file class and language (PR and issue hits: `ref` with the number or id and the URL); `facets` counts
    the candidates per kind, language and repository."""
    if repository is not None:
        catalog.get_repository(svc.reader, repository)  # 404 for an unknown repository
    try:
        outcome = search_code_with_fallback(svc, q, repository=repository, limit=limit, mode=mode, kind=kind,
                                            language=language, path=path)
    except FilterError as exc:
        raise ApiError(400, "invalid_request", f"{exc.parameter}: {exc}") from None
    body: dict = {"results": outcome.results, "facets": outcome.facets}
    if outcome.fallback:  # Milvus was unavailable: say how these results were found
        body["fallback"], body["notice"] = outcome.fallback, outcome.notice
    return body
