"""Lookups over the stored data that a model may call as OpenAI tools (and retrieval uses directly):
dependencies, frameworks, routes, entry points, who imports a module, approved abilities, ownership of
a path, what shipped in a week. Each returns numbered-to-be sources, so a model cites tool results the
same way as retrieved passages. Arguments are validated against each tool's schema; a call that breaks
it raises `ToolArgumentError` (the answer loop retries once, then skips it: schema_violation)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..metrics import pipeline as metrics
from ..metrics.shipped import parse_week
from ..storage import abilities as ability_store
from ..storage import catalog
from ..storage import facts as fact_store
from .sources import Source, ability_source, fact_source, make_source

MAX_TOOL_SOURCES = 12
_NAME = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
              description="repository name; omit for every repository")


class ToolArgumentError(ValueError):
    """A tool call's arguments are not valid JSON or do not match the tool's schema."""


class ToolFailed(LookupError):
    """Valid arguments that name something not stored (an unknown repository, path or week)."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FactArgs(_Args):
    repository: str | None = _NAME
    name: str | None = Field(default=None, max_length=200, description="only entries whose name contains this")


class ImportArgs(_Args):
    module: str = Field(min_length=1, max_length=200, description="module or package name, e.g. 'billing.db'")
    repository: str | None = _NAME


class AbilityArgs(_Args):
    query: str | None = Field(default=None, max_length=200, description="words the ability must mention")


