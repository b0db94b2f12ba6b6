"""POST /refreshes (scope review), GET /runs, GET /runs/{run_id} and its event stream (Server-Sent Events)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator

import anyio
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ..operations import runs as run_ops
from ..services import Services, open_services
from ..storage import catalog
from .auth import require_scope
from .deps import read_body, services
from .errors import ApiError
from .models import RefreshesResponse, RunDetail, RunList, error_responses

router = APIRouter()

# How often the event stream looks for new events of a running run (Dagster's own UI polls similarly).
EVENT_POLL_S = 0.5
RUN_ID = Path(..., pattern=r"^[0-9a-f][0-9a-f-]{0,63}$", description="A Dagster run id")
_instance_lock = threading.Lock()


def dagster(request: Request):
    """The app's Dagster instance (the project's Postgres storage), opened once per app."""
    return dagster_instance_of(request.app.state)


def dagster_instance_of(state):
    """The Dagster instance kept on an app's state, opened on first use."""
    instance = getattr(state, "dagster_instance", None)
    if instance is None:
        from ..operations.dagster_instance import dagster_instance

        with _instance_lock:
            instance = getattr(state, "dagster_instance", None)
            if instance is None:
                stack = contextlib.ExitStack()
                instance = stack.enter_context(dagster_instance(state.settings))
                state.dagster_instance, state.dagster_instance_stack = instance, stack
    return instance


def close_dagster(state) -> None:
    """Close what dagster_instance_of opened for this app: its workspace and its instance."""
    with _instance_lock:
        instance, stack = getattr(state, "dagster_instance", None), getattr(state, "dagster_instance_stack", None)
        state.dagster_instance = state.dagster_instance_stack = None
    if instance is not None:
        run_ops.close_workspace(instance)
    if stack is not None:
        stack.close()


class RefreshesIn(BaseModel):
    """Which repositories to refresh (null: every registered one), and whether to re-extract everything."""

    repositories: list[str] | None = Field(default=None, min_length=1, max_length=10_000)
    full: bool = False


@router.post("/refreshes", status_code=202, summary="Queue refresh runs (token scope review)",
             response_model=RefreshesResponse, responses=error_responses(400, 401, 403, 404, 503),
             dependencies=[Depends(require_scope("review"))],
             openapi_extra={"requestBody": {"required": False, "content": {"application/json": {
                 "schema": RefreshesIn.model_json_schema()}}}})
async def post_refreshes(request: Request) -> dict:
    """One run per repository through the daemon's run queue; a repository that already has a run queued or
    running gets that run back (`existing: true`), never a second one."""
    body = await read_body(request, RefreshesIn, empty={})
    settings = request.app.state.settings
    engine = open_services(settings).engine
    registered = [r.name for r in await run_in_threadpool(catalog.list_repositories, engine)]
    names = list(dict.fromkeys(body.repositories)) if body.repositories is not None else registered
    unknown = [n for n in names if n not in set(registered)]
    if unknown:
        shown = ", ".join(repr(n) for n in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        raise ApiError(404, "not_found", f"not registered: {shown}; nothing was queued")
    if not names:
        return {"runs": []}
    principal = getattr(request.state, "principal", None)
    instance = dagster(request)
    try:
        queued = await run_in_threadpool(run_ops.queue_refreshes, instance, engine, names, full=body.full,
                                         requested_by=principal.name if principal else None)
    except run_ops.DaemonDown as exc:
        raise ApiError(503, "daemon_unavailable", f"{exc}; nothing was queued") from None
    return {"runs": queued}


@router.get("/runs", summary="Runs for triage: newest first, filtered by status and repository",
            response_model=RunList, responses=error_responses(400, 404, 503))
def list_runs(request: Request,
              status: str | None = Query(None, max_length=100, description="queued, started, success, failure, "
                                                                           "canceled (also failed, running); "
                                                                           "comma-separated for several"),
              repository: str | None = Query(None, max_length=100),
              limit: int = Query(50, ge=1, le=500),
              failed_first: bool = Query(False, description="Failed runs before the others"),
              svc: Services = Depends(services)) -> dict:
    try:
        statuses = run_ops.parse_statuses(status)
    except run_ops.UnknownStatus as exc:
        raise ApiError(400, "invalid_request", f"status: {exc}") from None
    if repository is not None:
        catalog.get_repository(svc.reader, repository)  # 404 naming an unknown repository
    return {"runs": run_ops.list_runs(dagster(request), statuses, repository, limit, failed_first=failed_first)}


@router.get("/runs/{run_id}", summary="One run: status, steps with timings, materializations, error",
            response_model=RunDetail, responses=error_responses(400, 404, 503))
def get_run(request: Request, run_id: str = RUN_ID) -> dict:
    detail = run_ops.run_detail(dagster(request), run_id)
    if detail is None:
        raise ApiError(404, "not_found", f"no run with id {run_id!r}")
    return detail


def _known_run(request: Request, run_id: str = RUN_ID) -> str:
    # A dependency, so an unknown id is a 404 before the stream (and its 200) starts.
    if run_ops.run_status(dagster(request), run_id) is None:
        raise ApiError(404, "not_found", f"no run with id {run_id!r}")
    return run_id


@router.get("/runs/{run_id}/events", response_class=EventSourceResponse,
            summary="The run's event log as Server-Sent Events, until the run ends (final event: end)",
            responses=error_responses(400, 404, 503))
async def run_events(request: Request, run_id: str = Depends(_known_run),
                     last_event_id: str | None = Header(None, alias="Last-Event-ID", pattern=r"^\d{1,19}$",
                                                        description="Resume after this event (its id)")
                     ) -> AsyncIterator[ServerSentEvent]:
    """Each event: `event: event`, `id: <storage id>`, data {storage_id, at, type, step_key, level, message,
    and asset/partition/rows for materializations}. When the run has ended: `event: end` with its status."""
    instance = dagster(request)
    after = int(last_event_id) if last_event_id else None
    while True:
        # The status is read before the events: once it says finished, every event is already stored,
        # so an empty read after it means the stream is complete.
        status = await run_in_threadpool(run_ops.run_status, instance, run_id)
        batch = await run_in_threadpool(run_ops.events_after, instance, run_id, after)
        for event in batch:
            after = event["storage_id"]
            yield ServerSentEvent(event="event", id=str(after), data=event)
        if batch:
            continue  # drain everything there is before ending or waiting
        if status in run_ops.FINISHED:
            yield ServerSentEvent(event="end", data={"run_id": run_id, "status": run_ops.status_group(status),
                                                     "dagster_status": status.value})
            return
        await anyio.sleep(EVENT_POLL_S)
