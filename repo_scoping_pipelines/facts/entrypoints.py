"""Entry points: console scripts and bin fields (from manifests), `__main__` modules, Go and Java mains,
Procfile processes and Makefile targets (Dockerfile CMD/ENTRYPOINT come from delivery.py)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from tree_sitter import Node

from ..chunking.code import node_text as _text
from .model import Fact

_MAIN_GUARD = re.compile(r"""^(__name__\s*==\s*["']__main__["']|["']__main__["']\s*==\s*__name__)$""")
# Procfile: "<process type>: <command>" per line (Heroku's format).
_PROCFILE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(\S.*)$")
# A make rule's target list: not a recipe line (tab), not a variable assignment (:=, ::=, ?=).
_MAKE_RULE = re.compile(r"^([^\t#:=\s][^:=#]*?)\s*::?(?![=:])(.*)$")


def script_fact(name: str, kind: str, target: str, path: str, line: int) -> Fact:
    return Fact("entry_point", name, {"type": kind, "target": target}, path, line)


def is_entrypoint_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return name in ("Procfile", "Makefile", "GNUmakefile", "makefile") or name.endswith(".mk")


def extract_file(path: str, text: str) -> list[Fact]:
    name = PurePosixPath(path).name
    if name == "Procfile":
        return _procfile(path, text)
    return _makefile(path, text)


def _procfile(path: str, text: str) -> list[Fact]:
    facts = []
    for number, line in enumerate(text.split("\n"), 1):
        match = _PROCFILE.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            facts.append(script_fact(match.group(1), "procfile", match.group(2).strip(), path, number))
    return facts


def _makefile(path: str, text: str) -> list[Fact]:
    lines = text.split("\n")
    phony: set[str] = set()
    rules: list[tuple[str, int]] = []
    continued = False
    for number, line in enumerate(lines, 1):
        if continued or line.startswith("\t") or not line.strip() or line.lstrip().startswith("#"):
            continued = line.endswith("\\")
            continue
        continued = line.endswith("\\")
        if re.match(r"^\s*(ifn?eq|ifn?def|else|endif|include|-include|define|endef|export|override)\b", line):
            continue
        match = _MAKE_RULE.match(line)
        if not match:
            continue
        targets = match.group(1).split()
        if targets == [".PHONY"]:
            phony.update(match.group(2).split(";", 1)[0].split())
            continue
        for target in targets:
            if not target.startswith(".") and "%" not in target and "$" not in target:
                rules.append((target, number))
    seen: set[str] = set()
    facts = []
    for target, number in rules:
        if target not in seen:
            seen.add(target)
            facts.append(Fact("entry_point", target, {"type": "make_target", "target": f"make {target}",
                                                      "phony": target in phony}, path, number))
    return facts


# --- from source code (tree-sitter trees) ------------------------------------------------------------


def python_mains(path: str, root: Node) -> list[Fact]:
    """`if __name__ == "__main__":` at module level, and `__main__.py` modules (python -m package)."""
    facts = []
    module = path[:-3].replace("/", ".") if path.endswith(".py") else path
    if PurePosixPath(path).name == "__main__.py":
        package = str(PurePosixPath(path).parent).replace("/", ".")
        first = root.named_children[0].start_point.row + 1 if root.named_children else 1
        facts.append(script_fact(f"python -m {package}", "python_main", path, path, first))
        return facts
    for child in root.named_children:
        if child.type == "if_statement":
            condition = child.child_by_field_name("condition")
            if condition is not None and _MAIN_GUARD.match(re.sub(r"\s+", " ", _text(condition)).strip()):
                facts.append(script_fact(f"python -m {module}", "python_main", path, path,
                                         child.start_point.row + 1))
    return facts


def go_mains(path: str, root: Node) -> list[Fact]:
    """`func main()` in `package main`: a command, named after its directory."""
    package = next((c for c in root.named_children if c.type == "package_clause"), None)
    if package is None or _text(package).split()[-1] != "main":
        return []
    for child in root.named_children:
        if child.type == "function_declaration" and _text(child.child_by_field_name("name")) == "main":
            directory = str(PurePosixPath(path).parent)
            command = PurePosixPath(directory).name if directory != "." else "main"
            return [script_fact(command, "go_main", f"go run ./{directory}" if directory != "." else "go run .",
                                path, child.start_point.row + 1)]
    return []


def java_mains(path: str, root: Node) -> list[Fact]:
    """`public static void main(String[] args)` in a top-level class (Spring Boot apps flagged)."""
    facts = []
    for cls in root.named_children:
        if cls.type != "class_declaration":
            continue
        modifiers = next((c for c in cls.children if c.type == "modifiers"), None)
        spring_boot = "@SpringBootApplication" in _text(modifiers)
        body = cls.child_by_field_name("body")
        for member in body.named_children if body is not None else []:
            if member.type != "method_declaration" or _text(member.child_by_field_name("name")) != "main":
                continue
            member_modifiers = next((c for c in member.children if c.type == "modifiers"), None)
            if "static" not in _text(member_modifiers).split():
                continue
            name = _text(cls.child_by_field_name("name"))
            facts.append(Fact("entry_point", name, {"type": "java_main", "target": path,
                                                    "spring_boot": spring_boot}, path, member.start_point.row + 1))
    return facts
