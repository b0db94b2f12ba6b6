"""Keep secrets out of logs, errors and API answers."""

from __future__ import annotations

import functools
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


# --- secrets in repository text, before it reaches a model -------------------------------------------------

# A PEM block is masked whole: detect-secrets flags only its BEGIN line, and the key is in the lines after it.
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|\Z)",
                        re.DOTALL)
SECRET_MASK = "[secret removed by repo-scoping]"


# An address in code is not a credential; masking it would only lose facts.
_NOT_SECRETS = {"Public IP (ipv4)"}


@functools.cache
def _secret_detectors() -> tuple:
    """detect-secrets' pattern detectors (AWS, GitHub, GitLab, Slack, Stripe, OpenAI, JWT, private keys, ...).
    The entropy and keyword detectors are left out: on source code they flag ordinary identifiers."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.base import RegexBasedDetector

    return tuple(cls() for cls in get_mapping_from_secret_type_to_class().values()
                 if issubclass(cls, RegexBasedDetector) and cls.secret_type not in _NOT_SECRETS)


def _secret_values(detector, text: str) -> set[str]:
    """What to mask for each match: its longest captured group when that is the secret itself (a password
    after `user:`), else the whole match (GitHub's pattern captures only the `ghp` prefix)."""
    values = set()
    for pattern in detector.denylist:
        for match in pattern.finditer(text):
            groups = [g for g in match.groups() if g and len(g) >= 8]
            values.add(max(groups, key=len) if groups else match.group(0))
    return {v for v in values if len(v) >= 8 and v != SECRET_MASK}


def redact_secrets(text: str) -> tuple[str, list[str]]:
    """Repository text with every secret that a detector recognises masked, and the kinds found
    (detect-secrets' secret type names, e.g. "GitHub Token"). Used on every prompt sent to a model."""
    if not text:
        return text, []
    out, pem = _PEM_BLOCK.subn(SECRET_MASK, text)
    kinds = ["Private Key"] if pem else []
    for detector in _secret_detectors():
        values = _secret_values(detector, out)
        for value in sorted(values, key=len, reverse=True):
            out = out.replace(value, SECRET_MASK)
        if values:
            kinds.append(detector.secret_type)
    return out, kinds
