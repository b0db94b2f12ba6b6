"""The language registry (collectors/languages.py) is the one place that says what a language is, and
decode_text the one decoder of file bytes: plain Python, no database."""

from __future__ import annotations

import codecs
from collections import Counter

import pytest
from tree_sitter import Parser

from repo_scoping_pipelines.chunking import chunk_file
from repo_scoping_pipelines.collectors import inventory, languages
from repo_scoping_pipelines.collectors.git import TreeEntry
from repo_scoping_pipelines.collectors.languages import Language, decode_text
from repo_scoping_pipelines.facts import extract, license_docs_tests
from repo_scoping_pipelines.facts.graph import _js_extensions, build_graph
from repo_scoping_pipelines.facts.languages import language_facts
from repo_scoping_pipelines.facts.license_docs_tests import is_test_file

# --- what the six tables said before there was a registry (issue 12): the registry must say the same ----

LANGUAGE_OF = {
    "a.py": "Python", "a.pyi": "Python", "a.mjs": "JavaScript", "a.cjs": "JavaScript", "a.jsx": "JavaScript",
    "a.mts": "TypeScript", "a.cts": "TypeScript", "a.d.ts": "TypeScript", "a.tsx": "TSX", "A.JAVA": "Java",
    "a.kts": "Kotlin", "a.h": "C", "a.hh": "C++", "a.m": "Objective-C", "a.zsh": "Shell", "a.R": "R",
    "a.exs": "Elixir", "a.htm": "HTML", "a.markdown": "Markdown", "a.rst": "reStructuredText", "a.txt": "Text",
    "a.cfg": "INI", "a.proto": "Protocol Buffer", "a.tf": "HCL", "a.gradle": "Groovy", "a.ipynb": "Jupyter Notebook",
    "a.j2": "Jinja", "Dockerfile": "Dockerfile", "web/Dockerfile.prod": "Dockerfile", "Dockerfile.md": "Dockerfile",
    "GNUmakefile": "Makefile", "Gemfile": "Ruby", "Rakefile": "Ruby", "Jenkinsfile": "Groovy",
    "CMakeLists.txt": "CMake", "Procfile": "Procfile", "go.mod": "Go Module", "go.sum": "Go Checksums",
    "makefile": None, "a.unknown": None, "LICENSE": None, "a": None,
}
COUNTED = {
    "Python", "JavaScript", "TypeScript", "TSX", "Go", "Java", "Kotlin", "Scala", "Ruby", "PHP", "Rust", "C",
    "C++", "C#", "Swift", "Objective-C", "Shell", "PowerShell", "SQL", "R", "Lua", "Perl", "Elixir", "Erlang",
    "Haskell", "Clojure", "Dart", "Vue", "Svelte", "Groovy", "HCL", "Dockerfile", "Makefile", "CMake",
    "HTML", "CSS", "SCSS", "Sass", "Less", "Jupyter Notebook",
}
# (path, language as a detector reported it) -> tree-sitter grammar
GRAMMAR_FOR = {
    ("a.py", "Python"): "python", ("weird", "python"): "python", ("a.js", " JavaScript "): "javascript",
    ("a.jsx", "JSX"): "javascript", ("a.ts", "TypeScript"): "typescript", ("A.TSX", "TypeScript"): "tsx",
    ("a.tsx", "TSX"): "tsx", ("a.ts", "JavaScript"): "javascript", ("a.go", "Go"): "go", ("a.java", "Java"): "java",
    ("a.md", "Markdown"): None, ("a.rb", "Ruby"): None, ("a.py", None): None, ("a.py", ""): None,
}
FAMILIES = {"Python": "python", "JavaScript": "js", "TypeScript": "js", "TSX": "js", "Go": "go", "Java": "java",
            "Kotlin": None, "Ruby": None, "Markdown": None}
TEST_LANGUAGES = {"Python", "JavaScript", "TypeScript", "TSX", "Go", "Java", "Kotlin", "Ruby", "PHP", "Rust"}
TEST_PATHS = {
    "tests/data.json": True, "pkg/__tests__/a.js": True, "spec/a.rb": True, "testing/x": True,
    "src/test/java/A.java": True, "test_a.py": True, "pkg/test_a.py": True, "a_test.py": True, "a_test.go": True,
    "conftest.py": True, "a.test.js": True, "a.spec.jsx": True, "a.test.mjs": True, "a.spec.cjs": True,
    "a.test.ts": True, "a.spec.tsx": True, "ATest.java": True, "ATests.kt": True, "a_spec.rb": True,
    "ATest.php": True, "a.test.mts": False, "test_a.go": False, "latest.py": False, "contest.py": False,
    "src/testdata.py": False, "a_test.rb": False,
}


@pytest.mark.parametrize(("path", "language"), LANGUAGE_OF.items())
def test_language_of_paths_as_before(path, language):
    assert languages.language_of(path) == language


