"""Keep secrets out of logs, errors and API answers."""

from __future__ import annotations

import re

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s:]+(?::[^/@\s]*)?@")
# Each pattern keeps its `keep` group (a label) and masks the rest of the match.
_TOKEN_PATTERNS = [
    re.compile(r"(?P<keep>)\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"(?P<keep>)\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"(?P<keep>)\bsk-[A-Za-z0-9_-]{16,}"),
    re.compile(r"(?i)(?P<keep>authorization:\s*(?:bearer|token|basic)\s+)\S+"),
    re.compile(r"(?i)(?P<keep>(?:api[_-]?key|token|password|secret)=)[^&\s]+"),
]


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """Remove URL credentials, well-known token shapes and the given secret values."""
    if not text:
        return text
    out = _URL_CREDENTIALS.sub(lambda m: m.group("scheme") + "***@", text)
    for pattern in _TOKEN_PATTERNS:
        out = pattern.sub(lambda m: m.group("keep") + "***", out)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    return out
