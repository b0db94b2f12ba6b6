"""What a search can be narrowed by: a chunk's class (code, tests, docs, config, pull_request, issue),
its language and its path (a prefix or a glob). Pure functions, shared by indexing and querying."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from repo_scoping_pipelines.collectors import languages

KINDS = ("code", "tests", "docs", "config", "pull_request", "issue")
TEXT_SOURCES = ("pull_request", "issue")  # content_chunks.source values that are their own class
# Prose formats are documentation wherever they sit; data and settings formats are configuration.
PROSE_LANGUAGES = frozenset({"Markdown", "reStructuredText", "Text", "AsciiDoc"})
CONFIG_LANGUAGES = frozenset({"JSON", "YAML", "TOML", "XML", "INI", "Procfile", "Go Module", "Go Checksums"})
MAX_PATH_FILTER = 500


class FilterError(ValueError):
    """A search filter value that cannot be used; `parameter` names the query parameter."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def file_class(path: str, language: str | None, *, is_documentation: bool = False) -> str:
    """The class of an inventoried file, from its inventory flags first (linguist-documentation, the
    language the inventory detected), then the language registry's test-file naming."""
    if language in PROSE_LANGUAGES:
        return "docs"
    if languages.is_test_path(path):
        return "tests"
    if is_documentation:
        return "docs"
    if language in CONFIG_LANGUAGES or (language is None and path.rsplit("/", 1)[-1].startswith(".")):
        return "config"
    return "code"


def chunk_class(chunk: dict) -> str:
    """A stored chunk's class: PR and issue text by their source, file chunks by their file."""
    if chunk.get("source") in TEXT_SOURCES:
        return chunk["source"]
    return chunk.get("file_class") or file_class(chunk["path"], chunk.get("language"))


# --- parsing the filter parameters ---------------------------------------------------------------------


def parse_kinds(value: str | list[str] | None) -> tuple[str, ...]:
    """`code,tests` (or a list of such) -> ("code", "tests"); unknown names raise FilterError."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    kinds: list[str] = []
    for item in items:
        for part in item.split(","):
            name = part.strip().lower().replace("-", "_")
            if not name:
                continue
            if name in ("test", "pull_requests", "pr", "issues"):
                name = {"test": "tests", "pr": "pull_request", "pull_requests": "pull_request",
                        "issues": "issue"}[name]
            if name not in KINDS:
                raise FilterError("kind", f"unknown kind {part.strip()!r}; use one or more of {', '.join(KINDS)}")
            if name not in kinds:
                kinds.append(name)
    return tuple(kinds)


def parse_languages(value: str | list[str] | None) -> tuple[str, ...]:
    """Language names as the inventory stores them (any case, aliases allowed); unknown raise FilterError."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            found = languages.lookup(part)
            if found is None:
                raise FilterError("language", f"unknown language {part!r}")
            if found.name not in names:
                names.append(found.name)
    return tuple(names)


@dataclass(frozen=True)
class PathFilter:
    """A path prefix (no glob characters) or a glob: `*` within one path segment, `**` across segments,
    `?` one character, `[...]` a character class; a glob without `/` matches the file name anywhere."""

    pattern: str

    @property
    def is_glob(self) -> bool:
        return any(ch in self.pattern for ch in "*?[")

    def like(self) -> str:
        """A Milvus LIKE pattern that every matching path also matches (`_`, `%` and `*` widen it, so the
        exact test runs afterwards on the few candidates Milvus returns)."""
        if not self.is_glob:
            return self.pattern + "%"
        pattern = self.pattern if "/" in self.pattern else "**/" + self.pattern
        widened = re.sub(r"\[[^\]]*\]|\?", "_", pattern)
        widened = re.sub(r"\*+", "%", widened).replace('"', "_").replace("\\", "_")
        if widened.startswith("%/"):
            widened = "%" + widened[2:]  # "**/x" also matches "x" at the top level
        return re.sub(r"%+", "%", widened)

    def matches(self, path: str) -> bool:
        if not self.is_glob:
            return path.startswith(self.pattern)
        if "/" not in self.pattern:
            return bool(_glob_regex(self.pattern).fullmatch(path.rsplit("/", 1)[-1]))
        return bool(_glob_regex(self.pattern).fullmatch(path))


def parse_path(value: str | None) -> PathFilter | None:
    if value is None or not value.strip():
        return None
    value = value.strip().lstrip("/")
    if len(value) > MAX_PATH_FILTER:
        raise FilterError("path", f"path is longer than {MAX_PATH_FILTER} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise FilterError("path", "path holds a control character")
    if value.count("[") != value.count("]"):
        raise FilterError("path", f"path glob {value!r} has an unclosed [")
    return PathFilter(value) if value else None


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern:
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1:end]
            out.append("[" + ("^" + re.escape(body[1:]) if body.startswith(("!", "^")) else re.escape(body)) + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out))


# --- what ranking needs to know about a path -------------------------------------------------------------

_EXAMPLE_RE = re.compile(r"(^|/)(examples?|samples?|demos?|tutorials?|benchmarks?|bench)/", re.IGNORECASE)


def is_example_path(path: str) -> bool:
    return bool(_EXAMPLE_RE.search(path))
