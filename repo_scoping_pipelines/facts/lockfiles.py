"""Lockfiles: the exact versions a resolver pinned, transitive packages included, read with each format's
own parser (tomllib for poetry.lock, uv.lock and Cargo.lock; json for package-lock.json and Pipfile.lock).

Each pinned package is one `locked_dependency` fact (a kind of its own: `dependency` stays what manifests
declare, which abilities, frameworks, Backstage dependsOn and similarity read) whose evidence is the
lockfile line naming it. Its value: ecosystem, exact version, the lockfile path and format, the scope
where the lockfile tells it (runtime / dev / optional / peer), and `nested` for an npm copy below
another package. Lines are located in one pass (tomllib and json give no positions), so a huge lockfile
costs linear time; files above the inventory's size limit are skipped before they reach this module.
go.sum is not read: it hashes every version the module graph mentions, not the versions a build uses
(go.mod already lists those).
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from packaging.utils import canonicalize_name

from .model import Fact, FileExtraction, Lines

KIND = "locked_dependency"
_FORMATS = {"poetry.lock": "TOML", "uv.lock": "TOML", "Cargo.lock": "TOML", "package-lock.json": "JSON",
            "npm-shrinkwrap.json": "JSON", "Pipfile.lock": "JSON"}
# Poetry groups with these names hold developer tools (the same names manifests.py treats as dev).
_DEV_GROUPS = re.compile(r"^(dev|develop|development|test|tests|testing|lint|linting|docs?|typing|mypy|"
                         r"style|check|ci|coverage|bench|benchmark|tox|pre-commit)([-_].*)?$", re.IGNORECASE)


def is_lockfile(path: str) -> bool:
    return PurePosixPath(path).name in _FORMATS


class _Malformed(ValueError):
    """The file parses but is not the shape its format requires (e.g. `package` is not an array)."""


@dataclass
class _Out:
    path: str
    fmt: str
    facts: list[Fact] = field(default_factory=list)
    skipped: int = 0  # entries without a name or a version

    def locked(self, ecosystem: str, name, version, line: int, scope: str | None = None, **extra) -> None:
        if not isinstance(name, str) or not name or not isinstance(version, str) or not version:
            self.skipped += 1
            return
        value = {"ecosystem": ecosystem, "version": version, "lockfile": self.path, "format": self.fmt,
                 "scope": scope, **{k: v for k, v in extra.items() if v not in (None, "", False)}}
        self.facts.append(Fact(KIND, name, value, self.path, max(1, line)))


def extract(path: str, text: str) -> FileExtraction:
    """locked_dependency facts of one lockfile; a malformed one gives a named warning and no facts."""
    name = PurePosixPath(path).name
    parser = _PARSERS.get(name)
    if parser is None:
        return FileExtraction()
    out = _Out(path, name)
    try:
        parser(out, text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, _Malformed, RecursionError) as exc:
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return FileExtraction(warnings=[f"{path}: malformed lockfile ({_FORMATS[name]} {name}: {reason}); skipped"])
    warnings = [f"{path}: {out.skipped} locked package(s) without a name or version skipped"] if out.skipped else []
    return FileExtraction(facts=out.facts, warnings=warnings)


# --- TOML: [[package]] arrays ------------------------------------------------------------------------

_PACKAGE_HEADER = re.compile(r"^\s*\[\[\s*package\s*\]\]\s*(#.*)?$")
_NAME_KEY = re.compile(r"""^\s*["']?name["']?\s*=""")


def _package_lines(lines: Lines, count: int) -> list[int]:
    """The line of `name = ...` in each [[package]] block, in order (the header's line where none)."""
    headers = [n for n, line in enumerate(lines.lines, 1) if _PACKAGE_HEADER.match(line)]
    out = []
    for i, start in enumerate(headers):
        end = headers[i + 1] - 1 if i + 1 < len(headers) else len(lines.lines)
        out.append(lines.first(_NAME_KEY, start=start, end=min(end, start + 50), default=start))
    return out + [1] * (count - len(out))


def _packages(text: str) -> tuple[dict, list[dict], list[int]]:
    data = tomllib.loads(text)
    packages = data.get("package") or []
    if not isinstance(packages, list) or not all(isinstance(p, dict) for p in packages):
        raise _Malformed("`package` is not an array of tables")
    return data, packages, _package_lines(Lines(text), len(packages))


def _poetry_lock(out: _Out, text: str) -> None:
    _, packages, lines = _packages(text)
    for package, line in zip(packages, lines, strict=True):
        groups = package.get("groups")
        groups = [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
        category = package.get("category")  # Poetry 1.x: "main" or "dev"
        if "main" in groups or category == "main":
            scope = "runtime"
        elif category == "dev" or (groups and all(_DEV_GROUPS.match(g) for g in groups)):
            scope = "dev"
        elif groups:
            scope = "optional"
        else:
            scope = None
        if package.get("optional") is True and scope == "runtime":
            scope = "optional"  # only with an extra
        name = package.get("name")
        source = package.get("source") if isinstance(package.get("source"), dict) else {}
        out.locked("pypi", canonicalize_name(name) if isinstance(name, str) else name, _str(package.get("version")),
                   line, scope, source=_str(source.get("url")), groups=groups or None)


def _uv_lock(out: _Out, text: str) -> None:
    _, packages, lines = _packages(text)
    local = [p for p in packages if isinstance(p.get("source"), dict)
             and ({"editable", "virtual"} & set(p["source"]))]  # the project and its workspace members
    scopes, skip = _uv_scopes(packages, local), {id(p) for p in local}
    for package, line in zip(packages, lines, strict=True):
        if id(package) in skip:
            continue
        name = package.get("name")
        name = canonicalize_name(name) if isinstance(name, str) else name
        source = package.get("source") if isinstance(package.get("source"), dict) else {}
        out.locked("pypi", name, _str(package.get("version")), line, scopes.get(name),
                   source=_str(source.get("registry") or source.get("git") or source.get("url")))


def _uv_scopes(packages: list[dict], roots: list[dict]) -> dict[str, str]:
    """runtime / optional / dev of every package, walking the lock's graph from the project's dependencies,
    then its optional ones, then its dev groups (a package reached earlier keeps the stronger scope)."""
    edges: dict[str, list[str]] = {}

    def names(entries) -> list[str]:
        return [canonicalize_name(e["name"]) for e in entries or [] if isinstance(e, dict)
                and isinstance(e.get("name"), str)] if isinstance(entries, list) else []

    def grouped(table) -> list[str]:
        return [n for group in (table.values() if isinstance(table, dict) else []) for n in names(group)]

    for package in packages:
        if isinstance(package.get("name"), str):
            edges.setdefault(canonicalize_name(package["name"]), []).extend(
                names(package.get("dependencies")) + grouped(package.get("optional-dependencies")))
    scopes: dict[str, str] = {}
    for scope, key in (("runtime", "dependencies"), ("optional", "optional-dependencies"),
                       ("dev", "dev-dependencies")):
        todo = [n for root in roots for n in (names(root.get(key)) if key == "dependencies"
                                              else grouped(root.get(key)))]
        while todo:  # each package is visited once per scope at most: linear
            name = todo.pop()
            if name in scopes:
                continue
            scopes[name] = scope
            todo.extend(edges.get(name, ()))
    return scopes


def _cargo_lock(out: _Out, text: str) -> None:
    _, packages, lines = _packages(text)
    for package, line in zip(packages, lines, strict=True):
        source = _str(package.get("source"))
        if source is None:
            continue  # a crate of this workspace, not a package from elsewhere
        out.locked("cargo", package.get("name"), _str(package.get("version")), line, None, source=source)


def _str(value) -> str | None:
    return value if isinstance(value, str) else None


# --- JSON: keys located in one pass -------------------------------------------------------------------

_OBJECT_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*\{')


class _Keys:
    """Every `"key": {` of a JSON text in order, to find the line of the next occurrence of a key after
    the previous hit (json.loads keeps the document's order, so a walk in that order finds each entry)."""

    def __init__(self, text: str) -> None:
        self.lines: list[int] = []
        self.at: dict[str, list[int]] = {}
        for number, line in enumerate(text.split("\n"), 1):
            if '{' not in line:
                continue
            for match in _OBJECT_KEY.finditer(line):
                self.at.setdefault(match.group(1), []).append(len(self.lines))
                self.lines.append(number)
        self.cursor = -1

    def next(self, key: str, default: int) -> int:
        found = self.at.get(json.dumps(key, ensure_ascii=False)[1:-1], [])
        i = bisect.bisect_right(found, self.cursor)
        if i == len(found):
            return default
        self.cursor = found[i]
        return self.lines[self.cursor]


def _json_object(text: str) -> dict:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise _Malformed("top level is not an object")
    return data


def _npm_scope(entry: dict) -> str:
    if entry.get("dev") is True or entry.get("devOptional") is True:
        return "dev"
    if entry.get("optional") is True:
        return "optional"
    if entry.get("peer") is True:
        return "peer"
    return "runtime"


def _package_lock(out: _Out, text: str) -> None:
    data = _json_object(text)
    keys = _Keys(text)
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        section = keys.next("packages", 1)
        for key, entry in packages.items():
            if not isinstance(entry, dict) or "node_modules/" not in key or entry.get("link") is True:
                continue  # the root (""), workspace members and links to them
            line = keys.next(key, section)
            name = entry.get("name") if isinstance(entry.get("name"), str) else key.rsplit("node_modules/", 1)[1]
            out.locked("npm", name, _str(entry.get("version")), line, _npm_scope(entry),
                       nested=key.count("node_modules/") > 1, resolved=_str(entry.get("resolved")))
        return
    dependencies = data.get("dependencies")
    if dependencies is None and data.get("lockfileVersion") is not None:
        return  # an empty lock
    if not isinstance(dependencies, dict):
        raise _Malformed("neither a `packages` nor a `dependencies` object")
    section = keys.next("dependencies", 1)
    stack = [(name, entry, 0) for name, entry in reversed(dependencies.items())]
    while stack:  # lockfileVersion 1: nested `dependencies`, walked depth first in document order
        name, entry, depth = stack.pop()
        if not isinstance(entry, dict):
            continue
        line = keys.next(name, section)
        version = _str(entry.get("version"))
        if version and not version.startswith(("file:", "link:")):
            out.locked("npm", name, version, line, _npm_scope(entry), nested=depth > 0,
                       resolved=_str(entry.get("resolved")))
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            keys.next("dependencies", line)
            stack.extend((n, e, depth + 1) for n, e in reversed(nested.items()))


def _pipfile_lock(out: _Out, text: str) -> None:
    data = _json_object(text)
    keys = _Keys(text)
    for section, scope in (("default", "runtime"), ("develop", "dev")):
        entries = data.get(section)
        if entries is None:
            continue
        if not isinstance(entries, dict):
            raise _Malformed(f"`{section}` is not an object")
        start = keys.next(section, 1)
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            line = keys.next(name, start)
            version = _str(entry.get("version"))
            if version is None and (entry.get("git") or entry.get("path") or entry.get("file")):
                continue  # a VCS or local package: no version is pinned
            out.locked("pypi", canonicalize_name(name), version[2:] if version and version.startswith("==")
                       else version, line, scope, index=_str(entry.get("index")))


_PARSERS = {"poetry.lock": _poetry_lock, "uv.lock": _uv_lock, "Cargo.lock": _cargo_lock,
            "package-lock.json": _package_lock, "npm-shrinkwrap.json": _package_lock,
            "Pipfile.lock": _pipfile_lock}
