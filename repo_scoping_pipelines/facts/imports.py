"""Import statements of Python, JavaScript/TypeScript, Go and Java files, read with tree-sitter queries
(the matching runs in C; Python touches only the matched nodes)."""

from __future__ import annotations

import threading

from tree_sitter import Node, Query, QueryCursor

from ..chunking.code import node_text as text
from ..collectors import languages
from .model import Import

# By language family (collectors/languages.py); compiled once per grammar of the family.
_QUERIES = {
    "python": """
        (import_statement name: (dotted_name) @module)
        (import_statement name: (aliased_import name: (dotted_name) @module))
        (import_from_statement) @from
    """,
    "js": """
        (import_statement source: (string) @source)
        (export_statement source: (string) @source)
        (call_expression function: (identifier) @fn arguments: (arguments . (string) @source))
        (call_expression function: (import) arguments: (arguments . (string) @source))
    """,
    "go": """
        (import_spec path: (_) @source)
        (package_clause (package_identifier) @package)
    """,
    "java": """
        (import_declaration) @import
        (package_declaration) @package
    """,
}

_compiled: dict[str, Query] = {}
_lock = threading.Lock()


def query(grammar: str, source: str, key: str | None = None) -> Query:
    """A compiled query for a grammar, built once per process (Query objects are read-only)."""
    key = key or f"{grammar}:{hash(source)}"
    with _lock:
        if key not in _compiled:
            _compiled[key] = Query(languages.tree_sitter_language(grammar), source)
        return _compiled[key]


def keyword_value(args: Node, name: str) -> Node | None:
    """The value of the keyword argument `name` in a Python argument list, or None."""
    for child in args.named_children:
        if child.type == "keyword_argument" and text(child.child_by_field_name("name")) == name:
            return child.child_by_field_name("value")
    return None


def string_value(node: Node) -> str | None:
    """The value of a string literal node (quotes removed), or None when it is interpolated."""
    raw = text(node)
    if node.type in ("template_string",) and "${" in raw:
        return None
    if node.type == "string" and raw[:1] not in ("'", '"', "`"):  # Python prefixes: b"", f"", r""
        prefix = raw[: len(raw) - len(raw.lstrip("rRbBuUfF"))]
        if "f" in prefix.lower():
            return None
        raw = raw[len(prefix):]
    for quote in ('"""', "'''", '"', "'", "`"):
        if len(raw) >= 2 * len(quote) and raw.startswith(quote) and raw.endswith(quote):
            return raw[len(quote):-len(quote)]
    return None


def extract_imports(grammar: str, root: Node) -> tuple[list[Import], str | None]:
    """(imports in source order, the package the file declares (Go, Java) or None)."""
    family = languages.grammar_family(grammar)
    if family not in _QUERIES:
        return [], None
    captures = QueryCursor(query(grammar, _QUERIES[family], f"imports:{grammar}")).captures(root)
    found: list[Import] = []
    declares = None
    if family == "python":
        for node in captures.get("module", []):
            found.append(Import(text(node), node.start_point.row + 1))
        for node in captures.get("from", []):
            found.append(_python_from(node))
    elif family == "js":
        for node in captures.get("source", []):
            call = node.parent.parent if node.parent is not None else None
            if call is not None and call.type == "call_expression":
                function = call.child_by_field_name("function")
                if function is not None and function.type == "identifier" and text(function) != "require":
                    continue
            value = string_value(node)
            if value:
                found.append(Import(value, node.start_point.row + 1))
    elif family == "go":
        for node in captures.get("source", []):
            value = string_value(node)
            if value:
                found.append(Import(value, node.start_point.row + 1))
        packages = captures.get("package", [])
        declares = text(packages[0]) if packages else None
    elif family == "java":
        for node in captures.get("import", []):
            words = text(node).replace(";", " ").split()
            module = next((w for w in words[1:] if w != "static"), "")
            if module:
                found.append(Import(module.replace(" ", ""), node.start_point.row + 1))
        packages = captures.get("package", [])
        if packages:
            declares = text(packages[0]).replace(";", " ").split()[-1]
    found.sort(key=lambda i: (i.line, i.module))
    return found, declares


def _python_from(node: Node) -> Import:
    module_node = node.child_by_field_name("module_name")
    level, module = 0, ""
    if module_node is not None and module_node.type == "relative_import":
        for child in module_node.children:
            if child.type == "import_prefix":
                level = text(child).count(".")
            elif child.type == "dotted_name":
                module = text(child)
    else:
        module = text(module_node)
    names = []
    for child in node.children_by_field_name("name"):
        target = child.child_by_field_name("name") if child.type == "aliased_import" else child
        names.append(text(target))
    return Import(module, node.start_point.row + 1, level, tuple(names))
