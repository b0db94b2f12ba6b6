"""Bearer-token access control as FastAPI dependencies: scopes read < review < admin.

- Every route is a read unless it says otherwise: when read auth is on, create_app adds `read_access` to
  the app's dependencies, so routers added later are covered without doing anything.
- A route that writes declares its scope: `dependencies=[Depends(require_scope("review"))]` (or "admin").
- PUBLIC_PATHS stay open whatever the setting (/health names no secret and no repository content).

401 without a token or with a bad one, 403 with too small a scope. The checks run before the route's
body is read or anything is stored, and no token ever reaches a log or an error message.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ..config import Settings
from ..services import open_services
from ..storage import tokens as token_store
from ..storage.tokens import SCOPES, Principal
from .errors import ApiError

PUBLIC_PATHS = frozenset({"/health"})
BOOTSTRAP = "bootstrap"  # the principal name of REPO_SCOPING_API_TOKEN

# FastAPI's own bearer parser: it also declares the scheme in /openapi.json. auto_error=False: the
# errors are ours (JSON shape, 401 for a missing token rather than its 403).
_bearer = HTTPBearer(auto_error=False, description="A token from `repo-scoping token create`, or "
                                                   "REPO_SCOPING_API_TOKEN (admin)")


def is_loopback(host: str) -> bool:
    if host.strip().lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything


def resolve_read_auth(settings: Settings, host: str) -> Settings:
    """Settings with read_auth decided: as configured, else on when listening beyond loopback."""
    if settings.read_auth is not None:
        return settings
    return settings.model_copy(update={"read_auth": not is_loopback(host)})


def _principal(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """Who the request acts as (cached on the request), or 401."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)")
    given = credentials.credentials.strip()
    settings: Settings = request.app.state.settings
    bootstrap = settings.api_token.get_secret_value() if settings.api_token else ""
    principal = None
    if bootstrap and hmac.compare_digest(given.encode(), bootstrap.encode()):
        principal = Principal(BOOTSTRAP, "admin")
    else:
        principal = token_store.authenticate(open_services(settings).engine, given)
    if principal is None:
        raise ApiError(401, "unauthorized", "the bearer token is not valid (unknown or revoked)")
    request.state.principal = principal
    return principal


async def _authorize(request: Request, credentials: HTTPAuthorizationCredentials | None, scope: str) -> Principal:
    principal = await run_in_threadpool(_principal, request, credentials)  # a database lookup
    if token_store.scope_rank(principal.scope) < token_store.scope_rank(scope):
        raise ApiError(403, "forbidden", f"this route needs a token of scope {scope!r}; "
                                         f"token {principal.name!r} has scope {principal.scope!r}")
    # A token used within the last minute has its use recorded already: no write on every request.
    if principal.use_unrecorded and not getattr(request.state, "marked_used", False):
        request.state.marked_used = True
        await run_in_threadpool(token_store.mark_used, open_services(request.app.state.settings).engine,
                                principal.name)
    return principal


def _scope_dependency(scope: str) -> Callable:
    async def dependency(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
                         ) -> Principal:
        return await _authorize(request, credentials, scope)

    dependency.__name__ = f"require_{scope}"
    return dependency


_DEPENDENCIES = {scope: _scope_dependency(scope) for scope in SCOPES}


def require_scope(scope: str) -> Callable:
    """The dependency a route declares: `dependencies=[Depends(require_scope("review"))]`."""
    return _DEPENDENCIES[scope]


async def read_access(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
                      ) -> Principal | None:
    """App-wide dependency while read auth is on: every route needs a read token, except PUBLIC_PATHS."""
    route = request.scope.get("route")
    if getattr(route, "path", request.url.path) in PUBLIC_PATHS:
        return None
    return await _authorize(request, credentials, "read")
