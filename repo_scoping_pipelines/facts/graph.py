"""The import graph: modules (Python and JavaScript/TypeScript files, Go packages, Java classes) as nodes,
imports as edges, internal targets resolved to the files that define them, external ones to packages."""

from __future__ import annotations

import posixpath
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..collectors import languages
from .model import FileExtraction, Import

# A relative JavaScript/TypeScript import probes these endings in order: TypeScript sources before the
# JavaScript they compile to, then the js family's other extensions (collectors/languages.py), then typings.
_JS_PROBE_FIRST = (".ts", ".tsx", ".js", ".jsx")


def _js_extensions() -> tuple[str, ...]:
    return (*dict.fromkeys((*_JS_PROBE_FIRST, *languages.extensions_of_family("js"))), ".d.ts")


_NODE_BUILTINS = frozenset({
    "assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants", "crypto", "dgram",
    "diagnostics_channel", "dns", "domain", "events", "fs", "http", "http2", "https", "inspector", "module",
    "net", "os", "path", "perf_hooks", "process", "punycode", "querystring", "readline", "repl", "stream",
    "string_decoder", "sys", "timers", "tls", "trace_events", "tty", "url", "util", "v8", "vm", "wasi",
    "worker_threads", "zlib", "test"
})
_PY_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Target:
    node: str  # node id: a repository path (file, or directory for Go packages) or "<family>:<package>"
    kind: str  # internal | external | stdlib


@dataclass
class Graph:
    nodes: list[dict] = field(default_factory=list)
    edges: list[dict] = field(default_factory=list)
    unresolved: int = 0  # relative imports that point at no file of the snapshot


