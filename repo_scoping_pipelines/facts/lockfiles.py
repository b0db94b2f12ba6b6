"""Lockfiles: the exact versions a resolver pinned, transitive packages included, read with each format's
own parser (tomllib for poetry.lock, uv.lock and Cargo.lock; json for package-lock.json, Pipfile.lock and
composer.lock; PyYAML for pnpm-lock.yaml and Yarn berry's yarn.lock) or, for the line formats that have
none in Python (Yarn classic's yarn.lock, Bundler's Gemfile.lock), line by line as their tools write them.

Each pinned package is one `locked_dependency` fact (a kind of its own: `dependency` stays what manifests
declare, which abilities, frameworks, Backstage dependsOn and similarity read) whose evidence is the
lockfile line naming it. Its value: ecosystem, exact version, the lockfile path and format, the scope
where the lockfile tells it (runtime / dev / optional / peer), `nested` for an npm copy below
another package, and `ranges`, the declared ranges a Yarn or pnpm entry satisfies (to pick the entry a
manifest's range resolved to where several versions are locked). Lines are located in one pass (tomllib
and json give no positions), so a huge lockfile costs linear time; files above the inventory's size
limit are skipped before they reach this module. go.sum is not read: it hashes every version the module
graph mentions, not the versions a build uses (go.mod already lists those).
"""

from __future__ import annotations

import bisect
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import yaml
from packaging.utils import canonicalize_name

# The shared pieces of manifest parsing: Poetry's developer-group names, the "parses but has the
# wrong shape" error, and the typed readers.
from .manifests import _DEV_GROUPS, _json_object, _Malformed, _str
from .model import Fact, FileExtraction, Lines

KIND = "locked_dependency"
_FORMATS = {"poetry.lock": "TOML", "uv.lock": "TOML", "Cargo.lock": "TOML", "package-lock.json": "JSON",
            "npm-shrinkwrap.json": "JSON", "Pipfile.lock": "JSON", "yarn.lock": "Yarn", "pnpm-lock.yaml": "YAML",
            "Gemfile.lock": "Bundler", "composer.lock": "JSON"}


def is_lockfile(path: str) -> bool:
    return PurePosixPath(path).name in _FORMATS


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
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError, _Malformed, RecursionError) as exc:
        reason = " ".join(str(exc).split())[:200] if str(exc) else type(exc).__name__
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


# --- JSON: keys located in one pass -------------------------------------------------------------------