class OwnershipArgs(_Args):
    repository: str = Field(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    path: str = Field(default="", max_length=1000, description="a file or folder; empty = the whole repository")


class ShippedArgs(_Args):
    repository: str = Field(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    week: str | None = Field(default=None, max_length=20, description="2024-W03 or a date; default: latest week")


@dataclass
class Lookup:
    """What tools read through: the engine, and each repository's snapshot commit (looked up once)."""

    engine: object
    _commits: dict[str, str | None] = field(default_factory=dict)
    _repos: dict[str, object] = field(default_factory=dict)

    def repository(self, name: str):
        if name not in self._repos:
            try:
                self._repos[name] = catalog.get_repository(self.engine, name)
            except catalog.NotFound:
                raise ToolFailed(f"no repository {name!r} is registered") from None
        return self._repos[name]

    def repositories(self, name: str | None) -> list:
        if name:
            return [self.repository(name)]
        repos = catalog.list_repositories(self.engine)
        for r in repos:
            self._repos[r.name] = r
        return repos

    def commit(self, name: str) -> str | None:
        if name not in self._commits:
            snap = catalog.latest_snapshot(self.engine, self.repository(name).id)
            self._commits[name] = snap["commit_sha"] if snap else None
        return self._commits[name]


def _facts(lookup: Lookup, kind: str, args: FactArgs) -> list[Source]:
    out = []
    for repo in lookup.repositories(args.repository):
        rows, _ = fact_store.list_facts(lookup.engine, repo.id, kind, limit=500)
        for row in rows:
            if args.name and args.name.lower() not in row["subject"].lower():
                continue
            out.append(fact_source(row, repo.name))
    return out[:MAX_TOOL_SOURCES]


def who_imports(lookup: Lookup, args: ImportArgs) -> list[Source]:
    out = []
    wanted = args.module.lower()
    for repo in lookup.repositories(args.repository):
        nodes, edges = fact_store.load_graph(lookup.engine, repo.id)
        names = {n["node_id"]: n["name"] for n in nodes}
        for e in edges:
            target = names.get(e["target"], e["target"])
            if target.lower() == wanted or target.lower().startswith(wanted + ".") \
                    or target.lower().endswith("." + wanted):
                source = names.get(e["source"], e["source"])
                out.append(make_source(kind="import", repository=repo.name, path=e["path"], start_line=e["line"],
                                       end_line=e["line"], commit=lookup.commit(repo.name),
                                       ref=f"{e['source']}->{e['target']}",
                                       text=f"{source} imports {target} ({e['kind']}, {e['count']} import(s); "
                                            f"first at {e['path']}:{e['line']})"))
    return out[:MAX_TOOL_SOURCES]


def approved_abilities(lookup: Lookup, args: AbilityArgs) -> list[Source]:
    rows = ability_store.search_abilities(lookup.engine, args.query, limit=MAX_TOOL_SOURCES)
    return [ability_source(r, lookup.commit(r["repository"])) for r in rows]


def ownership(lookup: Lookup, args: OwnershipArgs) -> list[Source]:
    repo = lookup.repository(args.repository)
    path = args.path.strip("/")
    if "\x00" in path or ".." in path.split("/"):
        raise ToolFailed("path must be a relative path inside the repository")
    answer = metrics.ownership(lookup.engine, repo.id, path)
    if answer is None:
        raise ToolFailed(f"no ownership is known for {path or '/'!r} in {repo.name!r}")
    people = "; ".join(f"{a['author_name']} <{a['author_email']}> {a['share']:.0%} of lines, {a['commits']} commit(s)"
                       for a in answer["authors"][:5])
    return [make_source(kind="ownership", repository=repo.name, path=path or "/", start_line=None, end_line=None,
                        commit=lookup.commit(repo.name), ref=f"ownership:{path or '/'}",
                        text=f"ownership of the {answer['kind']} {path or '/'} ({answer['files']} file(s)): {people}")]


def shipped(lookup: Lookup, args: ShippedArgs) -> list[Source]:
    repo = lookup.repository(args.repository)
    start: date | None = None
    if args.week:
        try:
            start = parse_week(args.week)
        except ValueError:
            raise ToolArgumentError("week must look like 2024-W03 or 2024-01-17") from None
    answer = metrics.shipped(lookup.engine, repo.id, start)
    if answer is None:
        raise ToolFailed(f"nothing shipped is known for {repo.name!r} in that week")
    items = [f"{g['type']}: " + "; ".join(f"{i['title']} ({i['ref']}, {i.get('author')})" for i in g["items"][:8])
             for g in answer["groups"]]
    return [make_source(kind="shipped", repository=repo.name, path="", start_line=None, end_line=None,
                        commit=lookup.commit(repo.name), ref=f"shipped:{answer['week']}",
                        text=f"shipped in {repo.name} in week {answer['week']} ({answer['week_start']} to "
                             f"{answer['week_end']}, from {answer['source']}), {answer['total']} change(s): "
                             + " | ".join(items))]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args: type[_Args]
    run: Callable[[Lookup, _Args], list[Source]]

    def spec(self) -> dict:
        schema = self.args.model_json_schema()
        schema.pop("title", None)
        for prop in schema.get("properties", {}).values():
            prop.pop("title", None)
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": schema}}


TOOLS = {t.name: t for t in [
    Tool("dependencies", "Declared dependencies (from manifests) of a repository or of all repositories; "
         "use `name` to find which repositories use a package", FactArgs, lambda lk, a: _facts(lk, "dependency", a)),
    Tool("frameworks", "Frameworks detected in a repository or in all repositories", FactArgs,
         lambda lk, a: _facts(lk, "framework", a)),
    Tool("routes", "HTTP routes served by a repository", FactArgs, lambda lk, a: _facts(lk, "route", a)),
    Tool("entry_points", "Entry points (CLI commands, main modules, scripts) of a repository", FactArgs,
         lambda lk, a: _facts(lk, "entry_point", a)),
    Tool("who_imports", "Which modules import a module or package (the import graph)", ImportArgs, who_imports),
    Tool("approved_abilities", "Reviewed, approved abilities across repositories", AbilityArgs, approved_abilities),
    Tool("ownership", "Who owns a file or folder (authors' shares of its lines)", OwnershipArgs, ownership),
    Tool("shipped", "What shipped in a repository in a week (merged pull requests or commits by type)",
         ShippedArgs, shipped),
]}


def tool_specs() -> list[dict]:
    return [t.spec() for t in TOOLS.values()]


def parse_arguments(name: str, raw: str):
    """The validated arguments of a tool call; ToolArgumentError naming the problem otherwise."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolArgumentError(f"there is no tool {name!r} (tools: {', '.join(TOOLS)})")
    try:
        data = json.loads(raw or "{}")
    except ValueError as exc:
        raise ToolArgumentError(f"arguments are not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ToolArgumentError("arguments must be a JSON object")
    try:
        return tool.args.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                             for e in exc.errors()[:4])
        raise ToolArgumentError(problems) from None


def run_tool(lookup: Lookup, name: str, args) -> list[Source]:
    return TOOLS[name].run(lookup, args)


