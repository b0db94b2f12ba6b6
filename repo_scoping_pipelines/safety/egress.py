"""Outbound traffic policy: only hosts in REPO_SCOPING_ALLOWED_HOSTS (localhost always allowed).

Every outbound HTTP request goes through this policy: GitHub and Redmine through `allowed_session`
(collectors/http.py), the `openai` SDK (LLM and embeddings) through `egress_http_client`; both check
the first request and every redirect hop before connecting. Git remotes are checked with `host_allowed`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from repo_scoping_pipelines.collectors.git import LOCAL_HOSTS, host_allowed
from repo_scoping_pipelines.config import Settings

__all__ = ["LOCAL_HOSTS", "EgressError", "allowed_session", "check_url", "egress_http_client", "host_allowed"]


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


def _host(url: str) -> str:
    return (urlsplit(url or "").hostname or "?").lower()


def allowed_session(settings: Settings, purpose: str):
    """A requests.Session that refuses, before connecting, any URL `check_url` refuses: the first
    request and every redirect hop (requests sends each hop through `Session.send`)."""
    import requests

    class EgressSession(requests.Session):
        def rebuild_auth(self, prepared_request, response):
            # resolve_redirects calls this with the next hop's absolute URL, right before sending it.
            try:
                check_url(prepared_request.url, settings, purpose)
            except EgressError as exc:
                raise EgressError(f"refused redirect from {_host(response.url)!r} to "
                                  f"{_host(prepared_request.url)!r}: {exc}") from None
            super().rebuild_auth(prepared_request, response)

        def send(self, request, **kwargs):
            check_url(request.url, settings, purpose)
            return super().send(request, **kwargs)

    return EgressSession()


def egress_http_client(settings: Settings, purpose: str, *, timeout: float, on_request=None):
    """The http client for the `openai` SDK (`OpenAI(http_client=...)`): the SDK's own defaults, and a
    request hook that checks every request, each redirect hop included, before it connects.
    `on_request(request)` runs after the check (counting, rate limits)."""
    from openai import DefaultHttpxClient

    def _check(request) -> None:
        check_url(str(request.url), settings, purpose)
        if on_request is not None:
            on_request(request)

    return DefaultHttpxClient(timeout=timeout, event_hooks={"request": [_check]})
