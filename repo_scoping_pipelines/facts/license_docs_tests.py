"""License (SPDX id from the license file or the manifest), documentation (README sections, docs folder)
and tests (framework, number of test files)."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import PurePosixPath

from ..chunking.markdown import _headings as markdown_headings
from ..collectors import languages
from .model import Fact, FileExtraction, Import

# --- license -----------------------------------------------------------------------------------------

_LICENSE_FILE = re.compile(r"^(LICEN[CS]E|COPYING|UNLICENSE)([-._][^/]*)?$", re.IGNORECASE)
# (SPDX id, line anchor, phrases that must all occur in the whitespace-normalised, lowercased text,
#  phrases that must not). Ordered from most to least specific.
_SIGNATURES: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("AGPL-3.0-only", r"GNU AFFERO GENERAL PUBLIC LICENSE", ("gnu affero general public license", "version 3"), ()),
    ("LGPL-3.0-only", r"GNU LESSER GENERAL PUBLIC LICENSE", ("gnu lesser general public license", "version 3"), ()),
    ("LGPL-2.1-only", r"GNU LESSER GENERAL PUBLIC LICENSE", ("gnu lesser general public license", "version 2.1"), ()),
    ("GPL-3.0-only", r"GNU GENERAL PUBLIC LICENSE", ("gnu general public license", "version 3, 29 june 2007"), ()),
    ("GPL-2.0-only", r"GNU GENERAL PUBLIC LICENSE", ("gnu general public license", "version 2, june 1991"), ()),
    ("Apache-2.0", r"Apache License", ("apache license", "version 2.0"), ()),
    ("MPL-2.0", r"Mozilla Public License", ("mozilla public license", "2.0"), ()),
    ("EPL-2.0", r"Eclipse Public License", ("eclipse public license", "2.0"), ()),
    ("BSL-1.0", r"Boost Software License", ("boost software license",), ()),
    ("CC0-1.0", r"CC0 1\.0", ("cc0 1.0 universal",), ()),
    ("Unlicense", r"free and unencumbered", ("this is free and unencumbered software released into the public domain",),
     ()),
    ("ISC", r"Permission to use, copy, modify", ("permission to use, copy, modify, and/or distribute this software for any "
                                                 "purpose with or without fee is hereby granted",), ()),
    ("MIT", r"Permission is hereby granted", ("permission is hereby granted, free of charge, to any person obtaining a copy",
                                              "the above copyright notice and this permission notice shall be included"),
     ()),
    ("BSD-3-Clause", r"Redistribution and use", ("redistribution and use in source and binary forms",
                                                 "neither the name of"), ("advertising materials",)),
    ("BSD-3-Clause", r"Redistribution and use", ("redistribution and use in source and binary forms",
                                                 "may not be used to endorse or promote"), ("advertising materials",)),
    ("BSD-2-Clause", r"Redistribution and use", ("redistribution and use in source and binary forms",),
     ("advertising materials", "endorse or promote")),
]
_SPDX_HEADER = re.compile(r"SPDX-License-Identifier:\s*([A-Za-z0-9.+\- ()]+?)\s*(\*/|-->|$)")


def is_license_file(path: str) -> bool:
    return "/" not in path and bool(_LICENSE_FILE.match(path))


def license_file_facts(path: str, text: str) -> list[Fact]:
    """The SPDX id a root license file's text matches (or its SPDX-License-Identifier line)."""
    lines = text.split("\n")
    for number, line in enumerate(lines[:20], 1):
        header = _SPDX_HEADER.search(line)
        if header:
            spdx, known = normalize_spdx(header.group(1))
            return [Fact("license", spdx, {"spdx": spdx, "source": "spdx_header", "file": path}, path, number,
                         0.95 if known else 0.6)]
    normalized = re.sub(r"\s+", " ", text.lower().replace("*", " ").replace("#", " "))
    for spdx, anchor, required, forbidden in _SIGNATURES:
        if all(p in normalized for p in required) and not any(p in normalized for p in forbidden):
            regex = re.compile(anchor, re.IGNORECASE)
            line = next((n for n, text_line in enumerate(lines, 1) if regex.search(text_line)), 1)
            return [Fact("license", spdx, {"spdx": spdx, "source": "license_file", "file": path}, path, line, 0.9)]
    title = next((n for n, text_line in enumerate(lines, 1) if text_line.strip()), 1)
    return [Fact("license", "NOASSERTION", {"spdx": "NOASSERTION", "source": "license_file", "file": path},
                 path, title, 0.3)]


