"""Declare what you import, import what you declare: the project's dependency list matches its code."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = ["repo_scoping_pipelines", "assets", "sensors", "schedules", "migrations"]

# Declared but used without an import statement of ours, each for a stated reason.
USED_INDIRECTLY = {
    "dagster-webserver": "serves the Dagster UI (deployment, `dagster dev`)",
    "dagster-postgres": "Dagster's run/event storage, named in dagster.yaml",
    "psycopg2-binary": "dagster-postgres' driver (postgresql+psycopg2 URLs, shared/STACK.md)",
    "milvus-lite": "the `milvus-lite server` binary the embedded default starts",
    "scipy": "networkx.pagerank runs on scipy",
    "pystemmer": "snowballstemmer uses its C stemmers when installed",
    "python-multipart": "FastAPI parses POST /uploads forms with it",
    "psycopg": "SQLAlchemy's postgresql+psycopg driver",
    **{f"tree-sitter-{g}": "grammar imported by module name from the language registry"
       for g in ("python", "javascript", "typescript", "go", "java")},
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower().replace("_", "-")


def _imported_modules() -> set[str]:
    found = set()
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    found |= {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_used_and_every_import_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    optional = {_name(r) for group in project["optional-dependencies"].values() for r in group}
    distributions = {m: {d.lower().replace("_", "-") for d in ds} for m, ds in md.packages_distributions().items()}
    for module in _imported_modules():  # an extra that is not installed here: its module is named like it
        distributions.setdefault(module, {module.lower().replace("_", "-")})
    ours = {"repo_scoping_pipelines", "assets", "sensors", "schedules", "migrations"}
    imported = _imported_modules() - ours - set(sys.stdlib_module_names) - {"__future__"}

    undeclared = {m: sorted(distributions[m]) for m in imported
                  if not (distributions[m] & (declared | optional))}
    assert undeclared == {}, "imported but not declared"
    used = set().union(*(distributions.get(m, set()) for m in imported))
    unused = sorted(declared - used - set(USED_INDIRECTLY))
    assert unused == [], "declared but never imported (add the import, drop the dependency, or say why)"
    assert set(USED_INDIRECTLY) <= declared, "an indirect-use reason for something no longer declared"


def test_pip_check_is_clean():
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