def test_counted_languages_as_before():
    assert languages.COUNTED == COUNTED
    assert {lang.name for lang in languages.all_languages() if lang.counted} == COUNTED


@pytest.mark.parametrize(("key", "grammar"), GRAMMAR_FOR.items())
def test_grammar_for_as_before(key, grammar):
    assert languages.grammar_for(*key) == grammar


def test_families_test_languages_and_test_paths_as_before():
    assert {name: languages.family(name) for name in FAMILIES} == FAMILIES
    assert {lang.name for lang in languages.all_languages() if languages.is_test_language(lang.name)} == TEST_LANGUAGES
    assert languages.family_members("JavaScript") == {"JavaScript", "TypeScript", "TSX"}
    assert languages.family_members("Ruby") == {"Ruby"}
    assert {path: is_test_file(path) for path in TEST_PATHS} == TEST_PATHS
    # A relative JS/TS import probes TypeScript first, then the family's other extensions, then typings.
    assert _js_extensions() == (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".d.ts")


# --- the registry is consistent --------------------------------------------------------------------------------


def test_every_extension_and_file_name_has_exactly_one_language():
    owners = Counter(key for lang in languages.all_languages() for key in (*lang.extensions, *lang.filenames))
    assert owners and all(n == 1 for n in owners.values()), [k for k, n in owners.items() if n > 1]
    for lang in languages.all_languages():
        for ext in lang.extensions:
            assert languages.by_path(f"src/x{ext}") is lang
        for name in lang.filenames:
            assert languages.by_path(f"sub/{name}") is lang
    names = [lang.name for lang in languages.all_languages()]
    assert len(names) == len(set(names))


def test_a_conflicting_registration_is_refused_and_changes_nothing():
    before = languages.all_languages()
    with pytest.raises(ValueError, match=r"extension '\.py'"):
        languages.register(Language("Snake", (".snk", ".py")))
    with pytest.raises(ValueError, match="name or alias 'jsx'"):
        languages.register(Language("JSX"))
    with pytest.raises(ValueError, match="needs a grammar"):
        Language("Broken", (".brk",), chunker="code")
    assert languages.all_languages() == before and languages.language_of("a.snk") is None


SAMPLES = {  # grammar -> (a file with one function, the root node type)
    "python": ("def f():\n    return 1\n", "module"),
    "javascript": ("function f() {\n  return <div />;\n}\n", "program"),
    "typescript": ("function f(): number {\n  return 1 as number;\n}\n", "program"),
    "tsx": ("function f(): JSX.Element {\n  return <div />;\n}\n", "program"),
    "go": ("package main\n\nfunc f() int {\n\treturn 1\n}\n", "source_file"),
    "java": ("class A {\n  int f() {\n    return 1;\n  }\n}\n", "program"),
}


def test_every_grammar_has_a_sample():
    grammars = {lang.grammar.name for lang in languages.all_languages() if lang.grammar is not None}
    assert grammars == set(SAMPLES)


@pytest.mark.parametrize("grammar", sorted(SAMPLES))
def test_every_grammar_parses_its_sample(grammar):
    source, root_type = SAMPLES[grammar]
    language = languages.tree_sitter_language(grammar)
    assert language is not None, f"tree-sitter grammar {grammar} is not installed"
    root = Parser(language).parse(source.encode()).root_node
    assert root.type == root_type and not root.has_error


@pytest.mark.parametrize("lang", [lang for lang in languages.all_languages() if lang.grammar is not None],
                         ids=lambda lang: lang.name)
def test_every_code_extension_is_chunked_by_its_grammar(lang):
    """path -> language -> grammar -> chunker, all from the registry: a function becomes a definition chunk."""
    for ext in lang.extensions:
        path = f"src/sample{ext}"
        detected = languages.language_of(path)
        source = SAMPLES[languages.grammar_for(path, detected)][0]
        kinds = {c.kind for c in chunk_file(path, source, detected)}
        assert kinds & {"function", "class", "method"}, (path, kinds)
        assert extract.family_of(_record(path, detected)) == "code"


def test_what_chunking_treats_as_code_is_what_the_registry_says():
    for lang in languages.all_languages():
        source = SAMPLES[lang.grammar.name][0] if lang.grammar is not None else "# Title\n\ndef f():\n    pass\n"
        kinds = {c.kind for c in chunk_file("x", source, lang.name)}
        expected = {"code": {"function", "class"}, "markdown": {"section"}, "text": {"text"}}[lang.chunker]
        assert kinds & expected and kinds <= expected | {"module", "method"}, (lang.name, kinds)
        assert (extract.family_of(_record("x", lang.name)) == "code") == (lang.chunker == "code"), lang.name


# --- one registration reaches the inventory, chunking, facts and the graph ------------------------------------


def _record(path: str, language: str | None, **flags) -> dict:
    return {"path": path, "language": language, "is_vendored": False, "is_generated": False,
            "is_documentation": False, "is_binary": False, "is_symlink": False, "lines": 3, **flags}


