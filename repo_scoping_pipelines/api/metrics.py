"""/metrics/authors, /metrics/ownership and /metrics/shipped; /metrics/pull-requests, /metrics/authors/daily
and /people (issue 16)."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from starlette.concurrency import run_in_threadpool

from ..metrics import pipeline as metrics
from ..metrics.shipped import parse_week
from ..services import Services, open_services
from ..storage import catalog
from ..storage.tokens import Principal
from .auth import require_scope
from .deps import read_body, services
from .errors import ApiError
from .models import (
    AuthorsResponse,
    DailyAuthorsResponse,
    OwnershipResponse,
    PeopleDecision,
    PeopleResponse,
    PersonDetail,
    PullRequestMetricsResponse,
    ShippedResponse,
    error_responses,
)

router = APIRouter()


def _date_query():
    # A fresh Query per parameter: FastAPI binds a Query object to the parameter it is declared for.
    return Query(None, max_length=40, description="ISO 8601 date (UTC day, inclusive), e.g. 2024-03-01")


DAILY_DEFAULT_DAYS = 30  # /metrics/authors/daily without since: the 30 days up to `until`
DAILY_MAX_DAYS = 366 * 30
DATE_RANGE = (date(1900, 1, 1), date(2999, 12, 31))  # beyond: no history to read, and no date arithmetic


def _date(name: str, value: str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} must be an ISO 8601 date like 2024-03-01, "
                                               f"not {value[:40]!r}") from None
    if not DATE_RANGE[0] <= day <= DATE_RANGE[1]:
        raise ApiError(400, "invalid_request", f"{name} must be between {DATE_RANGE[0]} and {DATE_RANGE[1]}")
    return day


def _range(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    start, end = _date("since", since), _date("until", until)
    if start is not None and end is not None and start > end:
        raise ApiError(400, "invalid_request", f"since ({start}) is after until ({end})")
    return start, end


@router.get("/metrics/authors", summary="Per-author commits, lines and files over a window",
            response_model=AuthorsResponse, responses=error_responses(400, 404, 503))
def metrics_authors(repository: str = Query(..., min_length=1, max_length=100),
                    window: Literal["7d", "30d", "90d", "all"] = "all",
                    since: str | None = _date_query(), until: str | None = _date_query(),
                    person: str | None = Query(None, max_length=320,
                                               description="An e-mail, github:LOGIN or a person id: only that "
                                                           "person's e-mails"),
                    by: Literal["email", "person"] = Query(
                        "email", description="person: one row per person of the people registry (all of its "
                                             "e-mails together, files and days counted once)"),
                    svc: Services = Depends(services)) -> dict:
    """Non-merge commits reachable from the default branch head, authors resolved through .mailmap,
    lines from numstat (binary files count 0), as of the last author_metrics_window run; with
    `since`/`until` (inclusive UTC days of the author date) computed for that range from the history.
    `by=person` merges a person's e-mails (people registry), computed from the history over the same
    range."""
    repo = catalog.get_repository(svc.reader, repository)
    start, end = _range(since, until)
    emails = None
    if person:
        try:
            emails = set(metrics.resolve_author(svc.reader, repo.id, person)[1])
        except metrics.UnknownAuthor as exc:
            raise ApiError(404, "not_found", str(exc)) from None
    answer = {"repository": repo.name, "window": window, "by": by}
    if start is not None or end is not None:
        answer.update(since=start.isoformat() if start else None, until=end.isoformat() if end else None)
        rows = metrics.authors_in_days(svc.reader, repo.id, start, end, by_person=by == "person")
    elif by == "person":
        rows = metrics.people_in_window(svc.reader, repo.id, window)
    else:
        rows = metrics.authors(svc.reader, repo.id, window)
    if emails is not None:
        rows = [r for r in rows if emails.intersection(r.get("emails") or [r["author_email"].lower()])]
    return {**answer, "authors": rows}


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


# --- people and pull-request metrics (issue 16) ----------------------------------------------------------



@router.get("/metrics/pull-requests", summary="Per-author pull-request metrics over a window or a date range",
            response_model=PullRequestMetricsResponse, responses=error_responses(400, 404, 503))
def metrics_pull_requests(repository: str = Query(..., min_length=1, max_length=100),
                          window: Literal["7d", "30d", "90d", "all"] = "all",
                          since: str | None = _date_query(), until: str | None = _date_query(),
                          person: str | None = Query(None, max_length=320,
                                                     description="An e-mail, github:LOGIN or a person id: only "
                                                                 "that person's logins"),
                          svc: Services = Depends(services)) -> dict:
    """Per GitHub login: PRs opened and merged, median hours to the first review (by someone else) and to
    merge, reviews given, median PR size (lines, files). The window rows are those of the last
    author_prs_window run; `since`/`until` (inclusive UTC days) compute any range from the stored PRs."""
    repo = catalog.get_repository(svc.reader, repository)
    start, end = _range(since, until)
    person_id = None
    if person:
        try:
            person_id, _emails = metrics.resolve_author(svc.reader, repo.id, person)
        except metrics.UnknownAuthor as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        person_id = person_id or "(none)"  # an e-mail of the history that no person holds: no logins
    return {"repository": repo.name,
            **metrics.pull_request_metrics(svc.reader, repo.id, window, start, end, person_id)}


@router.get("/metrics/authors/daily", summary="Per-author commits, lines and files per UTC day",
            response_model=DailyAuthorsResponse, responses=error_responses(400, 404, 503))
def metrics_authors_daily(repository: str = Query(..., min_length=1, max_length=100),
                          since: str | None = _date_query(), until: str | None = _date_query(),
                          author: str | None = Query(None, max_length=320,
                                                     description="An e-mail, github:LOGIN, redmine:NAME or a "
                                                                 "person id: all of that person's e-mails"),
                          svc: Services = Depends(services)) -> dict:
    """Rows of author_metrics_daily (non-merge commits by author date, UTC days) for the days [since, until];
    default: the 30 days up to today."""
    repo = catalog.get_repository(svc.reader, repository)
    start, end = _range(since, until)
    end = end or datetime.now(UTC).date()
    start = start or end - timedelta(days=DAILY_DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(400, "invalid_request", f"since ({start}) is after until ({end})")
    if (end - start).days > DAILY_MAX_DAYS:
        raise ApiError(400, "invalid_request", f"at most {DAILY_MAX_DAYS} days at once")
    person_id, emails = None, None
    if author:
        try:
            person_id, emails = metrics.resolve_author(svc.reader, repo.id, author)
        except metrics.UnknownAuthor as exc:
            raise ApiError(404, "not_found", str(exc)) from None
    answer = metrics.daily_authors(svc.reader, repo.id, start, end, emails)
    return {"repository": repo.name, "author": author, "person_id": person_id, **answer}


@router.get("/people", summary="People merged across git, GitHub and Redmine identities",
            response_model=PeopleResponse, responses=error_responses(400, 503))
def list_people(q: str | None = Query(None, max_length=200, description="Part of a name, e-mail or login"),
                limit: int = Query(100, ge=1, le=1000),
                suggestions: bool = Query(False, description="Also the suggested links waiting for a decision"),
                svc: Services = Depends(services)) -> dict:
    from ..storage import people as people_store

    rows = people_store.list_people(svc.reader, q or None, limit)
    answer = {"people": [{k: r[k] for k in ("person_id", "display_name", "primary_email", "github_login",
                                            "identities")} for r in rows]}
    if suggestions:
        answer["suggestions"] = people_store.suggestions_of(svc.reader)
    return answer


class PeopleDecisionIn(BaseModel):
    model_config = {"extra": "forbid"}
    identities: list[Annotated[str, StringConstraints(min_length=1, max_length=400, pattern=r"^[^\x00]*$")]] = Field(
        min_length=1, max_length=100, description="e-mail, github:LOGIN, redmine:NAME, git-name:NAME or a person id")
    note: str | None = Field(None, max_length=2000)


async def _decide_people(request: Request, action: str, principal: Principal) -> dict:
    from ..metrics.people import PeopleError, UnknownIdentity

    body = await read_body(request, PeopleDecisionIn)
    try:
        # The decision is recorded under the token's name: who decided is who held the token.
        return await run_in_threadpool(metrics.decide_people, open_services(request.app.state.settings).engine,
                                       action, body.identities, decided_by=f"token:{principal.name}",
                                       note=body.note)
    except UnknownIdentity as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except PeopleError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


_DECISION_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": PeopleDecisionIn.model_json_schema()}}}}


@router.post("/people/merge", summary="Make two or more identities one person (token scope review)",
             response_model=PeopleDecision, responses=error_responses(400, 401, 403, 404, 503),
             openapi_extra=_DECISION_BODY)
async def merge_people(request: Request, principal: Principal = Depends(require_scope("review"))) -> dict:
    """As `repo-scoping people merge`: kept across recomputations until split."""
    return await _decide_people(request, "merge", principal)


@router.post("/people/split", summary="Detach identities from every earlier link (token scope review)",
             response_model=PeopleDecision, responses=error_responses(400, 401, 403, 404, 503),
             openapi_extra=_DECISION_BODY)
async def split_people(request: Request, principal: Principal = Depends(require_scope("review"))) -> dict:
    """As `repo-scoping people split`: each identity stands alone until merged again."""
    return await _decide_people(request, "split", principal)


@router.get("/people/{person_id}", summary="One person: identities with the reason and confidence of each link",
            response_model=PersonDetail, responses=error_responses(400, 404, 503))
def get_person(person_id: str, svc: Services = Depends(services)) -> dict:
    """By person id (p-...) or by one of its identities (email:..., github:LOGIN, or a bare e-mail)."""
    from ..metrics.people import PeopleError, parse_identity

    if len(person_id) > 400 or "\x00" in person_id:
        raise ApiError(400, "invalid_request", "person id too long or not text")
    found = metrics.person_detail(svc.reader, person_id)
    if found is None and not person_id.startswith("p-"):
        with contextlib.suppress(PeopleError):
            found = metrics.person_detail(svc.reader, parse_identity(person_id))
    if found is None:
        raise ApiError(404, "not_found", f"person {person_id!r} is not known")
    return found
