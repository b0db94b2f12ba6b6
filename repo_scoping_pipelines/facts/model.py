"""The shapes every fact extractor returns: a Fact with its evidence, and one file's extraction."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

# Every kind of fact the extractors produce; the API validates ?kind= against this list.
KINDS = (
    "language", "manifest", "dependency", "locked_dependency", "framework", "entry_point", "route", "ci_job",
    "dockerfile", "compose_service", "helm_chart", "license", "tests", "documentation", "codeowners",
    "http_call",
)


@dataclass(frozen=True)
class Fact:
    """One observation about a repository and the file and line (1-based) that prove it."""

    kind: str
    subject: str
    value: Any  # JSON-able
    path: str
    line: int
    confidence: float = 1.0

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Fact:
        return cls(**{k: data[k] for k in ("kind", "subject", "value", "path", "line", "confidence")})


@dataclass(frozen=True)
class Import:
    """One import statement: `module` as written (relative dots kept in `level`), and its line."""

    module: str
    line: int
    level: int = 0  # Python relative import depth (from .. import x -> 2)
    names: tuple[str, ...] = ()  # from m import a, b -> ("a", "b")

    def as_dict(self) -> dict:
        return {"module": self.module, "line": self.line, "level": self.level, "names": list(self.names)}

    @classmethod
    def from_dict(cls, data: dict) -> Import:
        return cls(data["module"], data["line"], data.get("level", 0), tuple(data.get("names", ())))


@dataclass
class FileExtraction:
    """What one file yields: facts, imports (for the graph and framework detection), warnings."""

    facts: list[Fact] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    declares: str | None = None  # Java package / Go package name the file declares
    warnings: list[str] = field(default_factory=list)
    # Cyclomatic complexity of a parsed source file (insight/complexity.py), kept with the extraction
    # so that change_insight reads it instead of parsing every file again.
    complexity: int | None = None

    def as_json(self) -> dict:
        return {"facts": [f.as_dict() for f in self.facts], "imports": [i.as_dict() for i in self.imports],
                "declares": self.declares, "warnings": list(self.warnings), "complexity": self.complexity}

    @classmethod
    def from_json(cls, data: dict) -> FileExtraction:
        return cls(facts=[Fact.from_dict(f) for f in data.get("facts", [])],
                   imports=[Import.from_dict(i) for i in data.get("imports", [])],
                   declares=data.get("declares"), warnings=list(data.get("warnings", [])),
                   complexity=data.get("complexity"))


class Lines:
    """Find the 1-based line of things in a text whose parser gives no positions (tomllib, json)."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")

    def find(self, pattern: str | re.Pattern, start: int = 1, end: int | None = None) -> int | None:
        """First line in [start, end] matching a regex (a str is matched literally)."""
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        stop = len(self.lines) if end is None else min(end, len(self.lines))
        for number in range(max(start, 1), stop + 1):
            if regex.search(self.lines[number - 1]):
                return number
        return None

    def first(self, *patterns: str | re.Pattern, start: int = 1, end: int | None = None, default: int = 1) -> int:
        for pattern in patterns:
            found = self.find(pattern, start, end)
            if found is not None:
                return found
        return default


def quoted(value: str) -> re.Pattern:
    """A regex for `value` as a quoted string literal ("value" or 'value')."""
    return re.compile(r"""["']""" + re.escape(value) + r"""["']""")


def key_pattern(key: str) -> re.Pattern:
    """A regex for `key` as a TOML/INI/YAML key at the start of a line (bare or quoted)."""
    return re.compile(r"""^\s*["']?""" + re.escape(key) + r"""["']?\s*[=:]""")
