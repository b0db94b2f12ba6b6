"""HTTP routes (method, path, handler) declared in code: FastAPI and Flask decorators, Django urlpatterns,
Express apps and routers, Spring mapping annotations, Go net/http, gorilla/mux, Gin, Echo and chi."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from tree_sitter import Node, QueryCursor

from ..collectors import languages
from .imports import keyword_value, query, string_value, text
from .model import Fact, Import

HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE")


def _route(framework: str, method: str, path: str, handler: str, file: str, line: int,
           confidence: float = 0.9, **extra) -> Fact:
    value = {"method": method, "path": path, "handler": handler, "framework": framework, **extra}
    return Fact("route", f"{method} {path}", value, file, line, confidence)


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path or "/"
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/")


def _imports_any(imports: list[Import], *modules: str) -> bool:
    return any(i.module == m or i.module.startswith((m + ".", m + "/")) for i in imports for m in modules)


def extract_routes(grammar: str, path: str, root: Node, imports: list[Import]) -> list[Fact]:
    family = languages.grammar_family(grammar)
    if family == "python":
        facts = []
        if _imports_any(imports, "fastapi", "flask"):
            facts += _python_decorators(path, root, imports)
        if PurePosixPath(path).name == "urls.py" or _imports_any(imports, "django.urls", "django.conf.urls"):
            facts += _django(path, root)
        return facts
    if family == "js" and _imports_any(imports, "express"):
        return _express(grammar, path, root)
    if family == "go":
        return _go(path, root, imports)
    if family == "java" and _imports_any(imports, "org.springframework"):
        return _spring(path, root)
    return []


# --- FastAPI / Flask -------------------------------------------------------------------------------

_PY_DECORATED = """
(decorated_definition
  (decorator (call function: (attribute object: (_) @object attribute: (identifier) @method)
                   arguments: (argument_list) @args))
  definition: (function_definition name: (identifier) @handler)) @definition
"""
_PY_ROUTERS = """
(assignment left: (identifier) @name right: (call function: (_) @constructor arguments: (argument_list) @args))
"""
_FASTAPI_METHODS = {"get", "post", "put", "delete", "patch", "options", "head", "trace", "api_route", "websocket"}
_FLASK_METHODS = {"route", "get", "post", "put", "delete", "patch"}


def _first_positional(args: Node) -> Node | None:
    return next((c for c in args.named_children if c.type not in ("keyword_argument", "comment")), None)


def _string_list(node: Node | None) -> list[str]:
    if node is None:
        return []
    values = [string_value(c) for c in node.named_children] if node.type in ("list", "tuple", "set", "array",
                                                                             "element_value_array_initializer") \
        else [string_value(node)]
    return [v for v in values if v]


def _python_decorators(path: str, root: Node, imports: list[Import]) -> list[Fact]:
    fastapi = _imports_any(imports, "fastapi")
    framework, methods = ("FastAPI", _FASTAPI_METHODS) if fastapi else ("Flask", _FLASK_METHODS)
    prefixes: dict[str, str] = {}
    for match in QueryCursor(query("python", _PY_ROUTERS, "routes:python-routers")).matches(root):
        constructor = text(match[1]["constructor"][0]).rsplit(".", 1)[-1]
        keyword = {"APIRouter": "prefix", "Blueprint": "url_prefix"}.get(constructor)
        if keyword:
            prefix = keyword_value(match[1]["args"][0], keyword)
            prefixes[text(match[1]["name"][0])] = (string_value(prefix) or "") if prefix is not None else ""
    facts = []
    for _, caps in QueryCursor(query("python", _PY_DECORATED, "routes:python")).matches(root):
        method = text(caps["method"][0])
        if method not in methods:
            continue
        args, owner = caps["args"][0], text(caps["object"][0])
        route_node = _first_positional(args) or keyword_value(args, "path") or keyword_value(args, "rule")
        route = string_value(route_node) if route_node is not None else None
        if route is None:
            continue
        if method in ("route", "api_route"):
            verbs = [m.upper() for m in _string_list(keyword_value(args, "methods"))] or ["GET"]
        elif method == "websocket":
            verbs = ["WEBSOCKET"]
        else:
            verbs = [method.upper()]
        handler = text(caps["handler"][0])
        line = caps["args"][0].start_point.row + 1
        for verb in verbs:
            facts.append(_route(framework, verb, _join(prefixes.get(owner, ""), route), handler, path, line))
    return facts


# --- Django ------------------------------------------------------------------------------------------

_DJANGO_CALLS = "(call function: (identifier) @function arguments: (argument_list) @args) @call"


def _django(path: str, root: Node) -> list[Fact]:
    facts = []
    for _, caps in QueryCursor(query("python", _DJANGO_CALLS, "routes:django")).matches(root):
        function = text(caps["function"][0])
        if function not in ("path", "re_path", "url"):
            continue
        positional = [c for c in caps["args"][0].named_children if c.type not in ("keyword_argument", "comment")]
        if len(positional) < 2:
            continue
        route = string_value(positional[0])
        if route is None:
            continue
        view = positional[1]
        display = route if function != "path" else "/" + route.lstrip("/")
        line = caps["call"][0].start_point.row + 1
        if view.type == "call" and text(view.child_by_field_name("function")) == "include":
            target = _first_positional(view.child_by_field_name("arguments"))
            included = string_value(target) if target is not None else None
            facts.append(_route("Django", "INCLUDE", display, f"include({included or text(target)})", path, line,
                                0.8, include=included))
            continue
        handler = re.sub(r"\s+", "", text(view))
        handler = re.sub(r"\.as_view\(.*\)$", "", handler)
        facts.append(_route("Django", "ANY", display, handler, path, line))
    return facts


# --- Express -----------------------------------------------------------------------------------------

_JS_CALLS = """
(call_expression function: (member_expression object: (_) @object property: (property_identifier) @method)
                 arguments: (arguments) @args) @call
