"""The Chunk record, line windows and oversize splitting.

Everything here works on ``lines`` (the result of ``str.splitlines()``) and
1-based inclusive line numbers, so every chunker shares one notion of "line".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# A "word" character that is not "_": used to tell real content from lines of
# pure punctuation such as a closing "}" that is not worth a chunk of its own.
_ALNUM_RE = re.compile(r"[^\W_]")


@dataclass(frozen=True)
class Chunk:
    """A contiguous span of a file, ready to be embedded and indexed.

    ``text`` is exactly ``"\\n".join(text.splitlines()[start_line - 1:end_line])``
    of the source, except for a single line longer than ``max_chars``, which is
    truncated to ``max_chars`` characters.
    """

    kind: str
    symbol: str | None
    start_line: int
    end_line: int
    text: str


def check_limits(max_lines: int, max_chars: int, window_lines: int, overlap_lines: int) -> None:
    """Reject limits that would make windowing loop forever or produce nothing."""
    if max_lines < 1 or max_chars < 1 or window_lines < 1:
        raise ValueError("max_lines, max_chars and window_lines must be >= 1")
    if not 0 <= overlap_lines < window_lines:
        raise ValueError("overlap_lines must be >= 0 and < window_lines")


def is_blank(line: str) -> bool:
    """True when a line has nothing but whitespace."""
    return not line.strip()


def has_content(lines: list[str], start: int, end: int) -> bool:
    """True when lines start..end (1-based, inclusive) contain a letter or digit."""
    return any(_ALNUM_RE.search(lines[i]) for i in range(start - 1, end))


def trim_blank(lines: list[str], start: int, end: int) -> tuple[int, int] | None:
    """Shrink a 1-based inclusive range so it starts and ends on non-blank lines.

    Returns None when the range holds only blank lines (or is empty).
    """
    while start <= end and is_blank(lines[start - 1]):
        start += 1
    while end >= start and is_blank(lines[end - 1]):
        end -= 1
    return (start, end) if start <= end else None


def window_ranges(start: int, end: int, window_lines: int, overlap_lines: int) -> Iterator[tuple[int, int]]:
    """Yield overlapping 1-based ranges of ``window_lines`` covering start..end.

    The last window always ends at ``end``; windows never extend past it.
    """
    step = window_lines - overlap_lines
    lo = start
    while lo <= end:
        hi = min(lo + window_lines - 1, end)
        yield lo, hi
        if hi == end:
            return
        lo += step


def split_oversize(
    kind: str,
    symbol: str | None,
    lines: list[str],
    start: int,
    end: int,
    *,
    max_lines: int,
    max_chars: int,
) -> list[Chunk]:
    """Return start..end as one Chunk, or as consecutive parts within both limits.

    Parts are cut greedily (as many whole lines as fit), never overlap, and get
    ``" (part N)"`` appended to a non-None symbol. A single line longer than
    ``max_chars`` becomes its own part, truncated. Whitespace-only parts are
    dropped so a run of blank lines inside a huge definition yields no chunk.
    """
    text = "\n".join(lines[start - 1 : end])
    if end - start + 1 <= max_lines and len(text) <= max_chars:
        return [Chunk(kind, symbol, start, end, text)]

    ranges: list[tuple[int, int, str]] = []
    lo = start
    while lo <= end:
        first = lines[lo - 1]
        if len(first) > max_chars:
            ranges.append((lo, lo, first[:max_chars]))
            lo += 1
            continue
        size = len(first)
        hi = lo
        # Grow while the next line fits both limits (+1 for the joining "\n").
        while hi < end and hi - lo + 1 < max_lines:
            nxt = size + 1 + len(lines[hi])
            if nxt > max_chars:
                break
            size = nxt
            hi += 1
        ranges.append((lo, hi, "\n".join(lines[lo - 1 : hi])))
        lo = hi + 1

    parts = [r for r in ranges if r[2].strip()]
    out = []
    for n, (lo, hi, part_text) in enumerate(parts, start=1):
        part_symbol = f"{symbol} (part {n})" if symbol is not None else None
        out.append(Chunk(kind, part_symbol, lo, hi, part_text))
    return out


def window_chunks(
    kind: str,
    lines: list[str],
    start: int,
    end: int,
    *,
    window_lines: int,
    overlap_lines: int,
    max_lines: int,
    max_chars: int,
) -> list[Chunk]:
    """Cover the non-blank extent of start..end with overlapping windows.

    Whitespace-only windows are skipped; windows over ``max_chars`` are split
    (symbol stays None, windows have no name to number).
    """
    trimmed = trim_blank(lines, start, end)
    if trimmed is None:
        return []
    out: list[Chunk] = []
    for lo, hi in window_ranges(trimmed[0], trimmed[1], window_lines, overlap_lines):
        span = trim_blank(lines, lo, hi)
        if span is None:
            continue
        out.extend(split_oversize(kind, None, lines, span[0], span[1], max_lines=max_lines, max_chars=max_chars))
    return out


def text_chunks(
    lines: list[str],
    *,
    window_lines: int,
    overlap_lines: int,
    max_lines: int,
    max_chars: int,
) -> list[Chunk]:
    """Chunk a whole file as "text" windows (the fallback for unknown languages)."""
    if not lines:
        return []
    return window_chunks(
        "text",
        lines,
        1,
        len(lines),
        window_lines=window_lines,
        overlap_lines=overlap_lines,
        max_lines=max_lines,
        max_chars=max_chars,
    )
