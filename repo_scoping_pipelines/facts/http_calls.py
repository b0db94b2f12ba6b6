"""Outbound HTTP client calls seen in code: Python requests / httpx (module functions and Session / Client
objects made in the same file), JavaScript/TypeScript fetch and axios (and axios.create instances), Go
net/http (http.Get/Head/Post/PostForm, http.DefaultClient, http.NewRequest).

Only calls whose URL is visible are recorded: a string literal, an f-string / template string, a `+`
concatenation or a Go fmt.Sprintf whose literal part shows the path. A leading expression is the base URL
(the host is then unknown); later expressions become path parameters `{name}`. A URL that is only a
variable, or a relative path without a leading `/`, is not recorded (no call is invented). The query
string and fragment are dropped. Test files are not read (see extract.py), like routes.
"""

from __future__ import annotations

import re

from tree_sitter import Node, QueryCursor

from ..collectors import languages
from .imports import keyword_value, query, string_value, text
from .model import Fact, Import

KIND = "http_call"
VERBS = {"get": "GET", "post": "POST", "put": "PUT", "delete": "DELETE", "patch": "PATCH", "head": "HEAD",
         "options": "OPTIONS"}
_PY_MODULES = ("requests", "httpx")
_PY_CONSTRUCTORS = {"requests": ("Session", "session"), "httpx": ("Client", "AsyncClient")}
_GO_FUNCS = {"Get": "GET", "Head": "HEAD", "Post": "POST", "PostForm": "POST"}

Part = tuple[bool, str]  # (is literal text, the text or the expression's parameter name)


def extract_http_calls(grammar: str, path: str, root: Node, imports: list[Import]) -> list[Fact]:
    family = languages.grammar_family(grammar)
    if family == "python":
        return _python(path, root, imports)
    if family == "js":
        return _js(grammar, path, root, imports)
    if family == "go":
        return _go(path, root, imports)
    return []


def _call(client: str, method: str, parts: list[Part] | None, file: str, line: int, host: str | None = None
          ) -> Fact | None:
    found = url_template(parts, host) if parts else None
    if found is None:
        return None
    url, host, path = found
    value = {"method": method, "url": url, "path": path, "host": host, "client": client}
    return Fact(KIND, f"{method} {url}", value, file, line, 0.8)


def _param_name(expression: str) -> str:
    """`user.id` -> id, `str(i)` -> i, `BASE` -> BASE; `param` when no name shows."""
    names = re.findall(r"[A-Za-z_]\w*", expression or "")
    return names[-1] if names else "param"


def url_template(parts: list[Part], host: str | None = None) -> tuple[str, str | None, str] | None:
    """(url as shown, host or None, normalised path template) of a URL's parts; None when it is not visible."""
    if not parts or not any(literal and value for literal, value in parts):
        return None
    base = not parts[0][0]  # a leading expression: the base URL, host unknown
    rest = parts[1:] if base else parts
    shown = "".join(value if literal else "{" + value + "}" for literal, value in rest)
    origin = f"//{host}" if host else ""
    if not base:
        scheme = re.match(r"^(https?)://([^/?#{}]*)", shown)
        if scheme:
            if not scheme.group(2):
                return None
            host = scheme.group(2).lower()
            origin = f"{scheme.group(1)}://{host}"
            shown = shown[scheme.end():] or "/"
    if not shown.startswith("/"):
        return None
    shown = re.split(r"[?#]", shown, maxsplit=1)[0] or "/"
    path = re.sub(r"/{2,}", "/", shown)
    return origin + path, host, path


# --- Python: requests / httpx -----------------------------------------------------------------------

_PY_CALLS = "(call function: (_) @function arguments: (argument_list) @args) @call"


def _py_parts(node: Node | None) -> list[Part] | None:
    if node is None:
        return None
    if node.type == "string":
        value = string_value(node)
        if value is not None:
            return [(True, value)]
        parts: list[Part] = []
        for child in node.named_children:
            if child.type == "string_content":
                parts.append((True, text(child).replace("{{", "{").replace("}}", "}")))
            elif child.type == "interpolation":
                expression = child.child_by_field_name("expression")
                parts.append((False, _param_name(text(expression) if expression is not None else "")))
        return parts
    if node.type == "concatenated_string":
        out: list[Part] = []
        for child in node.named_children:
            out += _py_parts(child) or []
        return out
    if node.type == "binary_operator" and text(node.child_by_field_name("operator")) == "+":
        left, right = _py_parts(node.child_by_field_name("left")), _py_parts(node.child_by_field_name("right"))
        return (left or []) + (right or []) if left is not None and right is not None else None
    if node.type == "parenthesized_expression" and node.named_children:
        return _py_parts(node.named_children[0])
    if node.type in ("identifier", "attribute", "call", "subscript"):
        return [(False, _param_name(text(node)))]
    return None


