"""Split source files into retrieval-sized chunks with exact line spans.

``chunk_file`` picks a strategy by language, as the language registry
(collectors/languages.py) says: tree-sitter definitions for code, heading
sections for Markdown, overlapping line windows for everything else.
Every chunk satisfies ``chunk.text == "\\n".join(text.splitlines()[start-1:end])``
(except a single over-long line, which is truncated to ``max_chars``).
"""

from __future__ import annotations

from repo_scoping_pipelines.chunking.code import chunk_code
from repo_scoping_pipelines.chunking.markdown import chunk_markdown
from repo_scoping_pipelines.chunking.windows import Chunk, check_limits, text_chunks
from repo_scoping_pipelines.collectors import languages

__all__ = ["Chunk", "chunk_file"]


def chunk_file(
    path: str,
    text: str,
    language: str | None,
    *,
    max_lines: int = 120,
    max_chars: int = 6000,
    window_lines: int = 60,
    overlap_lines: int = 10,
) -> list[Chunk]:
    """Chunk one file's text; never raises on odd input, returns [] for blank files.

    Raises ValueError only for nonsensical limits (e.g. overlap >= window).
    """
    check_limits(max_lines, max_chars, window_lines, overlap_lines)
    lines = text.splitlines()
    if not text.strip():
        return []
    chunker = languages.chunker_for(language)
    if chunker == "markdown":
        return chunk_markdown(lines, max_lines=max_lines, max_chars=max_chars)
    grammar = languages.grammar_for(path, language) if chunker == "code" else None
    if grammar is not None:
        chunks = chunk_code(
            lines,
            grammar,
            max_lines=max_lines,
            max_chars=max_chars,
            window_lines=window_lines,
            overlap_lines=overlap_lines,
        )
        if chunks is not None:
            return chunks
    return text_chunks(
        lines,
        window_lines=window_lines,
        overlap_lines=overlap_lines,
        max_lines=max_lines,
        max_chars=max_chars,
    )
