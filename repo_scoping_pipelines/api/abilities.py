"""Ability candidates, approved abilities, search across repositories, and POST /reviews (scope review)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..abilities.pipeline import InvalidReview, registry_for_repository, review_candidate, search_registry
from ..config import Settings
from ..services import Services, open_services
from ..storage import abilities as ability_store
from ..storage import catalog
from .auth import require_scope
from .deps import read_body, services
from .errors import ApiError
from .models import (
    AbilitySearch,
    CandidateDetail,
    CandidateList,
    RepositoryAbilities,
    ReviewResult,
    error_responses,
)

router = APIRouter()

CandidateStatus = Literal["pending", "approved", "rejected", "retired"]


class ReviewIn(BaseModel):
    """A reviewer's decision on one candidate."""

    candidate_id: str = Field(min_length=1, max_length=100)
    decision: Literal["approve", "reject"]
    note: str | None = Field(default=None, max_length=4000)
    reviewer: str = Field(default="api", min_length=1, max_length=200)


@router.get("/repositories/{name}/candidates", summary="Ability candidates of a repository, with evidence",
            response_model=CandidateList, response_model_exclude_unset=True,
            responses=error_responses(400, 404, 503))
def list_candidates(name: str, status: CandidateStatus | None = Query(None, description="pending, approved, "
                                                                                       "rejected or retired"),
                    svc: Services = Depends(services)) -> dict:
    repo = catalog.get_repository(svc.reader, name)
    return {"repository": repo.name, "candidates": ability_store.list_candidates(svc.reader, repo.id, status)}


@router.get("/repositories/{name}/abilities", summary="Approved abilities of a repository (the registry)",
            response_model=RepositoryAbilities, response_model_exclude_unset=True,
            responses=error_responses(400, 404, 503))
def repository_abilities(name: str, svc: Services = Depends(services)) -> dict:
    repo = catalog.get_repository(svc.reader, name)
    return {"repository": repo.name, "abilities": registry_for_repository(svc.reader, repo.id)}


@router.get("/abilities", summary="Search approved abilities across repositories", response_model=AbilitySearch,
            response_model_exclude_unset=True, responses=error_responses(400, 503))
def search_abilities(q: str | None = Query(None, max_length=200, description="words that must all match"),
                     limit: int = Query(50, ge=1, le=500), svc: Services = Depends(services)) -> dict:
    results = search_registry(svc.reader, q, limit)
    return {"query": q, "abilities": results,
            "repositories": sorted({a["repository"] for a in results})}


@router.get("/candidates/{candidate_id}", summary="One candidate with its review history",
            response_model=CandidateDetail, response_model_exclude_unset=True,
            responses=error_responses(400, 404, 503))
def get_candidate(candidate_id: str, svc: Services = Depends(services)) -> dict:
    candidate = ability_store.get_candidate(svc.reader, candidate_id)
    return {**candidate, "reviews": ability_store.decision_history(svc.reader, candidate_id)}


# The scope check is a dependency: it runs before the body is read, so without a valid token nothing is stored.
@router.post("/reviews", status_code=201, summary="Approve or reject a candidate (token scope review)",
             response_model=ReviewResult, response_model_exclude_unset=True,
             responses=error_responses(400, 401, 403, 404, 503), dependencies=[Depends(require_scope("review"))],
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": ReviewIn.model_json_schema()}}}})
async def post_review(request: Request) -> dict:
    settings: Settings = request.app.state.settings
    body = await read_body(request, ReviewIn)
    engine = open_services(settings).engine
    try:
        stored = await run_in_threadpool(review_candidate, engine, body.candidate_id, body.decision,
                                         reviewer=body.reviewer, note=body.note)
    except InvalidReview as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    return {"review": {k: stored[k] for k in ("id", "candidate_id", "decision", "reviewer", "note", "created_at")},
            "candidate": stored["candidate"],
            "next": "the review_decisions sensor republishes ability_registry"}
