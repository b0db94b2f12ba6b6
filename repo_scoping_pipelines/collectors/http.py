"""JSON over HTTPS for the outside trackers: allowed hosts only (every request and redirect hop, through
`egress.allowed_session`), retries with backoff on 5xx and timeouts (tenacity), rate limits waited out
(within a bound), conditional GETs, secrets never in errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from repo_scoping_pipelines.safety.egress import EgressError, allowed_session, check_url
from repo_scoping_pipelines.safety.redaction import redact

from ..config import Settings

if TYPE_CHECKING:  # imported where a request is made: a refresh with nothing to fetch never loads requests
    import requests


class CollectorError(RuntimeError):
    """An outside service could not be read; the message is safe to log and show."""


class RateLimited(CollectorError):
    """The service's rate limit is exhausted for longer than we are willing to wait."""


@dataclass
class Answer:
    status: int  # 200 or 304
    data: object
    headers: dict[str, str]
    url: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_service_url(url: str, settings: Settings, variable: str) -> str:
    """HTTPS (plain http only for localhost) to a host in REPO_SCOPING_ALLOWED_HOSTS."""
    try:
        return check_url(url, settings, variable).rstrip("/")
    except EgressError as exc:
        raise CollectorError(str(exc)) from None


class _Retry(Exception):  # not an error: one attempt's outcome that the retry policy may repeat
    """An answer worth repeating (5xx, lost connection, timeout, rate limit): `final` is the error when
    no attempt is left, `rate_limit_wait` the seconds a rate limit asks for (None: plain backoff)."""

    def __init__(self, final: CollectorError, rate_limit_wait: float | None = None, why: str = "") -> None:
        super().__init__(str(final))
        self.final, self.rate_limit_wait, self.why = final, rate_limit_wait, why


