"""Request dependencies shared by the routers."""

from __future__ import annotations

import json
from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from ..services import Services, open_services
from .errors import ApiError

Body = TypeVar("Body", bound=BaseModel)


def services(request: Request) -> Services:
    """The process's Services for the app's settings (opened on first use)."""
    return open_services(request.app.state.settings)


async def read_body(request: Request, model: type[Body], *, empty: object = None) -> Body:
    """The JSON body as `model` (an empty body reads as `empty`); a 400 naming the bad fields otherwise.
    Read inside the route, after the scope check, so that a caller without a valid token is refused
    before anything of the body is looked at."""
    raw = await request.body()
    try:
        return model.model_validate(json.loads(raw) if raw.strip() else empty)
    except (ValueError, ValidationError) as exc:
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5]) \
            if isinstance(exc, ValidationError) else "the body must be a JSON object"
        raise ApiError(400, "invalid_request", detail or "invalid request") from None