"""
_EXPRESS_METHODS = {"get", "post", "put", "delete", "patch", "options", "head", "all"}


def _express(grammar: str, path: str, root: Node) -> list[Fact]:
    facts = []
    for _, caps in QueryCursor(query(grammar, _JS_CALLS, f"routes:{grammar}")).matches(root):
        method = text(caps["method"][0])
        if method not in _EXPRESS_METHODS:
            continue
        args = [c for c in caps["args"][0].named_children if c.type != "comment"]
        owner = caps["object"][0]
        route_node = None
        while owner.type == "call_expression":  # router.route('/book').get(h).put(h)
            inner = owner.child_by_field_name("function")
            if inner is None or inner.type != "member_expression":
                break
            prop = text(inner.child_by_field_name("property"))
            if prop == "route":
                inner_args = [c for c in owner.child_by_field_name("arguments").named_children if c.type != "comment"]
                route_node = inner_args[0] if inner_args else None
                handlers = args
                break
            if prop not in _EXPRESS_METHODS:
                break
            owner = inner.child_by_field_name("object")
        if route_node is None:
            if len(args) < 2:
                continue
            route_node, handlers = args[0], args[1:]
        if route_node.type not in ("string", "template_string") or not handlers:
            continue
        route = string_value(route_node)
        if route is None or not route.startswith(("/", "*")):
            continue  # app.get('env') reads a setting
        facts.append(_route("Express", method.upper() if method != "all" else "ANY", route,
                            _js_handler(handlers[-1]), path, caps["call"][0].start_point.row + 1))
    return facts


def _js_handler(node: Node) -> str:
    if node.type in ("identifier", "member_expression"):
        return re.sub(r"\s+", "", text(node))
    if node.type in ("function_expression", "function"):
        name = node.child_by_field_name("name")
        return text(name) if name is not None else "<anonymous function>"
    if node.type == "arrow_function":
        return "<arrow function>"
    if node.type == "call_expression":
        return re.sub(r"\s+", "", text(node.child_by_field_name("function"))) + "(...)"
    return node.type


# --- Spring ------------------------------------------------------------------------------------------

_SPRING = {"GetMapping": "GET", "PostMapping": "POST", "PutMapping": "PUT", "DeleteMapping": "DELETE",
           "PatchMapping": "PATCH", "RequestMapping": None}


def _annotations(node: Node) -> list[tuple[str, Node | None, Node]]:
    modifiers = next((c for c in node.children if c.type == "modifiers"), None)
    found = []
    for child in modifiers.named_children if modifiers is not None else []:
        if child.type in ("annotation", "marker_annotation"):
            name = text(child.child_by_field_name("name")).rsplit(".", 1)[-1]
            found.append((name, child.child_by_field_name("arguments"), child))
    return found


def _mapping(arguments: Node | None) -> tuple[list[str], list[str]]:
    """(paths, methods) of a mapping annotation's arguments."""
    if arguments is None:
        return [""], []
    paths: list[str] = []
    methods: list[str] = []
    for child in arguments.named_children:
        if child.type == "element_value_pair":
            key, value = text(child.child_by_field_name("key")), child.child_by_field_name("value")
            if key in ("value", "path"):
                paths += _string_list(value)
            elif key == "method":
                items = value.named_children if value.type == "element_value_array_initializer" else [value]
                methods += [text(i).rsplit(".", 1)[-1] for i in items]
        elif child.type in ("string_literal", "element_value_array_initializer"):
            paths += _string_list(child) if child.type != "string_literal" else [string_value(child) or ""]
    return paths or [""], methods