def _positional(args: Node) -> list[Node]:
    return [c for c in args.named_children if c.type not in ("keyword_argument", "comment", "list_splat",
                                                              "dictionary_splat")]


def _literal_host(node: Node | None) -> str | None:
    value = string_value(node) if node is not None else None
    match = re.match(r"^https?://([^/?#{}]+)", value or "")
    return match.group(1).lower() if match else None


def _python(path: str, root: Node, imports: list[Import]) -> list[Fact]:
    modules = {m for m in _PY_MODULES if any(i.module == m and not i.names for i in imports)}
    constructors = {f"{m}.{c}": m for m in modules for c in _PY_CONSTRUCTORS[m]}
    for i in imports:
        if i.module in _PY_CONSTRUCTORS and i.level == 0:
            constructors.update({n: i.module for n in i.names if n in _PY_CONSTRUCTORS[i.module]})
    if not modules and not constructors:
        return []
    calls = [caps for _, caps in QueryCursor(query("python", _PY_CALLS, "http_calls:python")).matches(root)]
    clients: dict[str, tuple[str, str | None]] = {}  # variable -> (module, literal base_url host)
    for caps in calls:
        module = constructors.get(text(caps["function"][0]))
        if module is None:
            continue
        call, parent = caps["call"][0], caps["call"][0].parent
        target = None
        if parent is not None and parent.type == "assignment" and parent.child_by_field_name("right") == call:
            target = parent.child_by_field_name("left")
        elif parent is not None and parent.type == "as_pattern":
            alias = parent.child_by_field_name("alias")
            target = alias.named_children[0] if alias is not None and alias.named_children else None
        if target is not None and target.type in ("identifier", "attribute"):
            clients[text(target)] = (module, _literal_host(keyword_value(caps["args"][0], "base_url")))
    facts = []
    for caps in calls:
        function = caps["function"][0]
        if function.type != "attribute":
            continue
        owner, verb = text(function.child_by_field_name("object")), text(function.child_by_field_name("attribute"))
        if owner in modules:
            client, host = owner, None
        elif owner in clients:
            client, host = clients[owner]
        else:
            continue
        args = caps["args"][0]
        positional = _positional(args)
        if verb == "request":
            method_node = positional[0] if positional else keyword_value(args, "method")
            url_node = positional[1] if len(positional) > 1 else keyword_value(args, "url")
            method = (string_value(method_node) or "").upper() if method_node is not None else ""
            if method.lower() not in VERBS:
                method = "ANY"
        elif verb in VERBS:
            method, url_node = VERBS[verb], positional[0] if positional else keyword_value(args, "url")
        else:
            continue
        fact = _call(client, method, _py_parts(url_node), path, caps["call"][0].start_point.row + 1, host)
        if fact is not None:
            facts.append(fact)
    return facts


# --- JavaScript / TypeScript: fetch, axios ----------------------------------------------------------

_JS_CALLS = "(call_expression function: (_) @function arguments: (arguments) @args) @call"


def _js_parts(node: Node | None) -> list[Part] | None:
    if node is None:
        return None
    if node.type == "string":
        value = string_value(node)
        return [(True, value)] if value is not None else None
    if node.type == "template_string":
        parts: list[Part] = []
        for child in node.named_children:
            if child.type == "template_substitution":
                inner = child.named_children[0] if child.named_children else None
                parts.append((False, _param_name(text(inner) if inner is not None else "")))
            else:
                parts.append((True, text(child)))
        return parts
    if node.type == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
        left, right = _js_parts(node.child_by_field_name("left")), _js_parts(node.child_by_field_name("right"))
        return left + right if left is not None and right is not None else None
    if node.type == "parenthesized_expression" and node.named_children:
        return _js_parts(node.named_children[0])
    if node.type in ("identifier", "member_expression", "call_expression", "subscript_expression"):
        return [(False, _param_name(text(node)))]
    return None


def _js_property(obj: Node | None, name: str) -> Node | None:
    if obj is None or obj.type != "object":
        return None
    for pair in obj.named_children:
        if pair.type == "pair" and text(pair.child_by_field_name("key")).strip("'\"") == name:
            return pair.child_by_field_name("value")
    return None


def _js_method(options: Node | None, default: str) -> str:
    node = _js_property(options, "method")
    if node is None:
        return default
    value = (string_value(node) or "").lower() if node.type == "string" else ""
    return VERBS.get(value, "ANY")


