"""Citation validation: every `[n]` in an answer must name a source that was given, and any text the
answer quotes right before a marker must really be in that source. Markers that fail are removed and
counted `ungrounded_claim`; an answer left with no valid citation says so instead of asserting.

`MarkerFilter` applies the number check while an answer streams, so an invalid marker never reaches
the reader; the quote check needs the whole sentence and runs on the final answer (the `done` event).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_QUOTE = re.compile(r"\"([^\"\n]{8,300})\"|`([^`\n]{8,300})`|\u201c([^\u201d\n]{8,300})\u201d")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
NO_VALID_CITATION = ("The retrieved sources do not support an answer to this question: the answer given "
                     "cited none of them validly, so nothing is asserted here.")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass
class Grounded:
    answer: str
    cited: list[int] = field(default_factory=list)  # valid source numbers, in order of first use
    ungrounded: list[str] = field(default_factory=list)  # why each removed marker was removed


def _numbers(group: str) -> list[int]:
    return [int(x) for x in re.split(r"\s*,\s*", group)]


def ground(answer: str, sources: dict[int, str]) -> Grounded:
    """Validate the markers of `answer` against `sources` (n -> the text the model saw)."""
    result = Grounded(answer="")
    out: list[str] = []
    pos = 0
    segment_start = 0
    for m in MARKER.finditer(answer):
        out.append(answer[pos:m.start()])
        # The claim a marker supports: the text since the previous marker or sentence end.
        before = answer[segment_start:m.start()]
        ends = list(_SENTENCE_END.finditer(before))
        claim = before[ends[-1].end():] if ends else before
        quotes = [next(g for g in q.groups() if g) for q in _QUOTE.finditer(claim)]
        keep = []
        for n in _numbers(m.group(1)):
            if n not in sources:
                result.ungrounded.append(f"[{n}] is not among the {len(sources)} sources given")
                continue
            missing = [q for q in quotes if _norm(q) not in _norm(sources[n])]
            if missing:
                result.ungrounded.append(f"[{n}] does not contain the quoted text {missing[0][:80]!r}")
                continue
            keep.append(n)
        if keep:
            out.append("".join(f"[{n}]" for n in dict.fromkeys(keep)))
            result.cited.extend(n for n in keep if n not in result.cited)
        elif out and out[-1].endswith(" "):
            out[-1] = out[-1].rstrip(" ")
        pos = segment_start = m.end()
    out.append(answer[pos:])
    text = "".join(out).strip()
    if not result.cited:
        text = NO_VALID_CITATION
    result.answer = text
    return result


class MarkerFilter:
    """Streaming text in, streaming text out, with markers for numbers not given removed (with the spaces
    before them, as `ground` does). Text that may still become a marker (an open `[` with digits after it),
    and spaces that may precede one, are held back until decided."""

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self._pending = ""

    def feed(self, text: str) -> str:
        self._pending += text
        out = []
        while self._pending:
            i = self._pending.find("[")
            if i < 0:
                shown = self._pending.rstrip(" ")
                out.append(shown)
                self._pending = self._pending[len(shown):]
                break
            before, rest = self._pending[:i], self._pending[i:]
            m = MARKER.match(rest)
            if m:
                keep = [n for n in _numbers(m.group(1)) if n in self.valid]
                out.append(before + "".join(f"[{n}]" for n in keep) if keep else before.rstrip(" "))
                self._pending = rest[m.end():]
                continue
            if re.fullmatch(r"\[[\d,\s]{0,12}", rest):  # undecided yet: wait for more text
                shown = before.rstrip(" ")
                out.append(shown)
                self._pending = before[len(shown):] + rest
                break
            out.append(before + "[")
            self._pending = rest[1:]
        return "".join(out)

    def flush(self) -> str:
        rest, self._pending = self._pending, ""
        return rest.rstrip(" ")