def _spring(path: str, root: Node) -> list[Fact]:
    facts = []
    for cls in root.named_children:
        if cls.type != "class_declaration":
            continue
        class_name = text(cls.child_by_field_name("name"))
        prefixes = [""]
        for name, arguments, _ in _annotations(cls):
            if name == "RequestMapping":
                prefixes = _mapping(arguments)[0]
        body = cls.child_by_field_name("body")
        for member in body.named_children if body is not None else []:
            if member.type != "method_declaration":
                continue
            for name, arguments, annotation in _annotations(member):
                if name not in _SPRING:
                    continue
                paths, methods = _mapping(arguments)
                verbs = [_SPRING[name]] if _SPRING[name] else (methods or ["ANY"])
                handler = f"{class_name}.{text(member.child_by_field_name('name'))}"
                for prefix in prefixes:
                    for route in paths:
                        for verb in verbs:
                            facts.append(_route("Spring", verb, _join(prefix, route) or "/", handler, path,
                                                annotation.start_point.row + 1))
    return facts


# --- Go: net/http, gorilla/mux, Gin, Echo, chi -----------------------------------------------------

_GO_CALLS = """
(call_expression function: (selector_expression operand: (_) @operand field: (field_identifier) @method)
                 arguments: (argument_list) @args) @call
"""
_GO_FRAMEWORKS = [  # (import path, framework, route methods, group method)
    ("github.com/gin-gonic/gin", "Gin", {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "Any", "Handle"},
     "Group"),
    ("github.com/labstack/echo", "Echo", {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "Any"}, "Group"),
    ("github.com/go-chi/chi", "chi", {"Get", "Post", "Put", "Delete", "Patch", "Head", "Options", "HandleFunc",
                                      "Handle"}, "Route"),
    ("github.com/gorilla/mux", "gorilla/mux", {"HandleFunc", "Handle"}, "PathPrefix"),
    ("net/http", "net/http", {"HandleFunc", "Handle"}, None),
]


