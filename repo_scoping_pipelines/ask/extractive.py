"""The answer when no model is configured: the best passages and facts, each cited, and one line that
says so. Same shape as a model's answer (`mode: "extractive"`); never an error."""

from __future__ import annotations

import re

from .sources import Source

NO_MODEL = ("No language model is configured (set REPO_SCOPING_LLM_PROVIDER=openai and REPO_SCOPING_LLM_MODEL "
            "for written answers); these are the most relevant passages and facts.")
NOTHING_FOUND = "Nothing stored matches this question."
MAX_ITEMS = 8
MAX_PASSAGES = 4  # the rest of the items go to facts, ownership, abilities: the structured answers
_WORD = re.compile(r"[a-z0-9]+")


def _excerpt(text: str, question: str, width: int = 220) -> str:
    """The lines of a source that share the most words with the question (its first lines otherwise)."""
    words = set(_WORD.findall(question.lower()))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("```")]
    if not lines:
        return ""
    best = max(range(len(lines)), key=lambda i: (len(words & set(_WORD.findall(lines[i].lower()))), -i))
    excerpt = " ".join(lines[best:best + 2])
    return excerpt if len(excerpt) <= width else excerpt[:width - 1].rstrip() + "\u2026"


def extractive_answer(question: str, sources: list[Source]) -> str:
    if not sources:
        return f"{NO_MODEL}\n\n{NOTHING_FOUND}"
    passages = [s for s in sources if s.chunk_id][:MAX_PASSAGES]
    others = [s for s in sources if not s.chunk_id][:MAX_ITEMS - len(passages)]
    chosen = sorted(passages + others, key=lambda s: s.n)
    if len(chosen) < MAX_ITEMS:  # few structured sources: more passages
        chosen = sorted(chosen + [s for s in sources if s.chunk_id][MAX_PASSAGES:][:MAX_ITEMS - len(chosen)],
                        key=lambda s: s.n)
    items = []
    for s in chosen:
        label = s.location() if s.kind != "fact" else f"fact ({s.location()})"
        if s.kind == "ability":
            label = f"approved ability ({s.repository})"
        symbol = f" {s.symbol}" if s.symbol else ""
        items.append(f"- **{label}**{symbol}: {_excerpt(s.text, question)} [{s.n}]")
    return NO_MODEL + "\n\n" + "\n".join(items)
