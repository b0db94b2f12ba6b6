"""The language registry, path classification (vendored, generated, documentation, after github-linguist)
and the one decoder of file bytes to text.

Every per-language fact lives in one ``Language`` entry below: which paths it owns, whether it counts in
the language breakdown, which tree-sitter grammar parses it, how it is chunked, which import-resolution
family it belongs to and how its test files are named. The inventory, chunking, the fact extractors and
the import graph all read these entries; adding a language is adding (or ``register``-ing) one entry.
"""

from __future__ import annotations

import codecs
import importlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

CHUNKERS = ("code", "markdown", "text")  # tree-sitter definitions, heading sections, line windows
# Language families: the languages of one family share definition finders, import queries, import
# resolution, route and main extractors, and the package ecosystem their external imports come from.
FAMILY_ECOSYSTEMS = {"python": "pypi", "js": "npm", "go": "go", "java": "maven"}


@dataclass(frozen=True)
class Grammar:
    """A tree-sitter grammar, loaded lazily from its wheel (``module.function()``)."""

    name: str
    module: str
    function: str = "language"

    def load(self) -> Any:
        """The grammar's language pointer; raises when the wheel is missing."""
        return getattr(importlib.import_module(self.module), self.function)()


@dataclass(frozen=True)
class Language:
    name: str  # as the inventory stores it (linguist's name)
    extensions: tuple[str, ...] = ()  # lower-case suffixes, dot included
    filenames: tuple[str, ...] = ()  # exact file names (they win over extensions)
    name_prefixes: tuple[str, ...] = ()  # file names starting with these (Dockerfile.prod)
    aliases: tuple[str, ...] = ()  # other names a detector may report (any case)
    counted: bool = False  # in the language breakdown: programming and markup, not data or prose
    grammar: Grammar | None = None
    # (extension, language): a file with that extension that a detector calls by this language's name
    # parses with the other language's grammar (.tsx files reported as "TypeScript").
    grammar_variants: tuple[tuple[str, str], ...] = ()
    chunker: str = "text"
    family: str | None = None
    test_patterns: tuple[str, ...] = ()  # regexes of this language's test-file names
    test_language: bool = False  # its test files count in the tests fact

    def __post_init__(self) -> None:
        if self.chunker not in CHUNKERS:
            raise ValueError(f"{self.name}: unknown chunker {self.chunker!r}")
        if (self.chunker == "code") != (self.grammar is not None):
            raise ValueError(f"{self.name}: the code chunker needs a grammar, and a grammar needs it")
        if self.family is not None and self.family not in FAMILY_ECOSYSTEMS:
            raise ValueError(f"{self.name}: unknown family {self.family!r}")
        if any(not e.startswith(".") or e != e.lower() for e in self.extensions):
            raise ValueError(f"{self.name}: extensions are lower-case and start with a dot")


def _grammar(name: str, module: str | None = None, function: str = "language") -> Grammar:
    return Grammar(name, module or f"tree_sitter_{name}", function)


def _code(name: str, grammar: Grammar, family: str, **fields: Any) -> Language:
    return Language(name, counted=True, grammar=grammar, chunker="code", family=family, test_language=True,
                    **fields)


def _counted(name: str, *extensions: str, **fields: Any) -> Language:
    return Language(name, extensions, counted=True, **fields)


def _data(name: str, *extensions: str, **fields: Any) -> Language:
    return Language(name, extensions, **fields)


