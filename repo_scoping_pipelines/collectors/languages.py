"""Language, documentation, vendored and generated classification of paths (after github-linguist)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

EXTENSIONS = {
    ".py": "Python", ".pyi": "Python", ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript",
    ".jsx": "JavaScript", ".ts": "TypeScript", ".mts": "TypeScript", ".cts": "TypeScript", ".tsx": "TSX",
    ".go": "Go", ".java": "Java", ".kt": "Kotlin", ".kts": "Kotlin", ".scala": "Scala", ".rb": "Ruby",
    ".php": "PHP", ".rs": "Rust", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".cxx": "C++",
    ".hpp": "C++", ".hh": "C++", ".cs": "C#", ".swift": "Swift", ".m": "Objective-C", ".sh": "Shell",
    ".bash": "Shell", ".zsh": "Shell", ".ps1": "PowerShell", ".sql": "SQL", ".r": "R", ".lua": "Lua",
    ".pl": "Perl", ".pm": "Perl", ".ex": "Elixir", ".exs": "Elixir", ".erl": "Erlang", ".hs": "Haskell",
    ".clj": "Clojure", ".dart": "Dart", ".vue": "Vue", ".svelte": "Svelte", ".html": "HTML", ".htm": "HTML",
    ".css": "CSS", ".scss": "SCSS", ".sass": "Sass", ".less": "Less", ".md": "Markdown", ".markdown": "Markdown",
    ".rst": "reStructuredText", ".txt": "Text", ".adoc": "AsciiDoc", ".json": "JSON", ".yaml": "YAML",
    ".yml": "YAML", ".toml": "TOML", ".xml": "XML", ".ini": "INI", ".cfg": "INI", ".proto": "Protocol Buffer",
    ".graphql": "GraphQL", ".tf": "HCL", ".hcl": "HCL", ".gradle": "Groovy", ".groovy": "Groovy",
    ".ipynb": "Jupyter Notebook", ".mako": "Mako", ".jinja": "Jinja", ".j2": "Jinja",
}
FILENAMES = {
    "Dockerfile": "Dockerfile", "Makefile": "Makefile", "GNUmakefile": "Makefile", "Gemfile": "Ruby",
    "Rakefile": "Ruby", "Procfile": "Procfile", "Jenkinsfile": "Groovy", "CMakeLists.txt": "CMake",
    "go.mod": "Go Module", "go.sum": "Go Checksums",
}
# Languages counted as code in language statistics (linguist's "programming" type).
PROGRAMMING = {
    "Python", "JavaScript", "TypeScript", "TSX", "Go", "Java", "Kotlin", "Scala", "Ruby", "PHP", "Rust", "C",
    "C++", "C#", "Swift", "Objective-C", "Shell", "PowerShell", "SQL", "R", "Lua", "Perl", "Elixir", "Erlang",
    "Haskell", "Clojure", "Dart", "Vue", "Svelte", "Groovy", "HCL", "Dockerfile", "Makefile", "CMake",
}

# Counted in language statistics: programming plus markup/style languages (not data formats or prose).
COUNTED = PROGRAMMING | {"HTML", "CSS", "SCSS", "Sass", "Less", "Jupyter Notebook"}

_VENDORED = re.compile(
    r"(^|/)(node_modules|bower_components|vendor|vendors|third[_-]?party|external|deps|\.venv|venv|site-packages"
    r"|Pods|Carthage|\.yarn|jspm_packages)/"
    r"|(^|/)[^/]*\.min\.(js|css)$|(^|/)jquery[^/]*\.js$|(^|/)\.github/|(^|/)\.idea/|(^|/)\.vscode/"
)
_GENERATED = re.compile(
    r"(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|Pipfile\.lock|Cargo\.lock|composer\.lock"
    r"|Gemfile\.lock|go\.sum|uv\.lock)$"
    r"|_pb2(_grpc)?\.py$|\.pb\.go$|\.pb\.(cc|h)$|\.generated\.\w+$|(^|/)(dist|build|target|out)/"
    r"|\.map$|(^|/)__generated__/"
)
_DOCUMENTATION = re.compile(
    # Like linguist's documentation.yml, docs/examples/samples folders count only at the top level:
    # src/main/java/org/example/samples/ (a Java package) is code.
    r"^(docs?|examples?|samples?|demos?|man)/|(^|/)(Documentation|javadoc|groovydoc)/"
    r"|(^|/)(README|CHANGELOG|CHANGES|HISTORY|CONTRIBUTING"
    r"|AUTHORS|LICENSE|LICENCE|COPYING|NOTICE|CODE_OF_CONDUCT|SECURITY)(\.[^/]*)?$",
    re.IGNORECASE,
)


def language_of(path: str) -> str | None:
    p = PurePosixPath(path)
    if p.name in FILENAMES:
        return FILENAMES[p.name]
    if p.name.startswith("Dockerfile"):
        return "Dockerfile"
    return EXTENSIONS.get(p.suffix.lower())


def is_vendored(path: str) -> bool:
    return bool(_VENDORED.search(path))


def is_generated(path: str) -> bool:
    return bool(_GENERATED.search(path))


def is_documentation(path: str) -> bool:
    return bool(_DOCUMENTATION.search(path))


def is_binary_content(head: bytes) -> bool:
    """git's heuristic: a NUL byte in the first 8000 bytes means binary."""
    return b"\0" in head[:8000]
