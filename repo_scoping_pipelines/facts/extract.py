"""Per-file extraction: which files carry facts, how they are decoded, and one parse per file."""

from __future__ import annotations

from ..chunking.code import MAX_PARSE_BYTES, get_parser
from ..collectors import languages
from ..insight.complexity import tree_complexity
from . import codeowners, delivery, entrypoints, lockfiles, manifests
from .http_calls import extract_http_calls
from .imports import extract_imports
from .license_docs_tests import is_license_file, is_readme, is_test_file, license_file_facts, readme_facts
from .model import FileExtraction
from .routes import extract_routes

# Bump when an extractor changes what it returns: every file is then extracted again.
EXTRACTOR_VERSION = "3"  # 2: http_call and locked_dependency facts; 3: complexity of code files


def family_of(record: dict) -> str | None:
    """Which extractor reads this inventoried file, or None when no fact comes from it."""
    path = record["path"]
    if record.get("is_symlink"):
        return None
    if codeowners.is_codeowners_file(path):  # before the vendored/docs exclusions: .github/, docs/ hold them
        return "codeowners"
    if record["is_vendored"] and not path.startswith(".github/"):  # linguist calls .github/ vendored
        return None
    if is_readme(path):
        return "readme"
    if is_license_file(path):
        return "license"
    if lockfiles.is_lockfile(path) and not record["is_documentation"]:  # generated, but they pin what is used
        return None if is_test_file(path) else "lockfile"
    if record["is_generated"] or record["is_documentation"]:
        return None  # examples and docs declare nothing about the project itself
    fixture = is_test_file(path)
    if manifests.is_manifest(path):
        return None if fixture else "manifest"
    if delivery.delivery_kind(path):
        return None if fixture else "delivery"
    if entrypoints.is_entrypoint_file(path):
        return "entrypoint"
    if languages.grammar_for(path, record.get("language")) is not None:
        return "code"
    return None


def decode(data: bytes) -> str | None:
    """The text facts are read from: strict UTF-8 (or UTF-16 with a byte-order mark), None otherwise."""
    return languages.decode_text(data, strict=True)


def skip_reason(record: dict, data: bytes | None) -> str | None:
    """Why a file is skipped with a warning (binary, too large, not decodable), or None."""
    reason = record.get("skip_reason")
    if reason in ("binary", "too_large"):
        return {"binary": "binary file", "too_large": f"larger than the file size limit ({record['size_bytes']} "
                                                      "bytes)"}[reason]
    if data is not None and languages.is_binary(data):
        return "binary file"
    return None


def extract_file(path: str, family: str, text: str, language: str | None) -> FileExtraction:
    """Facts, imports and warnings of one decoded file; never raises for odd content."""
    try:
        if family == "manifest":
            return manifests.extract(path, text)
        if family == "lockfile":
            return lockfiles.extract(path, text)
        if family == "delivery":
            return delivery.extract(path, text)
        if family == "entrypoint":
            return FileExtraction(facts=entrypoints.extract_file(path, text))
        if family == "license":
            return FileExtraction(facts=license_file_facts(path, text))
        if family == "readme":
            return FileExtraction(facts=readme_facts(path, text))
        if family == "codeowners":
            return codeowners.extract(path, text)
        if family == "code":
            return _code(path, text, languages.grammar_for(path, language) or "")
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
    measured = tree_complexity(grammar, root)
    out = FileExtraction(imports=imports, declares=declares,
                         complexity=measured.complexity if measured is not None else None)
    if is_test_file(path):
        return out  # routes and mains in tests are fixtures, not the application's
    out.facts.extend(extract_routes(grammar, path, root, imports))
    out.facts.extend(extract_http_calls(grammar, path, root, imports))
    mains = _MAINS.get(languages.grammar_family(grammar) or "")
    if mains is not None:
        out.facts.extend(mains(path, root))
    return out


_MAINS = {"python": entrypoints.python_mains, "go": entrypoints.go_mains, "java": entrypoints.java_mains}