_BUILTIN: tuple[Language, ...] = (
    _code("Python", _grammar("python"), "python", extensions=(".py", ".pyi"),
          test_patterns=(r"(^|/)test_[^/]*\.py$", r"_test\.py$", r"(^|/)conftest\.py$")),
    _code("JavaScript", _grammar("javascript"), "js", extensions=(".js", ".mjs", ".cjs", ".jsx"), aliases=("jsx",),
          test_patterns=(r"\.(test|spec)\.(js|jsx|mjs|cjs)$",)),
    _code("TypeScript", _grammar("typescript", "tree_sitter_typescript", "language_typescript"), "js",
          extensions=(".ts", ".mts", ".cts"), grammar_variants=((".tsx", "TSX"),),
          test_patterns=(r"\.(test|spec)\.ts$",)),
    _code("TSX", _grammar("tsx", "tree_sitter_typescript", "language_tsx"), "js", extensions=(".tsx",),
          test_patterns=(r"\.(test|spec)\.tsx$",)),
    _code("Go", _grammar("go"), "go", extensions=(".go",), test_patterns=(r"_test\.go$",)),
    _code("Java", _grammar("java"), "java", extensions=(".java",), test_patterns=(r"Tests?\.java$",)),
    _counted("Kotlin", ".kt", ".kts", test_patterns=(r"Tests?\.kt$",), test_language=True),
    _counted("Scala", ".scala"),
    _counted("Ruby", ".rb", filenames=("Gemfile", "Rakefile"), test_patterns=(r"_spec\.rb$",), test_language=True),
    _counted("PHP", ".php", test_patterns=(r"Test\.php$",), test_language=True),
    _counted("Rust", ".rs", test_language=True),
    _counted("C", ".c", ".h"),
    _counted("C++", ".cc", ".cpp", ".cxx", ".hpp", ".hh"),
    _counted("C#", ".cs"),
    _counted("Swift", ".swift"),
    _counted("Objective-C", ".m"),
    _counted("Shell", ".sh", ".bash", ".zsh"),
    _counted("PowerShell", ".ps1"),
    _counted("SQL", ".sql"),
    _counted("R", ".r"),
    _counted("Lua", ".lua"),
    _counted("Perl", ".pl", ".pm"),
    _counted("Elixir", ".ex", ".exs"),
    _counted("Erlang", ".erl"),
    _counted("Haskell", ".hs"),
    _counted("Clojure", ".clj"),
    _counted("Dart", ".dart"),
    _counted("Vue", ".vue"),
    _counted("Svelte", ".svelte"),
    _counted("Groovy", ".gradle", ".groovy", filenames=("Jenkinsfile",)),
    _counted("HCL", ".tf", ".hcl"),
    _counted("Dockerfile", name_prefixes=("Dockerfile",)),
    _counted("Makefile", filenames=("Makefile", "GNUmakefile")),
    _counted("CMake", filenames=("CMakeLists.txt",)),
    _counted("HTML", ".html", ".htm"),
    _counted("CSS", ".css"),
    _counted("SCSS", ".scss"),
    _counted("Sass", ".sass"),
    _counted("Less", ".less"),
    _counted("Jupyter Notebook", ".ipynb"),
    _data("Markdown", ".md", ".markdown", chunker="markdown"),
    _data("reStructuredText", ".rst"),
    _data("Text", ".txt"),
    _data("AsciiDoc", ".adoc"),
    _data("JSON", ".json"),
    _data("YAML", ".yaml", ".yml"),
    _data("TOML", ".toml"),
    _data("XML", ".xml"),
    _data("INI", ".ini", ".cfg"),
    _data("Protocol Buffer", ".proto"),
    _data("GraphQL", ".graphql"),
    _data("Mako", ".mako"),
    _data("Jinja", ".jinja", ".j2"),
    _data("Procfile", filenames=("Procfile",)),
    _data("Go Module", filenames=("go.mod",)),
    _data("Go Checksums", filenames=("go.sum",)),
)
# Test directories and layouts of any language (the per-language file names come from the registry).
_TEST_DIRECTORIES = (r"(^|/)(tests?|__tests__|spec|specs|testing)/", r"(^|/)src/test/")


class _Index:
    """Lookups derived from one list of languages; rebuilt as a whole when the registry changes."""

    def __init__(self, languages: Iterable[Language]) -> None:
        self.languages = tuple(languages)
        self.by_name: dict[str, Language] = {}
        self.by_alias: dict[str, Language] = {}
        self.by_extension: dict[str, Language] = {}
        self.by_filename: dict[str, Language] = {}
        self.prefixes: list[tuple[str, Language]] = []
        self.grammars: dict[str, Grammar] = {}
        self.grammar_family: dict[str, str | None] = {}
        for lang in self.languages:
            _claim(self.by_name, lang.name, lang, "name")
            for alias in {lang.name.lower(), *(a.lower() for a in lang.aliases)}:
                _claim(self.by_alias, alias, lang, "name or alias")
            for ext in lang.extensions:
                _claim(self.by_extension, ext, lang, "extension")
            for filename in lang.filenames:
                _claim(self.by_filename, filename, lang, "file name")
            self.prefixes.extend((p, lang) for p in lang.name_prefixes)
            if lang.grammar is not None:
                _claim(self.grammars, lang.grammar.name, lang.grammar, "grammar", same_ok=True)
                if self.grammar_family.setdefault(lang.grammar.name, lang.family) != lang.family:
                    raise ValueError(f"grammar {lang.grammar.name!r} is shared by languages of different families")
        for lang in self.languages:
            for ext, other in lang.grammar_variants:
                if other not in self.by_name or self.by_name[other].grammar is None:
                    raise ValueError(f"{lang.name}: grammar variant {ext} names {other!r}, which has no grammar")
        self.counted = frozenset(lang.name for lang in self.languages if lang.counted)
        patterns = [*_TEST_DIRECTORIES, *(p for lang in self.languages for p in lang.test_patterns)]
        self.test_path = re.compile("|".join(patterns))


def _claim(table: dict, key: str, value: Any, what: str, same_ok: bool = False) -> None:
    if key in table and not (same_ok and table[key] == value):
        raise ValueError(f"{what} {key!r} is registered twice")
    table[key] = value


_lock = threading.Lock()
_index = _Index(_BUILTIN)
# Languages counted in language statistics (rebound when the registry changes; read it as languages.COUNTED).
COUNTED: frozenset[str] = _index.counted


def _rebuild(languages: Iterable[Language]) -> None:
    global _index, COUNTED
    index = _Index(languages)  # validates before anything changes
    _index, COUNTED = index, index.counted


