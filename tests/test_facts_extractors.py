"""The extractors alone (plain Python, no database): corner cases of the formats."""

from __future__ import annotations

from repo_scoping_pipelines.facts.extract import decode, extract_file, family_of
from repo_scoping_pipelines.facts.license_docs_tests import license_file_facts

GROUPS = """[project]
name = "x"
dependencies = ["requests"]

[dependency-groups]
tests = [
    "pytest",
]
typing = [
    "mypy",
    "pytest",
    {include-group = "tests"},
]
"""


def test_same_requirement_in_two_groups_points_at_each_line():
    facts = extract_file("pyproject.toml", "manifest", GROUPS, "TOML").facts
    deps = {(f.subject, f.value["group"], f.line) for f in facts if f.kind == "dependency"}
    assert deps == {("requests", None, 3), ("pytest", "tests", 7), ("mypy", "typing", 10), ("pytest", "typing", 11)}


def test_invalid_requirement_is_a_warning_not_a_failure():
    result = extract_file("requirements.txt", "manifest", "flask>=3\nnot a requirement !!\nclick\n", "Text")
    assert [(f.subject, f.line) for f in result.facts if f.kind == "dependency"] == [("flask", 1), ("click", 3)]
    assert result.warnings and result.warnings[0].startswith("requirements.txt:2: not a valid requirement")


def test_license_texts():
    apache = "\n                                 Apache License\n                           Version 2.0, January 2004\n"
    assert [(f.subject, f.line) for f in license_file_facts("LICENSE", apache)] == [("Apache-2.0", 2)]
    gpl = "                    GNU GENERAL PUBLIC LICENSE\n                       Version 3, 29 June 2007\n"
    assert license_file_facts("COPYING", gpl)[0].subject == "GPL-3.0-only"
    header = "// SPDX-License-Identifier: MIT OR Apache-2.0\n"
    fact = license_file_facts("LICENSE", header)[0]
    assert (fact.subject, fact.value["source"], fact.confidence) == ("MIT OR Apache-2.0", "spdx_header", 0.95)
    unknown = license_file_facts("LICENSE", "\nAll rights reserved.\n")[0]
    assert (unknown.subject, unknown.line, unknown.confidence) == ("NOASSERTION", 2, 0.3)


def test_dockerfile_escape_directive_and_shell_form():
    text = "# escape=`\nFROM mcr.microsoft.com/windows AS base\nRUN echo `\n  hello\nCMD node server.js\n"
    facts = extract_file("docker/Dockerfile.prod", "delivery", text, "Dockerfile").facts
    entry = next(f for f in facts if f.kind == "entry_point")
    assert (entry.value["type"], entry.value["target"], entry.line) == ("docker_cmd", "node server.js", 5)
    assert next(f for f in facts if f.kind == "dockerfile").value["base_image"] == "mcr.microsoft.com/windows"


def test_typescript_imports_and_express_router():
    text = ("import express, { Request } from 'express';\nimport type { User } from './models/user';\n"
            "export * from './routes';\nconst router = express.Router();\n"
            "router.delete(`/users/:id`, async (req: Request, res) => res.end());\n")
    result = extract_file("src/api.ts", "code", text, "TypeScript")
    assert [(i.module, i.line) for i in result.imports] == [("express", 1), ("./models/user", 2), ("./routes", 3)]
    assert [(f.subject, f.line) for f in result.facts] == [("DELETE /users/:id", 5)]


def test_which_files_are_read():
    def record(path, **flags):
        return {"path": path, "language": None, "is_vendored": False, "is_generated": False,
                "is_documentation": False, **flags}

    assert family_of(record("package.json")) == "manifest"
    assert family_of(record("node_modules/x/package.json", is_vendored=True)) is None
    assert family_of(record(".github/workflows/ci.yml", is_vendored=True)) == "delivery"
    assert family_of(record("tests/fixtures/pyproject.toml")) is None  # a test fixture, not the project
    assert family_of(record("README.md", is_documentation=True)) == "readme"
    assert family_of(record("examples/app.py", language="Python", is_documentation=True)) is None
    assert family_of(record("src/app.py", language="Python")) == "code"
    assert decode(b"\xef\xbb\xbfname = 1\n") == "name = 1\n"
    assert decode("caf\xe9".encode("latin-1")) is None