@pytest.fixture
def snakelet():
    python = languages.lookup("Python")
    lang = Language("Snakelet", (".snk",), filenames=("Snakefile",), counted=True, grammar=python.grammar,
                    chunker="code", family="python", test_patterns=(r"_check\.snk$",), test_language=True)
    languages.register(lang)
    try:
        yield lang
    finally:
        languages.unregister("Snakelet")


def test_a_registered_language_is_picked_up_everywhere(snakelet, tmp_path):
    source = "import os\nfrom app import util\n\n\nclass A:\n    def m(self):\n        return 1\n"
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.snk").write_text(source)
    (tmp_path / "Snakefile").write_text("rule all:\n")
    entries = [TreeEntry("Snakefile", "100644", "0" * 40, 10), TreeEntry("app/main.snk", "100644", "1" * 40, 70)]
    records = {r.path: r for r in inventory.build_inventory(tmp_path, entries, {}, max_file_bytes=10_000)}
    assert records["app/main.snk"].language == "Snakelet" and records["app/main.snk"].lines == 7
    assert records["Snakefile"].language == "Snakelet"

    chunks = chunk_file("app/main.snk", source, "snakelet")
    assert ("method", "A.m") in {(c.kind, c.symbol) for c in chunks}

    record = _record("app/main.snk", "Snakelet", lines=7)
    assert extract.family_of(record) == "code"
    extraction = extract.extract_file("app/main.snk", "code", source, "Snakelet")
    assert [i.module for i in extraction.imports] == ["os", "app"]
    graph = build_graph([record], {"app/main.snk": extraction})
    assert {n["id"]: n["kind"] for n in graph.nodes} == {"app/main.snk": "module", "python:os": "stdlib",
                                                         "python:app": "external"}

    assert "Snakelet" in languages.COUNTED
    assert [f.subject for f in language_facts([record])] == ["Snakelet"]
    assert is_test_file("app/main_check.snk")
    tests = license_docs_tests.tests_facts([_record("app/main_check.snk", "Snakelet")], {}, [])
    assert tests[0].value["by_language"] == {"Snakelet": 1}


def test_unregistering_takes_the_language_back_out(snakelet):
    assert languages.language_of("a.snk") == "Snakelet"
    languages.unregister("Snakelet")
    assert languages.language_of("a.snk") is None and "Snakelet" not in languages.COUNTED
    assert languages.grammar_for("a.snk", "Snakelet") is None and not is_test_file("a_check.snk")
    assert {c.kind for c in chunk_file("a.snk", "def f():\n    pass\n", "Snakelet")} == {"text"}


# --- one text decoder -------------------------------------------------------------------------------------------


def test_the_inventory_indexing_and_facts_share_the_decoder(monkeypatch):
    assert inventory.decode_text is decode_text
    calls = []
    monkeypatch.setattr(languages, "decode_text", lambda data, **kw: calls.append(kw) or "x")
    assert extract.decode(b"a") == "x" and calls == [{"strict": True}]


@pytest.mark.parametrize("strict", [False, True])
def test_binary_is_none(strict):
    assert decode_text(b"PK\x03\x04\x00\x00text", strict=strict) is None
    assert decode_text(b"\xef\xbb\xbfa\x00b", strict=strict) is None
    assert decode_text(b"a" * 8000 + b"\x00", strict=strict) == "a" * 8000 + "\x00"  # git looks at 8000 bytes
    assert languages.is_binary(b"\x89PNG\r\n\x1a\n\x00") and not languages.is_binary(b"plain")


@pytest.mark.parametrize("strict", [False, True])
def test_utf8_and_byte_order_marks(strict):
    assert decode_text("café ✓\n".encode(), strict=strict) == "café ✓\n"
    assert decode_text(b"", strict=strict) == ""
    assert decode_text(codecs.BOM_UTF8 + b"name = 1\n", strict=strict) == "name = 1\n"
    cjk = "中文字符" * 3  # UTF-16 without NUL bytes ("\n" would be one): not binary
    assert decode_text(codecs.BOM_UTF16_LE + cjk.encode("utf-16-le"), strict=strict) == cjk
    assert decode_text(codecs.BOM_UTF16_BE + cjk.encode("utf-16-be"), strict=strict) == cjk


def test_latin1_is_replaced_leniently_and_refused_strictly():
    latin1 = "café = 1\n".encode("latin-1")
    assert decode_text(latin1) == "caf\ufffd = 1\n"  # a few bad bytes: line counts and chunks still work
    assert decode_text(latin1, strict=True) is None  # facts never read mojibake
    assert extract.decode(latin1) is None
    noisy = b"# caf\xe9 \xff\xfe\n" + b"\xff\xfe\xfd" * 400 + b"\ndef broken():\n    pass\n"
    assert decode_text(noisy) is None  # more than max(8, 1%) replaced: not text we can read
    assert decode_text(b"x" * 900 + b"\xff" * 10) is None and decode_text(b"x" * 900 + b"\xff" * 9) is not None