def register(language: Language) -> None:
    """Add a language; ValueError when its name, an extension, a file name or a grammar is taken."""
    with _lock:
        _rebuild((*_index.languages, language))


def unregister(name: str) -> None:
    with _lock:
        _rebuild(lang for lang in _index.languages if lang.name != name)


def all_languages() -> tuple[Language, ...]:
    return _index.languages


# --- lookups ----------------------------------------------------------------------------------------------


def by_path(path: str) -> Language | None:
    """The language of a path: exact file name, then file-name prefix, then extension."""
    index = _index
    name = PurePosixPath(path).name
    if name in index.by_filename:
        return index.by_filename[name]
    for prefix, lang in index.prefixes:
        if name.startswith(prefix):
            return lang
    return index.by_extension.get(PurePosixPath(name).suffix.lower())


def language_of(path: str) -> str | None:
    lang = by_path(path)
    return lang.name if lang is not None else None


def lookup(name: str | None) -> Language | None:
    """A language by the name a detector reported (any case, aliases included)."""
    return _index.by_alias.get(name.strip().lower()) if name else None


def family(name: str | None) -> str | None:
    """The import-resolution family of a language name (python, js, go, java), or None."""
    lang = lookup(name)
    return lang.family if lang is not None else None


def family_members(name: str) -> set[str]:
    """The languages resolved like this one (JavaScript: JavaScript, TypeScript, TSX); itself alone when it has
    no family."""
    own = family(name)
    if own is None:
        return {name}
    return {lang.name for lang in _index.languages if lang.family == own}


def extensions_of_family(family_name: str) -> tuple[str, ...]:
    return tuple(ext for lang in _index.languages if lang.family == family_name for ext in lang.extensions)


def chunker_for(language: str | None) -> str:
    lang = lookup(language)
    return lang.chunker if lang is not None else "text"


def grammar_for(path: str, language: str | None) -> str | None:
    """The tree-sitter grammar that parses a file a detector called `language`, or None."""
    lang = lookup(language)
    if lang is None or lang.grammar is None:
        return None
    lowered = path.lower()
    for ext, other in lang.grammar_variants:
        if lowered.endswith(ext):
            return _index.by_name[other].grammar.name  # type: ignore[union-attr]
    return lang.grammar.name


def grammar_family(grammar: str) -> str | None:
    """The family of the languages a grammar parses (definition finders, import queries, routes)."""
    return _index.grammar_family.get(grammar)


_loaded: dict[Grammar, Any] = {}


def tree_sitter_language(grammar: str) -> Any:
    """The tree-sitter Language of a registered grammar, loaded once per process; None when it is unknown
    or its wheel is missing (its files then fall back to line windows)."""
    spec = _index.grammars.get(grammar)
    if spec is None:
        return None
    if spec in _loaded:
        return _loaded[spec]
    with _lock:
        if spec not in _loaded:
            try:
                from tree_sitter import Language as TreeSitterLanguage

                _loaded[spec] = TreeSitterLanguage(spec.load())
            except Exception:  # missing wheel or ABI mismatch
                _loaded[spec] = None
        return _loaded[spec]


def is_test_language(name: str | None) -> bool:
    lang = lookup(name)
    return lang is not None and lang.test_language


def is_test_path(path: str) -> bool:
    """A test file or fixture by its path: a test directory, or a language's test-file naming."""
    return bool(_index.test_path.search(path))


# --- path classification ------------------------------------------------------------------------------------

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


def is_vendored(path: str) -> bool:
    return bool(_VENDORED.search(path))


def is_generated(path: str) -> bool:
    return bool(_GENERATED.search(path))


def is_documentation(path: str) -> bool:
    return bool(_DOCUMENTATION.search(path))


# --- file content -------------------------------------------------------------------------------------------

BINARY_SNIFF_BYTES = 8000


def is_binary(data: bytes) -> bool:
    """git's heuristic: a NUL byte in the first 8000 bytes means binary."""
    return b"\0" in data[:BINARY_SNIFF_BYTES]


def decode_text(data: bytes, *, strict: bool = False) -> str | None:
    """A file's text, or None when it is binary or not text we can read.

    A UTF-8 or UTF-16 byte-order mark picks that encoding (the mark is dropped); otherwise it is UTF-8.
    Lenient (the default: line counts, chunks) replaces a few undecodable bytes with U+FFFD and gives up
    beyond max(8, 1%) of them; ``strict`` (fact extraction, where mojibake would become wrong facts)
    gives up on any.
    """
    if is_binary(data):
        return None
    errors = "strict" if strict else "replace"
    try:
        if data.startswith(codecs.BOM_UTF8):
            text = data[len(codecs.BOM_UTF8):].decode("utf-8", errors)
        elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16", errors)
        else:
            text = data.decode("utf-8", errors)
    except UnicodeDecodeError:
        return None
    if not strict and text.count("\ufffd") > max(8, len(text) // 100):
        return None
    return text