def _go(path: str, root: Node, imports: list[Import]) -> list[Fact]:
    frameworks = [f for f in _GO_FRAMEWORKS if _imports_any(imports, f[0])]
    if not frameworks:
        return []
    matches = [caps for _, caps in QueryCursor(query("go", _GO_CALLS, "routes:go")).matches(root)]
    groups: dict[str, tuple[str, str]] = {}  # variable -> (parent variable, prefix) from v1 := r.Group("/v1")
    group_methods = {f[3] for f in frameworks if f[3]}
    for caps in matches:
        if text(caps["method"][0]) in group_methods:
            call = caps["call"][0]
            declaration = call.parent.parent if call.parent is not None else None
            args = [c for c in caps["args"][0].named_children if c.type != "comment"]
            if declaration is not None and declaration.type in ("short_var_declaration", "assignment_statement") \
                    and args and args[0].type in ("interpreted_string_literal", "raw_string_literal"):
                left = declaration.child_by_field_name("left")
                groups[text(left).split(",")[0].strip()] = (text(caps["operand"][0]), string_value(args[0]) or "")

    def prefix(variable: str, depth: int = 0) -> str:
        if variable not in groups or depth > 10:
            return ""
        parent, own = groups[variable]
        return _join(prefix(parent, depth + 1), own)

    facts = []
    for caps in matches:
        method = text(caps["method"][0])
        framework = next((f for f in frameworks if method in f[2]), None)
        if framework is None:
            continue
        args = [c for c in caps["args"][0].named_children if c.type != "comment"]
        if method == "Handle" and framework[1] in ("Gin",):
            verb_node, args = (args[0], args[1:]) if args else (None, [])
            verbs = [string_value(verb_node) or "ANY"] if verb_node is not None else ["ANY"]
        else:
            verbs = [method.upper()] if method.upper() in HTTP_METHODS else ["ANY"]
        if len(args) < 2 or args[0].type not in ("interpreted_string_literal", "raw_string_literal"):
            continue
        route = string_value(args[0]) or ""
        if framework[1] == "net/http" and re.match(r"^[A-Z]+ ", route):  # Go 1.22 patterns: "GET /items/{id}"
            verb, route = route.split(" ", 1)
            verbs = [verb]
        if framework[1] == "gorilla/mux":
            verbs = _mux_methods(caps["call"][0]) or verbs
        handler_node = args[-1]
        handler = "<func literal>" if handler_node.type == "func_literal" else re.sub(r"\s+", "", text(handler_node))
        full = _join(prefix(text(caps["operand"][0])), route)
        for verb in verbs:
            facts.append(_route(framework[1], verb, full, handler, path, caps["call"][0].start_point.row + 1))
    return facts


def _mux_methods(call: Node) -> list[str]:
    """r.HandleFunc("/x", h).Methods("GET", "POST")"""
    selector = call.parent
    if selector is None or selector.type != "selector_expression" or \
            text(selector.child_by_field_name("field")) != "Methods":
        return []
    outer = selector.parent
    arguments = outer.child_by_field_name("arguments") if outer is not None else None
    return [v for v in (string_value(c) for c in (arguments.named_children if arguments else [])) if v]


def resolve_includes(facts: list[Fact]) -> list[Fact]:
    """Prefix Django routes with the paths their urls module is include()d under (across files)."""
    django = [f for f in facts if f.kind == "route" and f.value.get("framework") == "Django"]
    includes = [f for f in django if f.value.get("include")]
    if not includes:
        return facts
    files = sorted({f.path for f in django})

    def file_for(module: str) -> str | None:
        relative = module.replace(".", "/") + ".py"
        return next((p for p in files if p == relative or p.endswith("/" + relative)), None)

    mounted: dict[str, list[Fact]] = {}
    for include in includes:
        target = file_for(include.value["include"])
        if target is not None:
            mounted.setdefault(target, []).append(include)

    def prefixes(path: str, depth: int = 0) -> list[str]:
        if path not in mounted or depth > 8:
            return [""]
        return [_join(outer, include.value["path"]) for include in mounted[path]
                for outer in prefixes(include.path, depth + 1)]

    django_ids = {id(f) for f in django}
    out = [f for f in facts if id(f) not in django_ids]
    for fact in django:
        for prefix in prefixes(fact.path):
            if not prefix:
                out.append(fact)
                continue
            full = _join(prefix, fact.value["path"])
            out.append(Fact(fact.kind, f"{fact.value['method']} {full}", {**fact.value, "path": full,
                                                                          "mounted_at": prefix},
                            fact.path, fact.line, fact.confidence))
    return out
