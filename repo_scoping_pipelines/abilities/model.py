"""A candidate ability and its evidence (facts and chunks with path and lines)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

CATEGORIES = ("api", "cli", "ui", "data_storage", "messaging", "scheduling", "distribution", "deployment",
              "library", "other")
SOURCES = ("rules", "llm")


def candidate_id(repository: str, key: str) -> str:
    """Stable id of a repository's ability: the same key keeps the same id (and its review) across snapshots."""
    return "cand_" + hashlib.sha256(f"{repository}\0{key}".encode()).hexdigest()[:16]


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "ability"


@dataclass
class Candidate:
    """One ability a repository appears to have, with the evidence that shows it."""

    key: str  # stable within a repository, e.g. "http_api", "datastore:postgresql", "llm:renders-pdfs"
    name: str
    category: str
    description: str
    evidence: list[dict] = field(default_factory=list)
    confidence: float = 0.5
    source: str = "rules"

    def row(self, repository: str) -> dict:
        return {"candidate_id": candidate_id(repository, self.key), "ability_key": self.key, "name": self.name,
                "category": self.category, "description": self.description, "evidence": self.evidence,
                "confidence": round(float(self.confidence), 3), "source": self.source}


def fact_evidence(fact) -> dict:
    return {"type": "fact", "fact_id": fact.fact_id, "kind": fact.kind, "subject": fact.subject,
            "path": fact.path, "line": fact.line}


def chunk_evidence(chunk: dict, quote: str | None = None) -> dict:
    out = {"type": "chunk", "chunk_id": chunk["chunk_id"], "path": chunk["path"],
           "start_line": chunk["start_line"], "end_line": chunk["end_line"]}
    if quote:
        out["quote"] = quote
    return out


class ChunkIndex:
    """Find the smallest stored chunk that covers a (path, line)."""

    def __init__(self, chunks: list[dict]) -> None:
        self.by_id = {c["chunk_id"]: c for c in chunks}
        self._by_path: dict[str, list[dict]] = {}
        for c in chunks:
            self._by_path.setdefault(c["path"], []).append(c)

    def covering(self, path: str, line: int) -> dict | None:
        best = None
        for c in self._by_path.get(path, ()):
            covers = c["start_line"] <= max(line, 1) <= c["end_line"]
            if covers and (best is None or c["end_line"] - c["start_line"] < best["end_line"] - best["start_line"]):
                best = c
        return best

    def paths(self) -> list[str]:
        return list(self._by_path)