@lru_cache(maxsize=1)
def _licensing():
    try:
        from license_expression import get_spdx_licensing
    except ImportError:  # optional: without it, declared ids are kept as written
        return None
    return get_spdx_licensing()


def normalize_spdx(expression: str) -> tuple[str, bool]:
    """(canonical SPDX expression, whether every id in it is a known SPDX id)."""
    expression = expression.strip()
    licensing = _licensing()
    if licensing is None:
        return expression, False
    try:
        parsed = licensing.parse(expression, validate=False)
        unknown = licensing.unknown_license_keys(parsed)
        return str(parsed.render("{symbol.key}")) if parsed is not None else expression, not unknown
    except Exception:  # not an expression at all ("BSD-like", "see LICENSE")
        return expression, False


def declared_license_fact(expression: str, path: str, line: int) -> list[Fact]:
    spdx, known = normalize_spdx(expression)
    if not spdx:
        return []
    return [Fact("license", spdx, {"spdx": spdx if known else None, "declared": expression, "source": "manifest",
                                   "file": path}, path, line, 0.95 if known else 0.5)]


# --- documentation -----------------------------------------------------------------------------------

_README = re.compile(r"^README(\.(md|markdown|rst|txt))?$", re.IGNORECASE)
_DOCS_DIR = re.compile(r"^(docs?|documentation)/", re.IGNORECASE)
_DOC_GENERATORS = {"mkdocs.yml": "MkDocs", "mkdocs.yaml": "MkDocs", "docs/conf.py": "Sphinx", "doc/conf.py": "Sphinx",
                   "docs/source/conf.py": "Sphinx", "docusaurus.config.js": "Docusaurus",
                   "docusaurus.config.ts": "Docusaurus", "book.toml": "mdBook", "antora.yml": "Antora"}


def is_readme(path: str) -> bool:
    return "/" not in path and bool(_README.match(path))


def readme_facts(path: str, text: str) -> list[Fact]:
    """One fact per section heading (levels 1-3) of a root README, Markdown or reStructuredText."""
    lines = text.split("\n")
    if path.lower().endswith(".rst"):
        headings = _rst_headings(lines)
    else:
        headings = [(n, level, title) for n, level, title in markdown_headings(lines) if level <= 3]
    return [Fact("documentation", title, {"type": "readme_section", "level": level, "file": path}, path, number)
            for number, level, title in headings if title]


def _rst_headings(lines: list[str]) -> list[tuple[int, int, str]]:
    found, levels = [], []
    for i in range(len(lines) - 1):
        title, under = lines[i].strip(), lines[i + 1].rstrip()
        if title and under and len(set(under)) == 1 and under[0] in "=-~^\"'*+#" and len(under) >= len(title) \
                and not set(title) <= set(under[0]):
            if under[0] not in levels:
                levels.append(under[0])
            if levels.index(under[0]) < 3:
                found.append((i + 1, levels.index(under[0]) + 1, title))
    return found


def documentation_facts(inventory: list[dict]) -> list[Fact]:
    """The docs folder (files, formats, generator) and a README summary, from the inventory alone."""
    facts = []
    paths = {r["path"]: r for r in inventory}
    docs = sorted(p for p in paths if _DOCS_DIR.match(p))
    generator = next(((g, p) for p, g in _DOC_GENERATORS.items() if p in paths), None)
    if docs:
        root = docs[0].split("/", 1)[0] + "/"
        index = next((p for p in docs if re.match(re.escape(root) + r"(index|README)\.", p, re.IGNORECASE)), docs[0])
        formats = Counter(PurePosixPath(p).suffix.lower() or PurePosixPath(p).name for p in docs)
        facts.append(Fact("documentation", root, {"type": "docs_folder", "files": len(docs),
                                                  "formats": dict(formats.most_common(8)),
                                                  "generator": generator[0] if generator else None},
                          index, 1, 1.0))
    if generator:
        facts.append(Fact("documentation", generator[0], {"type": "docs_generator", "config": generator[1]},
                          generator[1], 1, 0.9))
    for path in sorted(p for p in paths if is_readme(p)):
        facts.append(Fact("documentation", path, {"type": "readme", "lines": paths[path]["lines"]}, path, 1, 1.0))
    return facts


