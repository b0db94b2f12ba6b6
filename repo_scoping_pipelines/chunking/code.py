"""Tree-sitter chunking of source code into functions, classes, methods and module gaps.

Only the top level of a file and the bodies of classes are walked: nested
functions stay inside their parent, which keeps chunking cheap (the parse is C,
the Python side touches a few nodes per definition).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tree_sitter import Node, Parser

from repo_scoping_pipelines.chunking.windows import (
    Chunk,
    has_content,
    split_oversize,
    trim_blank,
    window_chunks,
)
from repo_scoping_pipelines.collectors import languages

# Files this large are almost always generated or minified; parsing them buys
# nothing and costs time, so they go straight to line windows.
MAX_PARSE_BYTES = 2_000_000

# Parsers hold mutable state and are not safe to share between threads, so the
# cache is per thread (Dagster may run ops in a thread pool).
_LOCAL = threading.local()

_COMMENTS = frozenset({"comment", "line_comment", "block_comment"})


def get_parser(grammar: str) -> Parser | None:
    """Return this thread's cached Parser for a registered grammar, or None if unavailable."""
    cache: dict[str, tuple[object, Parser | None]] | None = getattr(_LOCAL, "parsers", None)
    if cache is None:
        cache = _LOCAL.parsers = {}
    language = languages.tree_sitter_language(grammar)
    cached = cache.get(grammar)
    if cached is None or cached[0] is not language:  # first use, or the grammar was registered anew
        cached = cache[grammar] = (language, Parser(language) if language is not None else None)
    return cached[1]


# ---------------------------------------------------------------------------
# Definitions found in the syntax tree
# ---------------------------------------------------------------------------


@dataclass
class _Def:
    """A definition found in the tree.

    ``outer`` is the node whose span counts (an export/decorator wrapper),
    ``inner`` the definition itself; ``members`` is the class body's children
    for containers, None for leaves.
    """

    kind: str  # "function" | "class" | "method"
    name: str
    outer: Node
    inner: Node
    members: list[Node] | None = None


def _rows(node: Node) -> tuple[int, int]:
    """0-based first and last row of a node, ignoring a trailing newline."""
    start = node.start_point.row
    end = node.end_point.row
    if end > start and node.end_point.column == 0:
        end -= 1
    return start, end


def node_text(node: Node | None) -> str:
    """A syntax node's source text ("" for none); the fact extractors read nodes with it too."""
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _name(node: Node, *fields: str) -> str:
    for field in fields or ("name",):
        child = node.child_by_field_name(field)
        if child is not None:
            return node_text(child)
    return ""


def _body_children(node: Node, field: str = "body") -> list[Node]:
    body = node.child_by_field_name(field)
    return list(body.named_children) if body is not None else []


# --- Python ---------------------------------------------------------------


def _py_def(node: Node, in_class: bool) -> _Def | None:
    inner = node
    if node.type == "decorated_definition":
        inner = node.child_by_field_name("definition") or node
    if inner.type == "function_definition":
        return _Def("method" if in_class else "function", _name(inner), node, inner)
    if inner.type == "class_definition":
        return _Def("class", _name(inner), node, inner, _body_children(inner))
    return None


# --- JavaScript / TypeScript ---------------------------------------------

_JS_FUNCTIONS = frozenset(
    {"function_declaration", "generator_function_declaration", "function_signature"}
)
_JS_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_JS_CLASSES = frozenset({"class_declaration", "abstract_class_declaration", "class"})
_TS_TYPES = frozenset({"interface_declaration", "type_alias_declaration", "enum_declaration"})
_JS_METHODS = frozenset({"method_definition", "abstract_method_signature", "method_signature"})
_JS_FIELDS = frozenset({"field_definition", "public_field_definition"})


def _is_function_value(value: Node | None) -> bool:
    """A function literal, or a call wrapping one (React.memo(() => ...), debounce(fn))."""
    if value is None:
        return False
    if value.type in _JS_FUNCTION_VALUES:
        return True
    if value.type == "call_expression":
        args = value.child_by_field_name("arguments")
        return args is not None and any(a.type in _JS_FUNCTION_VALUES for a in args.named_children)
    return False


