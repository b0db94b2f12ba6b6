"""Outbound traffic policy: only hosts in REPO_SCOPING_ALLOWED_HOSTS (localhost always allowed).

Every collector or client that talks to GitHub, Redmine, an LLM or a git remote calls
`check_url` (or `allowed_session`) before the first request.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from .collectors.git import LOCAL_HOSTS, host_allowed
from .config import Settings

__all__ = ["LOCAL_HOSTS", "EgressError", "allowed_session", "check_url", "host_allowed"]


class EgressError(PermissionError):
    """An outbound request to a host or scheme the operator has not allowed."""


def check_url(url: str, settings: Settings, purpose: str) -> str:
    """Return `url` if it may be fetched: https to an allowed host (plain http only to localhost)."""
    parts = urlsplit(url or "")
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise EgressError(f"{purpose}: {parts.scheme or 'no'} URL scheme not allowed (use https)")
    if parts.scheme == "http" and host not in LOCAL_HOSTS:
        raise EgressError(f"{purpose}: plain http to {host!r} is not allowed (use https)")
    if not host_allowed(host, settings):
        raise EgressError(f"{purpose}: host {host!r} is not in REPO_SCOPING_ALLOWED_HOSTS")
    return url


def allowed_session(settings: Settings, purpose: str):
    """A requests.Session that refuses (before connecting) any URL `check_url` refuses, redirects included."""
    import requests

    session = requests.Session()

    def _guard(response, *args, **kwargs):
        location = response.headers.get("location")
        if response.is_redirect and location:
            check_url(requests.compat.urljoin(response.url, location), settings, purpose)

    original = session.request

    def request(method, url, *args, **kwargs):
        check_url(url, settings, purpose)
        return original(method, url, *args, **kwargs)

    session.request = request  # type: ignore[method-assign]
    session.hooks["response"].append(_guard)
    return session