_OBJECT_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*\{')
_NAME_VALUE = re.compile(r'"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


class _Keys:
    """Every `"key": {` of a JSON text in order (or what another pattern's group 1 captures, on lines
    holding `marker`), to find the line of the next occurrence of a key after the previous hit
    (json.loads keeps the document's order, so a walk in that order finds each entry)."""

    def __init__(self, text: str, pattern: re.Pattern = _OBJECT_KEY, marker: str = "{") -> None:
        self.lines: list[int] = []
        self.at: dict[str, list[int]] = {}
        for number, line in enumerate(text.split("\n"), 1):
            if marker not in line:
                continue
            for match in pattern.finditer(line):
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


def _composer_lock(out: _Out, text: str) -> None:
    data = _json_object(text)
    names = _Keys(text, _NAME_VALUE, '"name"')  # each package's `"name": "vendor/package"` line
    line = 1
    for section, scope in (("packages", "runtime"), ("packages-dev", "dev")):
        entries = data.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            raise _Malformed(f"`{section}` is not an array")
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            name = _str(entry.get("name"))
            line = names.next(name, line) if name else line
            source = entry.get("source") if isinstance(entry.get("source"), dict) else {}
            dist = entry.get("dist") if isinstance(entry.get("dist"), dict) else {}
            out.locked("packagist", name.lower() if name else name, _str(entry.get("version")), line, scope,
                       source=_str(source.get("url")), resolved=_str(dist.get("url")))


# --- YAML: pnpm-lock.yaml and Yarn berry's yarn.lock -------------------------------------------------

# BaseLoader keeps every scalar a string (`version: 1.10` stays "1.10"); the node tree gives key lines.
_YamlLoader = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def _yaml_mapping(text: str) -> tuple[dict, dict[str, yaml.Node]]:
    """The document (scalars as strings) and its top-level key nodes by key; {} for an empty file."""
    loader = _YamlLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else {}
    finally:
        loader.dispose()
    if node is None:
        return {}, {}
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise _Malformed("top level is not a mapping")
    return data, _key_nodes(node)


def _key_nodes(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {k.value: (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _key_line(nodes: dict, key: str, default: int) -> int:
    found = nodes.get(key)
    return found[0].start_mark.line + 1 if found else default


def _yarn_descriptor(descriptor: str) -> tuple[str, str]:
    """(package name, range) of `name@range`, `@scope/name@npm:range` or an alias `alias@npm:name@range`
    (the aliased package's name: the one installed)."""
    descriptor = descriptor.strip().strip('"').strip()
    at = descriptor.find("@", 1)
    if at < 0:
        return descriptor, ""
    name, spec = descriptor[:at], descriptor[at + 1:]
    if spec.startswith("npm:"):
        spec = spec[4:]
        inner = spec.find("@", 1)
        if inner > 0:
            name, spec = spec[:inner], spec[inner + 1:]
    return name, spec


# Protocols of packages that are not fetched from elsewhere: this project's workspaces, links to local
# folders, and patched copies (the unpatched package is locked on an entry of its own).
_YARN_LOCAL = ("workspace:", "link:", "portal:", "file:", "patch:", "exec:")


def _yarn_lock(out: _Out, text: str) -> None:
    if re.search(r'^"?__metadata"?:', text, re.MULTILINE):
        _yarn_berry(out, text)
    else:
        _yarn_classic(out, text)


def _yarn_berry(out: _Out, text: str) -> None:
    data, nodes = _yaml_mapping(text)
    for key, entry in data.items():
        if key == "__metadata" or not isinstance(entry, dict):
            continue
        descriptors = [_yarn_descriptor(d) for d in key.split(",")]
        resolution = _str(entry.get("resolution"))
        name, spec = _yarn_descriptor(resolution) if resolution else descriptors[0]
        if spec.startswith(_YARN_LOCAL) or any(s.startswith(_YARN_LOCAL) for _, s in descriptors):
            continue  # the project itself, its workspaces, links and patches
        out.locked("npm", name, _str(entry.get("version")), _key_line(nodes, key, 1), None,
                   resolved=resolution, ranges=[s for _, s in descriptors if s] or None)


_YARN_FIELD = re.compile(r'^  (version|resolved) +"?([^"\s]*)"?\s*$')


def _yarn_classic(out: _Out, text: str) -> None:
    """Yarn 1's own format: an unindented `"name@range", name@range2:` header per entry, its fields
    (`version "1.2.3"`, `resolved "url"`) indented below it."""
    entry: dict | None = None

    def flush() -> None:
        if entry is None or all(s.startswith(_YARN_LOCAL) for _, s in entry["descriptors"]):
            return
        name = entry["descriptors"][0][0]
        out.locked("npm", name, entry.get("version"), entry["line"], None, resolved=entry.get("resolved"),
                   ranges=[s for _, s in entry["descriptors"] if s] or None)

    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[0].isspace():
            if not line.rstrip().endswith(":"):
                raise _Malformed(f"line {number}: neither an entry header (`name@range:`) nor an indented field")
            flush()
            entry = {"line": number, "descriptors": [_yarn_descriptor(d) for d in line.rstrip()[:-1].split(",")]}
        elif entry is None:
            raise _Malformed(f"line {number}: an indented field before the first entry")
        elif match := _YARN_FIELD.match(line):
            entry.setdefault(match.group(1), match.group(2))
    flush()


def _pnpm_key(key: str, major: int) -> tuple[str | None, str | None]:
    """(name, version) of a `packages:` key: `/name/1.2.3_peer` (v5), `/name@1.2.3(peer)` (v6),
    `name@1.2.3` (v9)."""
    key = key.lstrip("/").split("(", 1)[0]
    if major < 6:
        name, _, version = key.rpartition("/")
        version = version.split("_", 1)[0]
    else:
        at = key.rfind("@")
        name, version = (key[:at], key[at + 1:]) if at > 0 else (key, "")
    return name or None, version or None


def _pnpm_direct(data: dict) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """(name, version) -> (scope, specifiers) of what the projects (importers; the top level before
    workspaces) depend on directly; runtime wins over optional, optional over dev."""
    importers = data.get("importers")
    projects = list(importers.values()) if isinstance(importers, dict) else [data]
    direct: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for project in projects:
        if not isinstance(project, dict):
            continue
        specifiers = project.get("specifiers") if isinstance(project.get("specifiers"), dict) else {}  # v5
        for section, scope in (("dependencies", "runtime"), ("optionalDependencies", "optional"),
                               ("devDependencies", "dev")):
            deps = project.get(section)
            for name, ref in deps.items() if isinstance(deps, dict) else ():
                spec, version = (ref.get("specifier"), ref.get("version")) if isinstance(ref, dict) \
                    else (specifiers.get(name), ref)
                if not isinstance(version, str):
                    continue
                found = direct.setdefault((name, version.split("(", 1)[0].split("_", 1)[0]), (scope, []))
                if isinstance(spec, str) and spec not in found[1]:
                    found[1].append(spec)
    return direct


def _pnpm_lock(out: _Out, text: str) -> None:
    data, nodes = _yaml_mapping(text)
    found = re.match(r"\s*'?(\d+)", str(data.get("lockfileVersion") or ""))
    major = int(found.group(1)) if found else 9
    packages = data.get("packages")
    if packages in (None, "", {}):
        return  # no dependencies
    if not isinstance(packages, dict):
        raise _Malformed("`packages` is not a mapping")
    start = _key_line(nodes, "packages", 1)
    lines = _key_nodes(nodes["packages"][1])
    direct = _pnpm_direct(data)
    for key, entry in packages.items():
        entry = entry if isinstance(entry, dict) else {}
        name, version = _pnpm_key(key, major)
        name, version = _str(entry.get("name")) or name, _str(entry.get("version")) or version
        if version and version.startswith(("link:", "file:", "workspace:")):
            continue  # local packages
        scope, ranges = direct.get((name, version), (None, []))
        if major < 9:  # v5 and v6 mark each package; neither flag: needed by both dev and production
            scope = "optional" if entry.get("optional") == "true" else "dev" if entry.get("dev") == "true" \
                else "runtime"
        resolution = entry.get("resolution") if isinstance(entry.get("resolution"), dict) else {}
        out.locked("npm", name, version, _key_line(lines, key, start), scope,
                   resolved=_str(resolution.get("tarball") or resolution.get("repo")), ranges=ranges or None)


# --- Gemfile.lock: Bundler's own format, read as Bundler's LockfileParser does -----------------------

_GEM_SECTION = re.compile(r"^[A-Z][A-Z0-9 ]*$")
_GEM_SPEC = re.compile(r"^ {4}(?! )(\S+) \(([^)]+)\)!?$")


def _gemfile_lock(out: _Out, text: str) -> None:
    """The gems of GEM and GIT sections' `specs:` (`    name (version[-platform])`, 4-space indent; the
    6-space lines below are their requirements). PATH gems are this repository's own (its gemspec)."""
    section, remote, revision, seen = None, None, None, set()
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip()
        if not line:
            continue
        if not line[0].isspace():
            if not _GEM_SECTION.match(line):
                raise _Malformed(f"line {number}: not a section header (GEM, GIT, PATH, DEPENDENCIES...)")
            section, remote, revision = line, None, None
            continue
        if section is None:
            raise _Malformed(f"line {number}: an indented line before the first section")
        if section not in ("GEM", "GIT"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if indent == 2:
            key, _, value = line.strip().partition(":")
            if key == "remote":
                remote = value.strip()
            elif key == "revision":
                revision = value.strip()
        elif indent == 4:
            match = _GEM_SPEC.match(line)
            if not match:
                raise _Malformed(f"line {number}: a spec that is not `name (version)`")
            name, version = match.group(1), match.group(2).split("-", 1)[0]  # the platform after a dash
            if (name, version) in seen:
                continue  # the same gem built for another platform
            seen.add((name, version))
            source = f"git+{remote}#{revision}" if section == "GIT" and remote else remote
            out.locked("rubygems", name, version, number, None, source=source)


_PARSERS = {"poetry.lock": _poetry_lock, "uv.lock": _uv_lock, "Cargo.lock": _cargo_lock,
            "package-lock.json": _package_lock, "npm-shrinkwrap.json": _package_lock,
            "Pipfile.lock": _pipfile_lock, "composer.lock": _composer_lock, "yarn.lock": _yarn_lock,
            "pnpm-lock.yaml": _pnpm_lock, "Gemfile.lock": _gemfile_lock}
