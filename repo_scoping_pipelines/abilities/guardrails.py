"""Guardrail counters of one candidate run, neutralisation of instruction-like repository text, and
the unsafe-content check of model claims.

Detection of prompt-injection text is shared with indexing (`repo_scoping_pipelines.safety.injection`);
here the offending lines are replaced before the text reaches a prompt, and every event is counted
per run (ability_runs.guardrails; health and Prometheus sum the latest run of each repository).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.safety.injection import prompt_injection_markers

COUNTERS = ("prompt_injection", "ungrounded_claim", "schema_violation", "unsafe_content")
NEUTRALISED = "[instruction-like text removed by repo-scoping]"

# Beyond the shared patterns: chat-template tokens and "answer with ..." steering aimed at our JSON answer.
_EXTRA = re.compile("|".join(f"(?:{p})" for p in [
    r"<\|[a-z_]+\|>",
    r"\b(new|updated|real|actual)\s+(system\s+)?instructions?\s*:",
    r"\b(tell|instruct|ask)\s+(the\s+)?(model|assistant|ai|llm|language model)\b",
    r"\b(respond|reply|answer|output)\s+(only\s+)?with\b[^\n]{0,60}\b(json|abilit(y|ies))\b",
    r"\b(claim|report|say|state)\s+that\s+this\s+(repository|repo|project|code)\b",
]), re.IGNORECASE)
# Our own prompt delimiters must not be forgeable from inside a chunk.
_DELIMITER = re.compile(r"<\s*/?\s*(chunk|facts|repository)\b", re.IGNORECASE)

_UNSAFE = [
    ("markup", re.compile(r"<\s*/?\s*(script|iframe|img|object|embed|svg|style|a|form|meta|link)\b|\bon(load|error|click|mouse\w*|focus|submit)\s*=",
                          re.IGNORECASE)),
    ("script_url", re.compile(r"\b(javascript|vbscript|data)\s*:", re.IGNORECASE)),
    ("secret", re.compile(r"\b(sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|"
                          r"AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----)")),
    ("shell", re.compile(r"(curl|wget)[^\n|]{0,200}\|\s*(sudo\s+)?(ba|z)?sh\b|\brm\s+-rf\s+/(\s|$)", re.IGNORECASE)),
    ("control", re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")),
]


def injection_markers(text: str) -> list[str]:
    markers = prompt_injection_markers(text)
    markers += [m.group(0).strip() for m in _EXTRA.finditer(text or "")]
    return markers[:10]


def neutralise(text: str) -> tuple[str, list[str]]:
    """Text safe to place in a prompt: lines carrying instruction-like text are replaced, our delimiters
    defused. Returns (text, markers found); markers is empty when nothing was instruction-like."""
    markers = injection_markers(text)
    out = _DELIMITER.sub(lambda m: m.group(0).replace("<", "\u2039"), text)
    if not markers:
        return out, []
    lines = out.split("\n")
    flagged = {i for i, line in enumerate(lines) if injection_markers(line)}
    # Patterns may span lines: blank every line that a marker's first occurrence touches.
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    for marker in markers:
        start = out.find(marker)
        if start < 0:
            continue
        end = start + len(marker)
        flagged.update(i for i, begin in enumerate(offsets) if begin <= end and begin + len(lines[i]) >= start)
    for i in flagged:
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        lines[i] = indent + NEUTRALISED
    return "\n".join(lines), markers


def unsafe_reason(text: str) -> str | None:
    """Why a model-written text must not be stored or shown (None when it is fine)."""
    for reason, pattern in _UNSAFE:
        if pattern.search(text or ""):
            return reason
    return None


@dataclass
class RunGuardrails:
    """The counters of one run, and the events behind them (stored once per (counter, subject))."""

    repository: str
    repository_id: int | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    events: list[tuple[str, str, str]] = field(default_factory=list)

    def hit(self, counter: str, subject: str, detail: str = "") -> None:
        if counter not in COUNTERS:
            raise ValueError(f"unknown guardrail counter {counter!r}")
        self.counts[counter] += 1
        self.events.append((counter, subject, detail[:300]))

    def claim_subject(self, *parts: str) -> str:
        digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]
        return f"claim:{self.repository}:{digest}"

    def log_events(self) -> None:
        """One operations-log line per event. The counts themselves are stored with the run
        (ability_runs.guardrails), which health and Prometheus add to the ingestion-time counters."""
        for counter, subject, detail in self.events:
            ops_log.event(f"guardrail.{counter}", repository=self.repository, subject=subject, detail=detail)