def _js_def(node: Node, in_class: bool) -> _Def | None:
    if in_class:
        if node.type in _JS_METHODS:
            return _Def("method", _name(node), node, node)
        if node.type in _JS_FIELDS and _is_function_value(node.child_by_field_name("value")):
            return _Def("method", _name(node, "name", "property"), node, node)
        if node.type in _JS_CLASSES:
            return _Def("class", _name(node), node, node, _body_children(node))
        return None
    return _js_top(node, node)


def _js_top(node: Node, outer: Node) -> _Def | None:
    kind = node.type
    if kind in _JS_FUNCTIONS:
        return _Def("function", _name(node) or "default", outer, node)
    if kind in _JS_FUNCTION_VALUES:  # export default function () {}
        return _Def("function", _name(node) or "default", outer, node)
    if kind in _JS_CLASSES:
        return _Def("class", _name(node) or "default", outer, node, _body_children(node))
    if kind in _TS_TYPES:
        return _Def("class", _name(node), outer, node)
    if kind == "export_statement":
        inner = node.child_by_field_name("declaration") or node.child_by_field_name("value")
        return _js_top(inner, outer) if inner is not None else None
    if kind == "ambient_declaration":  # declare function f(): void; declare class C {}
        for child in node.named_children:
            found = _js_top(child, outer)
            if found is not None:
                return found
        return None
    if kind in ("lexical_declaration", "variable_declaration"):
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        if len(declarators) != 1:
            return None
        value = declarators[0].child_by_field_name("value")
        name = _name(declarators[0])
        if _is_function_value(value):
            return _Def("function", name, outer, node)
        if value is not None and value.type == "class":
            return _Def("class", name, outer, value, _body_children(value))
        return None
    if kind == "expression_statement":
        # module.exports = function () {}, Foo.prototype.bar = () => {}
        expr = node.named_children[0] if node.named_children else None
        if (
            expr is not None
            and expr.type == "assignment_expression"
            and _is_function_value(expr.child_by_field_name("right"))
        ):
            name = re.sub(r"\s+", "", node_text(expr.child_by_field_name("left")))
            return _Def("function", name, outer, node)
    return None


# --- Go --------------------------------------------------------------------

_GO_RECEIVER_RE = re.compile(r"[A-Za-z_]\w*")


def _go_receiver(node: Node) -> str:
    """Type name of a method receiver: (s *Server[T]) -> "Server"."""
    receiver = node.child_by_field_name("receiver")
    for param in receiver.named_children if receiver is not None else []:
        type_node = param.child_by_field_name("type")
        match = _GO_RECEIVER_RE.search(node_text(type_node))
        if match:
            return match.group(0)
    return ""


def _go_defs(node: Node) -> list[tuple[_Def, int, int]] | None:
    """Go definitions with explicit rows (a grouped ``type (...)`` yields several)."""
    start, end = _rows(node)
    if node.type == "function_declaration":
        return [(_Def("function", _name(node), node, node), start, end)]
    if node.type == "method_declaration":
        receiver = _go_receiver(node)
        name = f"{receiver}.{_name(node)}" if receiver else _name(node)
        return [(_Def("method", name, node, node), start, end)]
    if node.type == "type_declaration":
        specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
        if not specs:
            return None
        found = []
        for i, spec in enumerate(specs):
            lo, hi = _rows(spec)
            lo = start if i == 0 else _attach_leading(spec, lo)
            hi = end if i == len(specs) - 1 else hi
            found.append((_Def("class", _name(spec), node, spec), lo, hi))
        # Specs sharing a line (type (A int; B int)) cannot be told apart by lines.
        if any(found[i][1] <= found[i - 1][2] for i in range(1, len(found))):
            names = ", ".join(d.name for d, _, _ in found)
            return [(_Def("class", names, node, node), start, end)]
        return found
    return None