class Resolver:
    """Resolves imports of one snapshot's files to internal modules or external packages."""

    def __init__(self, inventory: list[dict], extractions: dict[str, FileExtraction]) -> None:
        self.language = {r["path"]: r.get("language") for r in inventory}
        self.paths = set(self.language)
        self.family = {p: languages.family(lang) for p, lang in self.language.items()}
        self.code = sorted(p for p in extractions if self.family.get(p))
        self.js_extensions = _js_extensions()
        self.py_modules: dict[str, str] = {}
        self.py_name: dict[str, str] = {}
        for path in (p for p in self.code if p.endswith(".py")):
            for name in self._python_names(path):
                self.py_modules.setdefault(name, path)
            self.py_name[path] = self._python_names(path)[0]
        self.go_modules: list[tuple[str, str]] = []  # (module path, directory) longest first
        self.go_required: list[str] = []
        self.java_classes: dict[str, str] = {}
        self.java_packages: dict[str, list[str]] = defaultdict(list)
        for path, extraction in extractions.items():
            for fact in extraction.facts:
                if fact.kind == "manifest" and fact.value.get("ecosystem") == "go" and fact.value.get("name"):
                    directory = posixpath.dirname(path)
                    self.go_modules.append((fact.value["name"], directory))
                elif fact.kind == "dependency" and fact.value.get("ecosystem") == "go":
                    self.go_required.append(fact.subject)
            if path.endswith(".java") and extraction.declares is not None:
                self.java_classes[f"{extraction.declares}.{PurePosixPath(path).stem}"] = path
                self.java_packages[extraction.declares].append(path)
        self.go_modules.sort(key=lambda m: -len(m[0]))
        self.go_required.sort(key=len, reverse=True)

    # -- node of a file -------------------------------------------------------------------------------
    def node_of(self, path: str) -> str:
        """Go files belong to their package (directory); every other module is its file."""
        if path.endswith(".go"):
            return posixpath.dirname(path) + "/" if "/" in path else "./"
        return path

    # -- Python -----------------------------------------------------------------------------------------
    def _python_names(self, path: str) -> list[str]:
        """Dotted names of a file: under its top-level package's parent first, then from the repository root."""
        parts = list(PurePosixPath(path).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        directories = list(PurePosixPath(path).parent.parts)
        # The outermost regular package above the file (namespace folders inside it count as packages).
        top = next((i for i in range(len(directories))
                    if "/".join(directories[: i + 1]) + "/__init__.py" in self.paths), len(directories))
        names = [".".join(parts[top:]), ".".join(parts)]
        return [n for n in dict.fromkeys(names) if n]

    def _python(self, path: str, imp: Import) -> list[Target]:
        module = imp.module
        if imp.level:
            own = self.py_name.get(path, "").split(".")
            package = own if path.endswith("__init__.py") else own[:-1]
            base = package[: len(package) - (imp.level - 1)] if imp.level - 1 <= len(package) else []
            module = ".".join([*base, *([module] if module else [])])
        candidates = [f"{module}.{name}" for name in imp.names if name != "*"] if imp.names else []
        targets = []
        for candidate in candidates:
            if candidate in self.py_modules:
                targets.append(Target(self.py_modules[candidate], "internal"))
        if targets:
            return targets
        parts = module.split(".") if module else []
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in self.py_modules:
                return [Target(self.py_modules[prefix], "internal")]
        if imp.level or not parts:
            return []  # a relative import of nothing in this snapshot
        top = parts[0]
        return [Target(f"python:{top}", "stdlib" if top in _PY_STDLIB else "external")]

    # -- JavaScript / TypeScript --------------------------------------------------------------------
    def _js(self, path: str, imp: Import) -> list[Target]:
        spec = imp.module.split("?", 1)[0]
        if spec.startswith((".", "/", "@/", "~/")):
            if spec.startswith(("@/", "~/")):
                base = posixpath.normpath("src/" + spec[2:])
            else:
                base = posixpath.normpath(posixpath.join(posixpath.dirname(path), spec.lstrip("/")
                                                         if spec.startswith("/") else spec))
            for candidate in (base, *(base + e for e in self.js_extensions),
                              *(posixpath.join(base, "index" + e).removeprefix("./") for e in self.js_extensions)):
                if self.family.get(candidate) == "js":
                    return [Target(candidate, "internal")]
            return []
        if spec.startswith("node:") or spec.split("/", 1)[0] in _NODE_BUILTINS:
            return [Target("node:" + spec.removeprefix("node:").split("/", 1)[0], "stdlib")]
        package = "/".join(spec.split("/", 2)[:2]) if spec.startswith("@") else spec.split("/", 1)[0]
        return [Target(f"npm:{package}", "external")]

    # -- Go -----------------------------------------------------------------------------------------------
    def _go(self, path: str, imp: Import) -> list[Target]:
        spec = imp.module
        for module, directory in self.go_modules:
            if spec == module or spec.startswith(module + "/"):
                rest = spec[len(module):].lstrip("/")
                target = posixpath.join(directory, rest) if directory else rest
                return [Target(target + "/" if target else "./", "internal")]
        if "." not in spec.split("/", 1)[0]:
            return [Target(f"go:{spec}", "stdlib")]
        required = next((m for m in self.go_required if spec == m or spec.startswith(m + "/")), None)
        if required is None:
            parts = spec.split("/")
            required = "/".join(parts[:3] if parts[0] in ("github.com", "gitlab.com", "bitbucket.org", "golang.org")
                                else parts[:2])
        return [Target(f"go:{required}", "external")]

    # -- Java -----------------------------------------------------------------------------------------------
    def _java(self, path: str, imp: Import) -> list[Target]:
        spec = imp.module
        if spec.endswith(".*"):  # a whole package, or (static) every member of a class
            package = spec[:-2]
            if package in self.java_packages:
                return [Target(p, "internal") for p in sorted(self.java_packages[package])]
            spec = package + ".*"
        parts = spec.split(".")
        for end in range(len(parts), 1, -1):
            name = ".".join(parts[:end])
            if name in self.java_classes:
                return [Target(self.java_classes[name], "internal")]
        group = ".".join(parts[: max(1, min(2, len(parts) - 1))])
        stdlib = parts[0] in ("java", "javax", "jdk", "sun") or spec.startswith("com.sun.")
        return [Target(f"java:{group}", "stdlib" if stdlib else "external")]

    def resolve(self, path: str, imp: Import) -> list[Target]:
        family = self.family.get(path)
        resolver = {"python": self._python, "js": self._js, "go": self._go, "java": self._java}.get(family or "")
        return resolver(path, imp) if resolver else []


def build_graph(inventory: list[dict], extractions: dict[str, FileExtraction]) -> Graph:
    """Nodes with language, lines, degrees (over all edges) and PageRank over the internal edges (rank 1 =
    the most central module of the codebase; external packages have PageRank 0 and no rank)."""
    resolver = Resolver(inventory, extractions)
    lines = {r["path"]: r["lines"] for r in inventory}
    graph = Graph()
    nodes: dict[str, dict] = {}
    for path in resolver.code:
        node = resolver.node_of(path)
        entry = nodes.setdefault(node, {"id": node, "name": _display_name(resolver, path, node), "path": node,
                                        "language": resolver.language[path], "lines": 0, "files": 0,
                                        "internal": True, "kind": "package" if node.endswith("/") else "module"})
        entry["lines"] += lines.get(path, 0)
        entry["files"] += 1
    edges: dict[tuple[str, str], dict] = {}
    for path in resolver.code:
        source = resolver.node_of(path)
        for imp in extractions[path].imports:
            targets = resolver.resolve(path, imp)
            if not targets and (imp.level or imp.module.startswith(".")):
                graph.unresolved += 1
            for target in targets:
                if target.node == source:
                    continue
                if target.node not in nodes:
                    if target.kind == "internal":
                        continue  # e.g. a file that failed to parse
                    nodes[target.node] = {"id": target.node, "name": target.node.split(":", 1)[1], "path": None,
                                          "language": resolver.language[path], "lines": 0, "files": 0,
                                          "internal": False, "kind": target.kind}
                edge = edges.get((source, target.node))
                if edge is None:
                    edges[(source, target.node)] = {"source": source, "target": target.node, "kind": target.kind,
                                                    "count": 1, "path": path, "line": imp.line}
                else:
                    edge["count"] += 1
    import networkx as nx  # here: a no-change refresh skips the graph, and the import costs ~0.2 s a start

    digraph = nx.DiGraph()
    digraph.add_nodes_from(nodes)
    digraph.add_weighted_edges_from((e["source"], e["target"], e["count"]) for e in edges.values())
    # Centrality of the codebase's own modules: PageRank over internal edges only, so that ubiquitous
    # external packages (typing, fmt, react) do not soak up the rank. External nodes get 0.
    internal_graph = digraph.subgraph([n for n, data in nodes.items() if data["internal"]])
    pagerank = nx.pagerank(internal_graph, weight="weight") if len(internal_graph) else {}
    for node_id, node in nodes.items():
        node["in_degree"] = digraph.in_degree(node_id)
        node["out_degree"] = digraph.out_degree(node_id)
        node["pagerank"] = round(float(pagerank.get(node_id, 0.0)), 8)
        node["rank"] = None
    internal = sorted((n for n in nodes.values() if n["internal"]), key=lambda n: (-n["pagerank"], n["id"]))
    for position, node in enumerate(internal, 1):
        node["rank"] = position
    graph.nodes = sorted(nodes.values(), key=lambda n: (n["rank"] is None, n["rank"] or 0, n["id"]))
    graph.edges = sorted(edges.values(), key=lambda e: (e["source"], e["target"]))
    return graph


def _display_name(resolver: Resolver, path: str, node: str) -> str:
    if path.endswith(".py"):
        return resolver.py_name.get(path, path)
    if node.endswith("/"):
        module = next((m for m, d in resolver.go_modules if node.startswith(d + "/" if d else "")), None)
        rest = node.rstrip("/").lstrip("./") if node != "./" else ""
        return f"{module}/{rest}".rstrip("/") if module else (rest or ".")
    if path.endswith(".java"):
        return next((k for k, v in resolver.java_classes.items() if v == path), path)
    return path


def external_imports(resolver: Resolver, extractions: dict[str, FileExtraction]) -> list[tuple[str, str, int, str]]:
    """(language family, path, line, module) of every import that leaves the repository."""
    out = []
    for path in resolver.code:
        family = resolver.family[path]
        for imp in extractions[path].imports:
            if any(t.kind == "external" for t in resolver.resolve(path, imp)):
                out.append((family, path, imp.line, imp.module))
    return out
