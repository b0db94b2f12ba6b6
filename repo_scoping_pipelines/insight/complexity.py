"""Cyclomatic complexity of a source file from its tree-sitter syntax tree (the hotspots' complexity).

Definition (McCabe, counted per function and summed per file):
    complexity(file) = Σ over functions (1 + decision points inside it) + decision points outside functions
                     = functions + decision points
Decision points: if / elif / else-if, loops (for, for-in, while, do), case arms (switch case, match
case, Go expression/type/select cases), catch / except clauses, conditional expressions (ternaries),
comprehension `for` / `if` clauses, and the short-circuit operators `&&`, `||`, `??` (Python `and`,
`or`). Functions: definitions, methods, lambdas/arrow functions/function literals, constructors.

Only languages with a tree-sitter grammar in collectors/languages.py (Python, JavaScript,
TypeScript/TSX, Go, Java) get a complexity; other files get None and are not ranked as hotspots.
One tree-sitter query per grammar counts the nodes in C (no Python walk over the tree).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tree_sitter import Query, QueryCursor

from ..chunking.code import MAX_PARSE_BYTES, get_parser
from ..collectors import languages

_DECISIONS = {
    "python": ("if_statement", "elif_clause", "for_statement", "while_statement", "except_clause",
               "conditional_expression", "boolean_operator", "for_in_clause", "if_clause", "case_clause"),
    "js": ("if_statement", "for_statement", "for_in_statement", "while_statement", "do_statement", "catch_clause",
           "ternary_expression", "switch_case"),
    "go": ("if_statement", "for_statement", "expression_case", "type_case", "communication_case"),
    "java": ("if_statement", "for_statement", "enhanced_for_statement", "while_statement", "do_statement",
             "catch_clause", "ternary_expression", "switch_label"),
}
_SHORT_CIRCUIT = {"js": ("&&", "||", "??"), "go": ("&&", "||"), "java": ("&&", "||")}
_FUNCTIONS = {
    "python": ("function_definition", "lambda"),
    "js": ("function_declaration", "generator_function_declaration", "function_expression", "function",
           "generator_function", "arrow_function", "method_definition"),
    "go": ("function_declaration", "method_declaration", "func_literal"),
    "java": ("method_declaration", "constructor_declaration", "lambda_expression"),
}

_LOCAL = threading.local()


@dataclass(frozen=True)
class Complexity:
    complexity: int  # functions + decision points
    functions: int
    decisions: int


def _query(grammar: str) -> Query | None:
    cache = getattr(_LOCAL, "queries", None)
    if cache is None:
        cache = _LOCAL.queries = {}
    if grammar in cache:
        return cache[grammar]
    language = languages.tree_sitter_language(grammar)
    family = languages.grammar_family(grammar)
    query = None
    if language is not None and family in _DECISIONS:
        def known(kind: str) -> bool:  # grammars differ by version: only ask for node types they have
            return language.id_for_node_kind(kind, True) not in (None, 0)

        parts = [f"({k}) @decision" for k in _DECISIONS[family] if known(k)]
        ops = " ".join(f'"{op}"' for op in _SHORT_CIRCUIT.get(family, ()))
        if ops and known("binary_expression"):
            parts.append(f"(binary_expression operator: [{ops}] @decision)")
        parts += [f"({k}) @function" for k in _FUNCTIONS[family] if known(k)]
        query = Query(language, "\n".join(parts))
    cache[grammar] = query
    return query


def file_complexity(path: str, source: bytes, language: str | None = None) -> Complexity | None:
    """Cyclomatic complexity of one file, None when no grammar parses it (or it is too large to parse)."""
    grammar = languages.grammar_for(path, language or languages.language_of(path))
    if grammar is None or len(source) > MAX_PARSE_BYTES:
        return None
    parser = get_parser(grammar)
    if parser is None:
        return None
    return tree_complexity(grammar, parser.parse(source).root_node)


def tree_complexity(grammar: str, root) -> Complexity | None:
    """Cyclomatic complexity of an already parsed file (the facts stage's tree), None without a query."""
    query = _query(grammar)
    if query is None:
        return None
    captures = QueryCursor(query).captures(root)
    functions = len(captures.get("function", ()))
    decisions = len(captures.get("decision", ()))
    return Complexity(complexity=functions + decisions, functions=functions, decisions=decisions)