# --- Java --------------------------------------------------------------------

_JAVA_CLASSES = frozenset(
    {
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
    }
)
_JAVA_METHODS = frozenset(
    {"method_declaration", "constructor_declaration", "compact_constructor_declaration"}
)


def _java_members(node: Node) -> list[Node]:
    members: list[Node] = []
    for child in _body_children(node):
        # Enum methods live one level down, after the constants.
        if child.type == "enum_body_declarations":
            members.extend(child.named_children)
        else:
            members.append(child)
    return members


def _java_def(node: Node, in_class: bool) -> _Def | None:
    if node.type in _JAVA_CLASSES:
        return _Def("class", _name(node), node, node, _java_members(node))
    if in_class and node.type in _JAVA_METHODS:
        return _Def("method", _name(node), node, node)
    return None


# By language family (collectors/languages.py): every grammar of a family has the same node types.
_DEF_FINDERS: dict[str, Callable[[Node, bool], _Def | None]] = {
    "python": _py_def,
    "js": _js_def,
    "java": _java_def,
}


# ---------------------------------------------------------------------------
# Turning definitions into line spans
# ---------------------------------------------------------------------------


def _attach_leading(node: Node, start: int) -> int:
    """Extend a definition's first row over the comments/decorators directly above it.

    A comment belongs to the definition when it sits on its own line(s) with
    no blank line in between (doc comments, JSDoc, Javadoc, Go doc comments).
    TS class-member decorators are siblings, so they are taken unconditionally.
    """
    prev = node.prev_named_sibling
    while prev is not None:
        p_start, p_end = _rows(prev)
        if prev.type == "decorator":
            start = p_start
        elif prev.type in _COMMENTS and p_end == start - 1:
            before = prev.prev_named_sibling
            if before is not None and _rows(before)[1] >= p_start:
                break  # a trailing comment of the previous statement
            start = p_start
        else:
            break
        prev = prev.prev_named_sibling
    return start


Span = tuple[str, str | None, int, int]  # kind, symbol, 0-based first row, last row


def _class_spans(
    definition: _Def,
    symbol: str,
    start: int,
    end: int,
    find: Callable[[Node, bool], _Def | None],
    lines: list[str],
    out: list[Span],
) -> None:
    """Emit a class: whole if it has no members, else header + members + leftovers."""
    members: list[tuple[_Def, int, int]] = []
    last = start
    for child in definition.members or []:
        member = find(child, True)
        if member is None:
            continue
        m_start, m_end = _rows(member.outer)
        m_start = _attach_leading(member.outer, m_start)
        # Members sharing a line with the header or a previous member cannot
        # get their own line span; they stay in the enclosing chunk.
        if m_start <= last:
            continue
        members.append((member, m_start, m_end))
        last = m_end
    if not members:
        out.append(("class", symbol, start, end))
        return

    out.append(("class", symbol, start, members[0][1] - 1))
    cursor = members[0][1]
    for member, m_start, m_end in members:
        _leftover(symbol, cursor, m_start - 1, lines, out)
        member_symbol = f"{symbol}.{member.name}"
        if member.members is not None:
            _class_spans(member, member_symbol, m_start, m_end, find, lines, out)
        else:
            out.append((member.kind, member_symbol, m_start, m_end))
        cursor = m_end + 1
    _leftover(symbol, cursor, end, lines, out)


def _leftover(symbol: str, lo: int, hi: int, lines: list[str], out: list[Span]) -> None:
    """Class-body lines after the first member that no member claims (fields, "}")."""
    span = trim_blank(lines, lo + 1, hi + 1)
    if span is not None and has_content(lines, *span):
        out.append(("class", symbol, span[0] - 1, span[1] - 1))