def _js(grammar: str, path: str, root: Node, imports: list[Import]) -> list[Fact]:
    has_axios = any(i.module == "axios" for i in imports)
    calls = [caps for _, caps in QueryCursor(query(grammar, _JS_CALLS, f"http_calls:{grammar}")).matches(root)]
    instances: dict[str, str | None] = {}  # const api = axios.create({baseURL: "https://host"})
    if has_axios:
        for caps in calls:
            if text(caps["function"][0]) != "axios.create":
                continue
            parent = caps["call"][0].parent
            if parent is not None and parent.type == "await_expression":
                parent = parent.parent
            if parent is not None and parent.type == "variable_declarator":
                args = [c for c in caps["args"][0].named_children if c.type != "comment"]
                base = _js_property(args[0], "baseURL") if args else None
                instances[text(parent.child_by_field_name("name"))] = _literal_host(base) \
                    if base is not None and base.type == "string" else None
    facts = []
    for caps in calls:
        function = caps["function"][0]
        args = [c for c in caps["args"][0].named_children if c.type != "comment"]
        line = caps["call"][0].start_point.row + 1
        host = None
        if function.type == "identifier" and text(function) == "fetch":
            client, method = "fetch", _js_method(args[1] if len(args) > 1 else None, "GET")
            url_node = args[0] if args else None
        elif function.type == "member_expression" and has_axios:
            owner, verb = text(function.child_by_field_name("object")), text(function.child_by_field_name("property"))
            if owner != "axios" and owner not in instances:
                continue
            host = instances.get(owner)
            if verb in VERBS:
                client, method, url_node = "axios", VERBS[verb], args[0] if args else None
            elif verb == "request" and args:
                client, method, url_node = "axios", _js_method(args[0], "GET"), _js_property(args[0], "url")
            else:
                continue
        else:
            continue
        fact = _call(client, method, _js_parts(url_node), path, line, host)
        if fact is not None:
            facts.append(fact)
    return facts


# --- Go: net/http -----------------------------------------------------------------------------------

_GO_CALLS = "(call_expression function: (_) @function arguments: (argument_list) @args) @call"
_GO_VERB = re.compile(r"%[-+# 0-9.]*[a-zA-Z%]")


def _go_parts(node: Node | None) -> list[Part] | None:
    if node is None:
        return None
    if node.type in ("interpreted_string_literal", "raw_string_literal"):
        value = string_value(node)
        return [(True, value)] if value is not None else None
    if node.type == "binary_expression" and text(node.child_by_field_name("operator")) == "+":
        left, right = _go_parts(node.child_by_field_name("left")), _go_parts(node.child_by_field_name("right"))
        return left + right if left is not None and right is not None else None
    if node.type == "parenthesized_expression" and node.named_children:
        return _go_parts(node.named_children[0])
    if node.type == "call_expression" and text(node.child_by_field_name("function")) == "fmt.Sprintf":
        args = [c for c in node.child_by_field_name("arguments").named_children if c.type != "comment"]
        layout = string_value(args[0]) if args and args[0].type in ("interpreted_string_literal",
                                                                    "raw_string_literal") else None
        if layout is None:
            return None
        parts: list[Part] = []
        values = iter(args[1:])
        position = 0
        for verb in _GO_VERB.finditer(layout):
            parts.append((True, layout[position:verb.start()]))
            if verb.group(0) == "%%":
                parts.append((True, "%"))
            else:
                arg = next(values, None)
                parts.append((False, _param_name(text(arg) if arg is not None else "")))
            position = verb.end()
        parts.append((True, layout[position:]))
        return [p for p in parts if not p[0] or p[1]]
    if node.type in ("identifier", "selector_expression", "call_expression", "index_expression"):
        return [(False, _param_name(text(node)))]
    return None


def _go_method(node: Node | None) -> str:
    if node is None:
        return "ANY"
    if node.type in ("interpreted_string_literal", "raw_string_literal"):
        value = (string_value(node) or "").lower()
    else:  # http.MethodGet
        value = text(node).removeprefix("http.Method").lower() if text(node).startswith("http.Method") else ""
    return VERBS.get(value, "ANY")


def _go(path: str, root: Node, imports: list[Import]) -> list[Fact]:
    if not any(i.module == "net/http" for i in imports):
        return []
    facts = []
    for _, caps in QueryCursor(query("go", _GO_CALLS, "http_calls:go")).matches(root):
        function = caps["function"][0]
        if function.type != "selector_expression":
            continue
        operand, name = text(function.child_by_field_name("operand")), text(function.child_by_field_name("field"))
        args = [c for c in caps["args"][0].named_children if c.type != "comment"]
        if operand in ("http", "http.DefaultClient") and name in _GO_FUNCS:
            method, url_node = _GO_FUNCS[name], args[0] if args else None
        elif operand == "http" and name in ("NewRequest", "NewRequestWithContext"):
            offset = 1 if name == "NewRequestWithContext" else 0
            if len(args) < offset + 2:
                continue
            method, url_node = _go_method(args[offset]), args[offset + 1]
        else:
            continue
        fact = _call("net/http", method, _go_parts(url_node), path, caps["call"][0].start_point.row + 1)
        if fact is not None:
            facts.append(fact)
    return facts
