"""Structured JSON operations log on the `repo_scoping.operations` logger, secrets redacted.

One JSON object per line on stderr: ts, level, logger, event, then the event's fields.
Registration, refresh runs (start/finish/fail with duration), LLM usage, review decisions and
API errors all go through `event()`. Every string value passes through `redact()` with the
configured secrets (API token, database password, OpenAI/GitHub/Redmine keys) plus the
well-known token shapes, so nothing secret reaches a log line.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from repo_scoping_pipelines.safety.redaction import redact

LOGGER_NAME = "repo_scoping.operations"
log = logging.getLogger(LOGGER_NAME)

_secrets: set[str] = set()
_lock = threading.Lock()
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def add_secrets(*values: str | None) -> None:
    with _lock:
        _secrets.update(v for v in values if v and len(v) >= 4)


def secrets() -> tuple[str, ...]:
    return tuple(sorted(_secrets, key=len, reverse=True))  # longest first: no partial leftovers


def _scrub(value):
    if isinstance(value, str):
        return redact(value, secrets())
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_scrub(v) for v in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value), secrets())


class JsonFormatter(logging.Formatter):
    """A log record as one redacted JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(_scrub(payload), default=str, ensure_ascii=False)


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at emit time (test runners swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


_default_file: Path | None = None


def default_to_file(path: Path) -> None:
    """Interactive commands keep stderr for their own messages: log there unless LOG_FILE says otherwise."""
    global _default_file
    _default_file = path


def configure(settings) -> None:
    """Set the level from REPO_SCOPING_LOG_LEVEL, register the secrets, attach the JSON handler once
    (to REPO_SCOPING_LOG_FILE, else the process default, else stderr)."""
    values = [s.get_secret_value() for s in (settings.api_token, settings.openai_api_key, settings.github_token,
                                             settings.redmine_api_key, settings.milvus_token) if s]
    if settings.database_url is not None:
        try:
            values.append(make_url(settings.database_url.get_secret_value()).password)
        except Exception:
            values.append(settings.database_url.get_secret_value())
    add_secrets(*values)
    log.setLevel(settings.log_level)
    with _lock:
        if not any(getattr(h, "_ops_log", False) for h in log.handlers):
            target = settings.log_file or _default_file
            if target is not None:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
                handler: logging.Handler = logging.FileHandler(target, encoding="utf-8", delay=True)
            else:
                handler = _StderrHandler()
            handler._ops_log = True  # type: ignore[attr-defined]
            handler.setFormatter(JsonFormatter())
            log.addHandler(handler)
            log.propagate = False  # one JSON line, not a second plain copy through the root logger


def event(name: str, *, level: int = logging.INFO, **fields) -> None:
    """Log one operations event with its fields (values are redacted by the formatter)."""
    if log.isEnabledFor(level):
        log.log(level, name, extra={k: v for k, v in fields.items() if k not in _STANDARD})


def llm_usage(*, provider: str, model: str, purpose: str, prompt_tokens: int | None = None,
              completion_tokens: int | None = None, duration_ms: float | None = None, **fields) -> None:
    event("llm.usage", provider=provider, model=model, purpose=purpose, prompt_tokens=prompt_tokens,
          completion_tokens=completion_tokens, duration_ms=duration_ms, **fields)


def review_decision(*, candidate_id, decision: str, reviewer: str | None = None, note: str | None = None,
                    **fields) -> None:
    event("review.decision", candidate_id=candidate_id, decision=decision, reviewer=reviewer, note=note, **fields)