@dataclass
class JsonClient:
    """GET JSON from one service with the project's retry and rate-limit policy.

    Retries are tenacity's (exponential backoff from `backoff`, or the wait a rate limit names, at
    most `retries` times); requests go through `egress.allowed_session`, which checks the first
    request and every redirect hop against REPO_SCOPING_ALLOWED_HOSTS before connecting.
    """

    service: str  # "GitHub", "Redmine": names the service in errors
    base_url: str
    headers: dict[str, str]
    secrets: tuple[str, ...]
    timeout: float = 30.0
    retries: int = 4
    backoff: float = 1.0
    max_wait: float = 900.0
    sleep: Callable[[float], None] = time.sleep
    credential_hint: str = ""
    requests_made: int = 0
    waited_s: float = 0.0
    _session: requests.Session | None = None  # egress.allowed_session; from_settings builds it
    _blocked_until: float = 0.0  # epoch seconds: the last answer said no requests are left until then

    def __post_init__(self) -> None:
        if self._session is None:
            raise TypeError("JsonClient needs an egress-checked session: build it with JsonClient.from_settings")

    @classmethod
    def from_settings(cls, service: str, base_url: str, headers: dict[str, str], secrets: tuple[str, ...],
                      settings: Settings, **kw) -> JsonClient:
        kw.setdefault("_session", allowed_session(settings, f"{service} request"))
        return cls(service=service, base_url=base_url, headers=headers, secrets=secrets,
                   timeout=settings.http_timeout_s, retries=settings.http_retries, backoff=settings.http_backoff_s,
                   max_wait=settings.http_max_wait_s, **kw)

    def _safe(self, text: str) -> str:
        return redact(text, self.secrets)

    def _check_wait(self, seconds: float, why: str) -> None:
        if seconds > self.max_wait:
            until = datetime.fromtimestamp(time.time() + seconds, UTC).isoformat(timespec="seconds")
            raise RateLimited(f"{self.service} rate limit exhausted ({why}); it resets at {until}, "
                              f"in {seconds:.0f}s, longer than REPO_SCOPING_HTTP_MAX_WAIT_S={self.max_wait:g}")

    def _wait(self, seconds: float, why: str) -> None:
        self._check_wait(seconds, why)
        if seconds > 0:
            self.waited_s += seconds
            self.sleep(seconds)

    def _rate_limit_wait(self, resp: requests.Response) -> float | None:
        """Seconds to wait when the answer is a rate limit (403/429 with the limit headers)."""
        retry_after = resp.headers.get("Retry-After")
        remaining = resp.headers.get("X-RateLimit-Remaining")
        if resp.status_code == 429 or (resp.status_code == 403 and (remaining == "0" or retry_after)):
            if retry_after and retry_after.strip().isdigit():
                return float(retry_after)
            reset = resp.headers.get("X-RateLimit-Reset")
            if reset and reset.strip().isdigit():
                return max(float(reset) - time.time(), 0.0) + 1.0
            return 60.0  # GitHub's advice for a secondary limit without headers
        return None

    def _message(self, resp: requests.Response) -> str:
        try:
            body = resp.json()
            text = body.get("message") or body.get("errors") or "" if isinstance(body, dict) else ""
        except ValueError:
            text = resp.text[:200]
        return self._safe(" ".join(str(text).split()))[:200]

    # --- the retry policy (tenacity) ---------------------------------------------------------------------

    def _retry_delay(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.rate_limit_wait is not None:
            return exc.rate_limit_wait
        return wait_exponential(multiplier=self.backoff, exp_base=2, min=0)(state)

    def _before_retry_sleep(self, state: RetryCallState) -> None:
        """Runs only when another attempt follows: a rate-limit wait past max_wait ends here."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retry) and exc.rate_limit_wait is not None:
            self._check_wait(exc.rate_limit_wait, exc.why)
            self._blocked_until = 0.0
            if exc.rate_limit_wait > 0:
                self.waited_s += exc.rate_limit_wait

    def _retrying(self) -> Retrying:
        return Retrying(stop=stop_after_attempt(self.retries + 1), retry=retry_if_exception_type(_Retry),
                        wait=self._retry_delay, before_sleep=self._before_retry_sleep,
                        sleep=lambda seconds: self.sleep(float(seconds)), reraise=True)

    def _attempt(self, url: str, params: dict | None, headers: dict[str, str], path: str) -> requests.Response:
        """One request; raises _Retry for an answer the policy may repeat."""
        import requests  # loaded already by egress.allowed_session, which built the session

        attempts = self.retries + 1  # what the final error reports: it is raised only when none are left
        if self._blocked_until > time.time():
            self._wait(self._blocked_until - time.time() + 1.0, "no requests left")
        self.requests_made += 1
        try:
            resp = self._session.get(url, params=params, headers=headers, timeout=self.timeout)
        except EgressError as exc:  # the first request or a redirect hop: refused before connecting
            raise CollectorError(self._safe(f"{self.service} request for {path} not allowed: {exc}")) from None
        except requests.RequestException as exc:
            raise _Retry(CollectorError(self._safe(
                f"{self.service} unreachable at {path} after {attempts} attempts: {type(exc).__name__}"))) from None
        remaining = resp.headers.get("X-RateLimit-Remaining")
        reset = resp.headers.get("X-RateLimit-Reset")
        if remaining == "0" and reset and reset.strip().isdigit():
            self._blocked_until = float(reset)
        wait = self._rate_limit_wait(resp)
        if wait is not None:
            raise _Retry(RateLimited(f"{self.service} rate limit still exhausted after {attempts} attempts "
                                     f"({resp.status_code} on {path})"),
                         rate_limit_wait=wait, why=f"{resp.status_code} on {path}")
        if resp.status_code >= 500:
            raise _Retry(CollectorError(f"{self.service} answered {resp.status_code} for {path} after "
                                        f"{attempts} attempts"))
        return resp

    def get(self, url: str, *, params: dict | None = None, etag: str | None = None) -> Answer:
        if not url.startswith(self.base_url):
            raise CollectorError(f"{self.service} pointed to {self._safe(url)!r}, outside {self.base_url}")
        path = urlsplit(url).path
        headers = dict(self.headers)
        if etag:
            headers["If-None-Match"] = etag
        try:
            resp = self._retrying()(self._attempt, url, params, headers, path)
        except _Retry as exc:  # the last attempt was still a 5xx, a lost connection or a rate limit
            raise exc.final from None
        if resp.status_code == 304:
            return Answer(304, None, dict(resp.headers), url)
        if resp.status_code == 401:
            raise CollectorError(f"{self.service} rejected the credentials (401) for {path}: "
                                 f"{self._message(resp) or 'unauthorized'}; check {self.credential_hint}")
        if resp.status_code == 403:
            raise CollectorError(f"{self.service} refused access (403) to {path}: {self._message(resp) or 'forbidden'}")
        if resp.status_code == 404:
            raise CollectorError(f"{self.service} has no {path} (404): the project does not exist or the "
                                 "credentials cannot see it")
        if resp.status_code != 200:
            raise CollectorError(f"{self.service} answered {resp.status_code} for {path}: {self._message(resp)}")
        try:
            data = resp.json()
        except ValueError:
            raise CollectorError(f"{self.service} answered invalid JSON for {path} "
                                 f"(content-type {resp.headers.get('Content-Type', '?')})") from None
        return Answer(200, data, dict(resp.headers), url)


def parse_time(value: object) -> datetime | None:
    """ISO 8601 from GitHub / Redmine ('2024-01-02T10:00:00Z') as an aware datetime."""
    if not value:
        return None
    if not isinstance(value, str):
        raise CollectorError(f"expected a timestamp, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CollectorError(f"invalid timestamp {value[:40]!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