def _spans(root: Node, grammar: str, lines: list[str]) -> tuple[list[Span], list[tuple[int, int]]]:
    """Definition spans of a parsed file (0-based rows, unsorted) and the row
    ranges their top-level definitions claim (so a class's closing "}" that
    got no chunk of its own does not leak into a module chunk)."""
    out: list[Span] = []
    claimed: list[tuple[int, int]] = []
    family = languages.grammar_family(grammar)
    if family == "go":
        for child in root.named_children:
            for definition, lo, hi in _go_defs(child) or []:
                first = _attach_leading(child, lo) if lo == _rows(child)[0] else lo
                out.append((definition.kind, definition.name, first, hi))
                claimed.append((first, hi))
        return out, claimed

    find = _DEF_FINDERS[family or ""]
    last = -1
    for child in root.named_children:
        definition = find(child, False)
        if definition is None:
            continue
        start, end = _rows(definition.outer)
        start = _attach_leading(definition.outer, start)
        if start <= last:  # two definitions on one line (minified code)
            continue
        last = end
        claimed.append((start, end))
        if definition.members is not None:
            _class_spans(definition, definition.name, start, end, find, lines, out)
        else:
            out.append((definition.kind, definition.name, start, end))
    return out, claimed


def _mostly_errors(root: Node, n_lines: int) -> bool:
    """True when the parse is too broken to trust its structure."""
    if root.type == "ERROR":
        return True
    if not root.has_error:
        return False
    bad = 0
    for child in root.children:
        if child.type == "ERROR":
            lo, hi = _rows(child)
            bad += hi - lo + 1
    return bad * 2 > n_lines


def chunk_code(
    lines: list[str],
    grammar: str,
    *,
    max_lines: int,
    max_chars: int,
    window_lines: int,
    overlap_lines: int,
) -> list[Chunk] | None:
    """Chunk source lines with tree-sitter; None means "use text windows instead"."""
    parser = get_parser(grammar)
    if parser is None:
        return None
    # Parse the lines re-joined with "\n" so tree-sitter rows are exactly
    # splitlines() indices (splitlines also breaks on \r, \f, \u2028, ...).
    source = "\n".join(lines).encode("utf-8", "replace")
    if len(source) > MAX_PARSE_BYTES:
        return None
    try:
        tree = parser.parse(source)
    except Exception:  # defensive: never let a grammar bug fail a whole run
        return None
    if tree is None or _mostly_errors(tree.root_node, len(lines)):
        return None
    try:
        spans, claimed = _spans(tree.root_node, grammar, lines)
    except Exception:  # defensive: odd error-recovered trees must not raise
        return None

    out: list[Chunk] = []
    for kind, symbol, lo, hi in spans:
        span = trim_blank(lines, max(lo, 0) + 1, min(hi, len(lines) - 1) + 1)
        if span is not None:
            out.extend(split_oversize(kind, symbol, lines, *span, max_lines=max_lines, max_chars=max_chars))

    # Module chunks: maximal runs of rows that no top-level definition claims.
    row = 0  # first row not yet accounted for
    for lo, hi in sorted(claimed):
        if lo > row:
            out.extend(_gap_chunks(lines, row + 1, lo, max_lines, max_chars, window_lines, overlap_lines))
        row = max(row, hi + 1)
    if row < len(lines):
        out.extend(_gap_chunks(lines, row + 1, len(lines), max_lines, max_chars, window_lines, overlap_lines))

    out.sort(key=lambda c: (c.start_line, c.end_line))
    return out


def _gap_chunks(
    lines: list[str],
    start: int,
    end: int,
    max_lines: int,
    max_chars: int,
    window_lines: int,
    overlap_lines: int,
) -> list[Chunk]:
    span = trim_blank(lines, start, end)
    if span is None or not has_content(lines, *span):
        return []
    if span[1] - span[0] + 1 <= max_lines:
        return split_oversize("module", None, lines, *span, max_lines=max_lines, max_chars=max_chars)
    return window_chunks(
        "module",
        lines,
        *span,
        window_lines=window_lines,
        overlap_lines=overlap_lines,
        max_lines=max_lines,
        max_chars=max_chars,
    )
