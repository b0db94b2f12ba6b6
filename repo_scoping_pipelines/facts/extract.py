"""Per-file extraction: which files carry facts, how they are decoded, and one parse per file."""

from __future__ import annotations

import codecs

from ..chunking import grammar_for
from ..chunking.code import MAX_PARSE_BYTES, get_parser
from . import delivery, entrypoints, manifests
from .imports import extract_imports
from .license_docs_tests import is_license_file, is_readme, is_test_file, license_file_facts, readme_facts
from .model import FileExtraction
from .routes import extract_routes

# Bump when an extractor changes what it returns: every file is then extracted again.
EXTRACTOR_VERSION = "1"
CODE_GRAMMARS = {"python", "javascript", "typescript", "tsx", "go", "java"}


def family_of(record: dict) -> str | None:
    """Which extractor reads this inventoried file, or None when no fact comes from it."""
    path = record["path"]
    if record.get("is_symlink"):
        return None
    if record["is_vendored"] and not path.startswith(".github/"):  # linguist calls .github/ vendored
        return None
    if is_readme(path):
        return "readme"
    if is_license_file(path):
        return "license"
    if record["is_generated"] or record["is_documentation"]:
        return None  # examples and docs declare nothing about the project itself
    fixture = is_test_file(path)
    if manifests.is_manifest(path):
        return None if fixture else "manifest"
    if delivery.delivery_kind(path):
        return None if fixture else "delivery"
    if entrypoints.is_entrypoint_file(path):
        return "entrypoint"
    if grammar_for(path, record.get("language")) in CODE_GRAMMARS:
        return "code"
    return None


def decode(data: bytes) -> str | None:
    """UTF-8 (or UTF-16 with a byte-order mark) text, or None for an unknown encoding."""
    try:
        if data.startswith(codecs.BOM_UTF8):
            return data[3:].decode("utf-8")
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def skip_reason(record: dict, data: bytes | None) -> str | None:
    """Why a file is skipped with a warning (binary, too large, not decodable), or None."""
    reason = record.get("skip_reason")
    if reason in ("binary", "too_large"):
        return {"binary": "binary file", "too_large": f"larger than the file size limit ({record['size_bytes']} "
                                                      "bytes)"}[reason]
    if data is not None and b"\0" in data[:8000]:
        return "binary file"
    return None


def extract_file(path: str, family: str, text: str, language: str | None) -> FileExtraction:
    """Facts, imports and warnings of one decoded file; never raises for odd content."""
    try:
        if family == "manifest":
            return manifests.extract(path, text)
        if family == "delivery":
            return delivery.extract(path, text)
        if family == "entrypoint":
            return FileExtraction(facts=entrypoints.extract_file(path, text))
        if family == "license":
            return FileExtraction(facts=license_file_facts(path, text))
        if family == "readme":
            return FileExtraction(facts=readme_facts(path, text))
        if family == "code":
            return _code(path, text, grammar_for(path, language) or "")
    except Exception as exc:  # defensive: one odd file must not fail the repository
        return FileExtraction(warnings=[f"{path}: extractor failed ({type(exc).__name__}: {str(exc)[:160]})"])
    return FileExtraction()


def _code(path: str, text: str, grammar: str) -> FileExtraction:
    source = text.encode("utf-8", "surrogatepass")
    if len(source) > MAX_PARSE_BYTES:
        return FileExtraction(warnings=[f"{path}: too large to parse ({len(source)} bytes); skipped"])
    parser = get_parser(grammar)
    if parser is None:
        return FileExtraction(warnings=[f"{path}: no {grammar} grammar installed; skipped"])
    root = parser.parse(source).root_node
    imports, declares = extract_imports(grammar, root)
    out = FileExtraction(imports=imports, declares=declares)
    if is_test_file(path):
        return out  # routes and mains in tests are fixtures, not the application's
    out.facts.extend(extract_routes(grammar, path, root, imports))
    if grammar == "python":
        out.facts.extend(entrypoints.python_mains(path, root))
    elif grammar == "go":
        out.facts.extend(entrypoints.go_mains(path, root))
    elif grammar == "java":
        out.facts.extend(entrypoints.java_mains(path, root))
    return out
