"""Markdown chunking: one "section" chunk per ATX heading."""

from __future__ import annotations

import re

from repo_scoping_pipelines.chunking.windows import Chunk, split_oversize, trim_blank

# CommonMark ATX heading: up to 3 spaces of indent, 1-6 "#", then a space/tab
# or end of line ("#hashtag" is not a heading).
_HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
# An optional closing sequence of "#"s, which is decoration, not title.
_CLOSING_RE = re.compile(r"(?:^|[ \t]+)#+$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """Return (1-based line, level, title) for every ATX heading outside code fences."""
    found: list[tuple[int, int, str]] = []
    fence: str | None = None
    i = 0
    # YAML front matter may hold "# comments" that must not become headings.
    if lines and lines[0].strip() == "---":
        for j in range(1, len(lines)):
            if lines[j].strip() in ("---", "..."):
                i = j + 1
                break
    while i < len(lines):
        line = lines[i]
        fence_match = _FENCE_RE.match(line)
        if fence is not None:
            # A closing fence uses the same character, at least as many, no info string.
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
                and not fence_match.group(2).strip()
            ):
                fence = None
        elif fence_match and not (fence_match.group(1)[0] == "`" and "`" in fence_match.group(2)):
            fence = fence_match.group(1)
        else:
            heading = _HEADING_RE.match(line)
            if heading:
                title = _CLOSING_RE.sub("", heading.group(2) or "").strip()
                found.append((i + 1, len(heading.group(1)), title))
        i += 1
    return found


def chunk_markdown(lines: list[str], *, max_lines: int, max_chars: int) -> list[Chunk]:
    """Split a Markdown document into heading sections.

    Text before the first heading is a section with symbol None; each heading's
    symbol is its path of enclosing headings joined by " > ".
    """
    headings = _headings(lines)
    out: list[Chunk] = []
    first = headings[0][0] if headings else len(lines) + 1
    preamble = trim_blank(lines, 1, first - 1)
    if preamble is not None:
        out.extend(split_oversize("section", None, lines, *preamble, max_lines=max_lines, max_chars=max_chars))

    stack: list[tuple[int, str]] = []
    for n, (line_no, level, title) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        symbol = " > ".join(t for _, t in stack if t) or None
        end = headings[n + 1][0] - 1 if n + 1 < len(headings) else len(lines)
        span = trim_blank(lines, line_no, end)
        if span is not None:
            out.extend(split_oversize("section", symbol, lines, *span, max_lines=max_lines, max_chars=max_chars))
    return out
