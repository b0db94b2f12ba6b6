"""Repository-level assembly: per-file facts plus what needs the whole snapshot (languages, frameworks,
tests, documentation). Cheap: it reads the inventory and the stored per-file extractions, no files."""

from __future__ import annotations

from .frameworks import framework_facts
from .graph import Resolver, external_imports
from .languages import language_facts
from .license_docs_tests import documentation_facts, tests_facts
from .model import Fact, FileExtraction
from .routes import resolve_includes


def repository_facts(inventory: list[dict], extractions: dict[str, FileExtraction]) -> list[Fact]:
    resolver = Resolver(inventory, extractions)
    per_file = [_python_module(fact, resolver) for path in sorted(extractions) for fact in extractions[path].facts]
    dependencies = [f for f in per_file if f.kind == "dependency"]
    facts = (resolve_includes(per_file) + language_facts(inventory)
             + framework_facts(dependencies, external_imports(resolver, extractions))
             + tests_facts(inventory, extractions, dependencies) + documentation_facts(inventory))
    unique: dict[tuple, Fact] = {}
    for fact in facts:
        unique.setdefault((fact.kind, fact.subject, fact.path, fact.line), fact)
    return list(unique.values())


def _python_module(fact: Fact, resolver: Resolver) -> Fact:
    """`python -m <module>` needs the import name (src/pkg/__main__.py runs as `python -m pkg`), which
    only the whole snapshot's package layout tells."""
    if fact.kind != "entry_point" or fact.value.get("type") != "python_main" or fact.path not in resolver.py_name:
        return fact
    module = resolver.py_name[fact.path]
    if fact.path.endswith("__main__.py"):
        module = module.rsplit(".", 1)[0] if "." in module else module
    return Fact(fact.kind, f"python -m {module}", fact.value, fact.path, fact.line, fact.confidence)
