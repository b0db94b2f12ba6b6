"""Numbered sources: what the model (or the extractive answer) may cite, made safe for a prompt.

Every piece of retrieved text passes the one redaction step (`safety.redaction.redact_secrets`, secrets
masked: unsafe_content) and the neutralisation of instruction-like lines shared with ability extraction
(prompt_injection) before it is numbered; the text the model saw is what quotes are checked against.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from repo_scoping_pipelines.abilities.guardrails import neutralise
from repo_scoping_pipelines.safety.redaction import redact_secrets

MAX_SOURCE_CHARS = 1800
# Our own delimiters must not be forgeable from inside a source.
_DELIMITER = re.compile(r"<\s*/?\s*(source|sources|question|conversation)\b", re.IGNORECASE)


@dataclass
class Source:
    kind: str  # a chunk kind (function, class, section, ...) or fact | ability | ownership | shipped | importers
    repository: str
    path: str
    start_line: int | None
    end_line: int | None
    commit: str | None
    text: str  # as shown to the model: redacted and neutralised
    chunk_id: str | None = None
    ref: str | None = None  # a fact id, a candidate id, a week, ...
    symbol: str | None = None
    n: int = 0
    flags: dict = field(default_factory=dict)  # {"secrets": [...kinds], "injection": [...markers]}

    def citation(self) -> dict:
        out = {"n": self.n, "repository": self.repository, "path": self.path, "start_line": self.start_line,
               "end_line": self.end_line, "commit": self.commit, "kind": self.kind}
        if self.chunk_id:
            out["chunk_id"] = self.chunk_id
        if self.ref:
            out["ref"] = self.ref
        return out

    def location(self) -> str:
        if self.start_line is None:
            return self.path
        if self.end_line is None or self.end_line == self.start_line:
            return f"{self.path}:{self.start_line}"
        return f"{self.path}:{self.start_line}-{self.end_line}"


def safe_text(text: str) -> tuple[str, dict]:
    """Retrieved text as a prompt may carry it: secrets masked, instruction-like lines neutralised,
    our delimiters defused. Returns (text, flags)."""
    text, secret_kinds = redact_secrets(text[:MAX_SOURCE_CHARS])
    text, markers = neutralise(text)
    text = _DELIMITER.sub(lambda m: m.group(0).replace("<", "\u2039"), text)
    flags = {}
    if secret_kinds:
        flags["secrets"] = secret_kinds
    if markers:
        flags["injection"] = markers[:3]
    return text, flags


def make_source(*, text: str, **fields) -> Source:
    shown, flags = safe_text(text)
    return Source(text=shown, flags=flags, **fields)


def chunk_source(hit: dict, commit: str | None, text: str | None = None) -> Source:
    """A search result (search.query's shape; `text` = the whole chunk when known, else its snippet)."""
    return make_source(kind=hit["kind"], repository=hit["repository"], path=hit["path"],
                       start_line=hit["start_line"], end_line=hit["end_line"], commit=commit,
                       chunk_id=hit["chunk_id"], symbol=hit.get("symbol"), text=text or hit.get("snippet") or "")


def fact_source(fact: dict, repository: str) -> Source:
    """A stored fact (storage.facts row): its kind, subject and value, cited at its evidence line."""
    value = fact.get("value")
    detail = "" if value in (None, {}, [], "") else f" {value}"
    return make_source(kind="fact", repository=repository, path=fact["path"], start_line=fact["line"],
                       end_line=fact["line"], commit=fact.get("commit_sha"), ref=str(fact["fact_id"]),
                       text=f"{fact['kind']}: {fact['subject']}{detail[:400]} (evidence {fact['path']}:{fact['line']})")


def ability_source(ability: dict, commit: str | None) -> Source:
    """An approved ability of the registry, cited at its first evidence."""
    evidence = (ability.get("evidence") or [{}])[0]
    line = evidence.get("start_line") or evidence.get("line")
    end = evidence.get("end_line") or line
    return make_source(kind="ability", repository=ability["repository"], path=evidence.get("path") or "",
                       start_line=line, end_line=end, commit=commit, ref=ability["candidate_id"],
                       text=f"approved ability [{ability['category']}] {ability['name']}: {ability['description']}")


def number(sources: list[Source], start: int = 1) -> list[Source]:
    """Give the sources their numbers [start..]; drop exact duplicates (same repository, path, lines, ref)."""
    seen: set[tuple] = set()
    out = []
    for s in sources:
        key = (s.repository, s.path, s.start_line, s.end_line, s.ref, s.chunk_id)
        if key in seen:
            continue
        seen.add(key)
        s.n = start + len(out)
        out.append(s)
    return out


def _attr(value: str) -> str:
    """An attribute value of our tags: quotes and angle brackets escaped, so a path or ref cannot forge one."""
    return html.escape(str(value), quote=True)


def render(sources: list[Source]) -> str:
    """The sources block of a prompt (or of a tool result)."""
    blocks = []
    for s in sources:
        lines = f' lines="{s.start_line}-{s.end_line}"' if s.start_line is not None else ""
        ref = f' ref="{_attr(s.ref)}"' if s.ref else ""  # "a->b" (an import edge) must not close the tag
        blocks.append(f'<source n="{s.n}" repository="{_attr(s.repository)}" path="{_attr(s.path)}"{lines} '
                      f'kind="{_attr(s.kind)}"{ref}>\n{s.text}\n</source>')
    return "\n\n".join(blocks)
