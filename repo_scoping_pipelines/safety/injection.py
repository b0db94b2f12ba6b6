"""Guardrails over untrusted repository text: detect prompt-injection attempts and count them.

Repository content is data, never instructions. Text that tries to steer a model ("ignore
previous instructions", fake system prompts, tool-call bait) is still indexed and searchable
verbatim, but each chunk that carries it is counted once under `prompt_injection` (health and
Prometheus show the counters) so LLM stages can quote it as data or leave it out.
"""

from __future__ import annotations

import re

from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.storage import operations

_INJECTION_PATTERNS = [
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(previous|prior|above|earlier|all|any|your)\b.{0,40}"
    r"\b(instructions?|prompts?|rules|directions|guidelines|context)\b",
    r"\byou are now\b.{0,60}\b(assistant|ai|model|agent|dan|jailbroken|unrestricted)\b",
    r"(^|\n)\s*(system|assistant)\s*:\s*\S",
    r"<\s*/?\s*(system|im_start|im_end|\|im_start\|)\s*>",
    r"\[\s*(system|inst)\s*\]",
    r"\b(reveal|print|show|leak|exfiltrate|send)\b.{0,40}\b(system prompt|api[ _-]?keys?|secrets?|credentials|"
    r"environment variables|tokens?)\b",
    r"\bdo not (tell|inform|alert) the (user|reviewer|operator)\b",
    r"\b(approve|mark)\b.{0,30}\b(this|these)\b.{0,30}\b(abilit(y|ies)|candidates?)\b.{0,30}\bautomatically\b",
]
_INJECTION = re.compile("|".join(f"(?:{p})" for p in _INJECTION_PATTERNS), re.IGNORECASE | re.DOTALL)


def prompt_injection_markers(text: str) -> list[str]:
    """The phrases in `text` that look like an attempt to instruct a model (empty when none)."""
    return [m.group(0).strip()[:120] for m in _INJECTION.finditer(text or "")][:5]


def scan_chunks(engine, repository_id: int, repository: str, chunk_rows: list[dict]) -> int:
    """Count chunks carrying prompt-injection text; idempotent per chunk id. Returns new events."""
    new = 0
    for row in chunk_rows:
        markers = prompt_injection_markers(row.get("text", ""))
        if not markers:
            continue
        if operations.record_guardrail(engine, "prompt_injection", f"chunk:{row['chunk_id']}",
                                       repository_id=repository_id, detail=f"{row.get('path')}: {markers[0]}"):
            new += 1
            ops_log.event("guardrail.prompt_injection", repository=repository, path=row.get("path"),
                          chunk_id=row["chunk_id"], marker=markers[0])
    return new
