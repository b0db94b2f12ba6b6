"""POST /uploads: register a repository from an uploaded .zip (a token of scope admin).

The token is checked before the body is read, so an unauthenticated upload stores nothing.
The archive is checked against the zip safety limits before it is kept (HOME/uploads/<sha256>.zip);
the `repositories` sensor then adds the partition and requests the first refresh.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from ..collectors.registration import RegistrationError, register_repository
from ..config import Settings
from ..operations import log as ops_log
from ..services import open_services
from .auth import require_scope
from .errors import ApiError
from .models import UploadResult, error_responses

router = APIRouter()

_UPLOAD_BODY = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["name", "archive"],
        "properties": {
            "name": {"type": "string", "description": "Repository name (becomes the partition key)"},
            "archive": {"type": "string", "format": "binary", "description": "The repository as a .zip"},
            "replace": {"type": "boolean", "description": "Replace the archive of a zip repository of that name"},
        }}}},
}


# Registering a source is an operator's act: scope admin, checked (a dependency) before the body is read.
@router.post("/uploads", status_code=201, summary="Register a repository from an uploaded .zip (token scope admin)",
             response_model=UploadResult, responses=error_responses(400, 401, 403, 409, 413, 503),
             dependencies=[Depends(require_scope("admin"))], openapi_extra={"requestBody": _UPLOAD_BODY})
async def upload(request: Request) -> dict:
    settings: Settings = request.app.state.settings
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.upload_max_bytes + 64 * 1024:
        raise ApiError(413, "too_large", f"upload larger than {settings.upload_max_bytes} bytes")
    try:
        form = await request.form(max_files=1, max_fields=5)
    except Exception as exc:  # malformed multipart: bad input, not a server error
        raise ApiError(400, "invalid_request", f"expected multipart/form-data: {exc}") from None
    try:
        name, archive = form.get("name"), form.get("archive")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "invalid_request", "form field 'name' is required")
        if not isinstance(archive, UploadFile):
            raise ApiError(400, "invalid_request", "form field 'archive' (a .zip file) is required")
        replace = str(form.get("replace", "false")).lower() in ("1", "true", "yes")
        incoming = settings.home / "uploads" / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=incoming) as tmp:
            path = Path(tmp) / "upload.zip"
            size = 0
            with open(path, "wb") as out:
                while block := await archive.read(1024 * 1024):
                    size += len(block)
                    if size > settings.upload_max_bytes:
                        raise ApiError(413, "too_large", f"upload larger than {settings.upload_max_bytes} bytes")
                    out.write(block)
            services = open_services(settings)
            try:
                repo = await run_in_threadpool(register_repository, services, name, str(path), replace_zip=replace)
            except RegistrationError as exc:
                status = 409 if "already registered" in str(exc) else 400
                raise ApiError(status, "conflict" if status == 409 else "rejected", str(exc)) from None
    finally:
        await form.close()
    stored = Path(repo.source)
    run_id, next_step = await run_in_threadpool(_queue_first_refresh, request, services, repo.name)
    ops_log.event("upload", repository=repo.name, bytes=size, archive=stored.name, run_id=run_id)
    return {"name": repo.name, "source_kind": repo.source_kind, "archive_sha256": stored.stem, "bytes": size,
            "run_id": run_id, "next": next_step}


def _queue_first_refresh(request: Request, services, name: str) -> tuple[str | None, str]:
    """Queue the refresh the upload calls for (or find the one the registrations sensor queued first);
    without a daemon nothing is queued and the answer says how to refresh instead."""
    from ..operations import runs as run_ops
    from .runs import dagster

    try:
        queued = run_ops.queue_refreshes(dagster(request), services.engine, [name], trigger="upload")
    except run_ops.DaemonDown as exc:
        return None, f"not queued: {exc}; run `repo-scoping refresh {name}`"
    return queued[0]["run_id"], f"refresh run {queued[0]['run_id']} is {queued[0]['status']} (GET /runs/{{run_id}})"