# --- tests -------------------------------------------------------------------------------------------

# framework -> (language, imports that show it, dependencies that show it)
_TEST_FRAMEWORKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "pytest": ("Python", ("pytest",), ("pytest",)),
    "unittest": ("Python", ("unittest",), ()),
    "Jest": ("JavaScript", ("@jest/globals",), ("jest",)),
    "Mocha": ("JavaScript", ("mocha",), ("mocha",)),
    "Vitest": ("JavaScript", ("vitest",), ("vitest",)),
    "Jasmine": ("JavaScript", ("jasmine",), ("jasmine",)),
    "AVA": ("JavaScript", ("ava",), ("ava",)),
    "node:test": ("JavaScript", ("node:test",), ()),
    "Playwright": ("JavaScript", ("@playwright/test",), ("@playwright/test",)),
    "Cypress": ("JavaScript", ("cypress",), ("cypress",)),
    "go test": ("Go", ("testing",), ()),
    "testify": ("Go", ("github.com/stretchr/testify",), ("github.com/stretchr/testify",)),
    "JUnit": ("Java", ("org.junit",), ("junit:junit", "org.junit.jupiter:junit-jupiter",
                                       "org.junit.jupiter:junit-jupiter-api", "org.springframework.boot:spring-boot-starter-test")),
    "TestNG": ("Java", ("org.testng",), ("org.testng:testng",)),
    "RSpec": ("Ruby", (), ("rspec", "rspec-rails")),
    "Minitest": ("Ruby", (), ("minitest",)),
    "PHPUnit": ("PHP", (), ("phpunit/phpunit",)),
}


def is_test_file(path: str) -> bool:
    return languages.is_test_path(path)


def _import_matches(imp: Import, wanted: tuple[str, ...]) -> bool:
    if imp.module == "unittest.mock" or (imp.module == "unittest" and set(imp.names) <= {"mock"} and imp.names):
        return False  # unittest.mock is used with every framework
    module = imp.module.removeprefix("node:") if imp.module != "node:test" else imp.module
    return any(module == w or module.startswith(w + ".") or module.startswith(w + "/") for w in wanted)


def tests_facts(inventory: list[dict], extractions: dict[str, FileExtraction], dependencies: list[Fact]) -> list[Fact]:
    """Test files per language and the frameworks they use, each with the line that shows it."""
    files = sorted(r["path"] for r in inventory if is_test_file(r["path"]) and languages.is_test_language(r.get("language"))
                   and not r["is_vendored"] and not r["is_generated"] and not r["is_documentation"])
    if not files:
        return []
    language = {r["path"]: r.get("language") for r in inventory}
    by_language = Counter(language[p] for p in files)
    facts = [Fact("tests", "test_files", {"count": len(files), "by_language": dict(by_language.most_common()),
                                          "directories": sorted({p.split("/", 1)[0] + "/" for p in files if "/" in p})[:10]},
                  files[0], 1, 1.0)]
    declared = {f.subject: f for f in dependencies}
    for framework, (lang, imports, packages) in _TEST_FRAMEWORKS.items():
        family = languages.family_members(lang)
        count = sum(n for lang_name, n in by_language.items() if lang_name in family)
        if not count:
            continue
        evidence: tuple[str, int] | None = None
        using = 0
        for path in files:
            if language[path] not in family or path not in extractions:
                continue
            hit = next((i for i in extractions[path].imports if _import_matches(i, imports)), None) if imports else None
            if hit is not None:
                using += 1
                evidence = evidence or (path, hit.line)
        source = "import"
        dep = next((declared[p] for p in packages if p in declared), None)
        if evidence is None and dep is not None:
            evidence, source = (dep.path, dep.line), "dependency"
        if evidence is None and framework == "pytest" and "conftest.py" in {PurePosixPath(p).name for p in files}:
            conftest = next(p for p in files if p.endswith("conftest.py"))
            evidence, source = (conftest, 1), "conftest"
        if evidence is None:
            continue
        facts.append(Fact("tests", framework, {"framework": framework, "language": lang, "test_files": count,
                                               "files_using": using, "source": source,
                                               "declared": dep is not None}, evidence[0], evidence[1],
                          0.95 if (using and dep is not None) else 0.85))
    return facts
