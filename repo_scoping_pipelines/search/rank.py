"""Code-aware ranking of the candidates Milvus returns: weighted reciprocal-rank fusion of the retrievers,
then priors that know code (definitions and exact symbol names up; tests, examples and docs down unless
the query or a filter asks for them), then one span per stretch of lines (the most specific wins).

Pure: candidates in, ranked candidates and facets out. The weights are chosen on a development split
of the search benchmark (bench/bench_search_quality.py --tune), never on its held-out queries; see
bench/README.md, "Search quality".
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

from repo_scoping_pipelines.search.classify import is_example_path
from repo_scoping_pipelines.search.text import base_symbol

DEFINITION_KINDS = frozenset({"function", "method", "class", "interface", "struct", "type", "enum", "trait"})
_IDENT_RE = re.compile(r"`?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(\(\))?`?")
_TEST_WORDS = frozenset({"test", "tests", "testing", "tested", "spec", "specs", "fixture", "fixtures", "pytest",
                         "unittest", "mock", "mocks"})
_DOC_WORDS = frozenset({"doc", "docs", "documentation", "readme", "guide", "tutorial", "changelog", "howto",
                        "install", "installation"})
_EXAMPLE_WORDS = frozenset({"example", "examples", "sample", "samples", "demo", "tutorial", "benchmark"})


@dataclass(frozen=True)
class RankWeights:
    rrf_k: float = 60.0
    sparse: float = 4.0  # weight of the BM25 list in the fusion (dev half of the benchmark, 2026-12-03)
    dense: float = 1.0  # weight of the dense list
    symbol_list: float = 1.0  # weight of the exact-symbol list (identifiers typed in the query)
    definition: float = 1.3  # function / method / class chunks
    symbol_match: float = 2.0  # the chunk's symbol is an identifier typed in the query
    tests: float = 0.5  # test files, unless asked for
    examples: float = 0.6  # examples / samples / demos / benchmarks, unless asked for
    docs: float = 0.7  # documentation, unless asked for

    def with_(self, **changes) -> RankWeights:
        return replace(self, **changes)


DEFAULT_WEIGHTS = RankWeights()


@dataclass(frozen=True)
class QueryIntent:
    words: frozenset[str]
    identifiers: tuple[str, ...]  # identifier-shaped tokens typed in the query (parse_args, HTTPAdapter)
    wants_tests: bool
    wants_docs: bool
    wants_examples: bool


def query_intent(q: str, kinds: tuple[str, ...] = ()) -> QueryIntent:
    words = frozenset(w.lower() for w in re.findall(r"[A-Za-z]+", q))
    return QueryIntent(words=words, identifiers=identifiers(q), wants_tests=bool(words & _TEST_WORDS) or "tests" in kinds,
                       wants_docs=bool(words & _DOC_WORDS) or "docs" in kinds,
                       wants_examples=bool(words & _EXAMPLE_WORDS))


def identifiers(q: str) -> tuple[str, ...]:
    """Tokens of the query shaped like code identifiers: snake_case, camelCase, PascalCase with an inner
    capital, dotted names, `backticked` or called() words. Plain words are left to BM25."""
    out: list[str] = []
    for match in _IDENT_RE.finditer(q):
        token, called = match.group(1), match.group(2)
        ticked = match.group(0).startswith("`")
        shaped = ("_" in token.strip("_") or "." in token or re.search(r"[a-z][A-Z]|[A-Z][a-z]+[A-Z]", token)
                  or called or ticked)
        if shaped and token not in out:
            out.append(token)
    return tuple(out)


def symbol_names(idents: tuple[str, ...]) -> list[str]:
    """What to look up in the symbol field: each identifier, and the last part of a dotted one."""
    names: list[str] = []
    for ident in idents:
        for name in (ident, ident.rsplit(".", 1)[-1]):
            if name not in names:
                names.append(name)
    return names


def _symbol_matches(symbol: str | None, idents: tuple[str, ...]) -> bool:
    if not symbol or not idents:
        return False
    symbol = base_symbol(symbol).lower()
    last = symbol.rsplit(".", 1)[-1]
    for ident in idents:
        ident = ident.lower()
        if symbol == ident or last == ident or symbol.endswith("." + ident):
            return True
    return False


def fuse(lists: dict[str, list[dict]], weights: RankWeights) -> list[dict]:
    """Weighted reciprocal-rank fusion: each list adds weight / (k + rank) to a candidate's score."""
    per_list = {"sparse": weights.sparse, "dense": weights.dense, "symbol": weights.symbol_list}
    scores: dict[str, float] = {}
    first: dict[str, dict] = {}
    for name, hits in lists.items():
        w = per_list.get(name, 1.0)
        for rank, hit in enumerate(hits, 1):
            cid = hit["chunk_id"]
            scores[cid] = scores.get(cid, 0.0) + w / (weights.rrf_k + rank)
            first.setdefault(cid, hit)
    return [{**first[cid], "score": score} for cid, score in scores.items()]


def prior(hit: dict, intent: QueryIntent, weights: RankWeights) -> float:
    """How much a candidate's fused score is multiplied by, from what it is (not what it says)."""
    factor = 1.0
    if hit.get("kind") in DEFINITION_KINDS:
        factor *= weights.definition
    if _symbol_matches(hit.get("symbol"), intent.identifiers):
        factor *= weights.symbol_match
    cls = hit.get("file_class")
    if cls == "tests" and not intent.wants_tests:
        factor *= weights.tests
    elif cls == "docs" and not intent.wants_docs:
        factor *= weights.docs
    if cls in ("code", "tests", "docs") and not intent.wants_examples and is_example_path(hit.get("path", "")):
        factor *= weights.examples
    return factor


def overlaps(a: dict, b: dict) -> bool:
    return (a.get("repository") == b.get("repository") and a["path"] == b["path"]
            and a["start_line"] <= b["end_line"] and b["start_line"] <= a["end_line"])


def one_span_per_stretch(ranked: list[dict]) -> list[dict]:
    """Drop a candidate whose lines overlap a better-ranked one in the same file; when it is the more
    specific (shorter) span, it takes the better one's place instead."""
    kept: list[dict] = []
    for hit in ranked:
        clash = next((i for i, k in enumerate(kept) if overlaps(k, hit)), None)
        if clash is None:
            kept.append(hit)
            continue
        other = kept[clash]
        narrower = hit["end_line"] - hit["start_line"] < other["end_line"] - other["start_line"]
        if narrower and not any(overlaps(k, hit) for i, k in enumerate(kept) if i != clash):
            kept[clash] = {**hit, "score": other["score"]}
    return kept


def rank(lists: dict[str, list[dict]], q: str, *, kinds: tuple[str, ...] = (),
         weights: RankWeights = DEFAULT_WEIGHTS) -> list[dict]:
    """Fused, re-weighted, de-overlapped candidates, best first."""
    intent = query_intent(q, kinds)
    fused = fuse(lists, weights)
    for hit in fused:
        hit["score"] *= prior(hit, intent, weights)
    fused.sort(key=lambda h: (-h["score"], h["chunk_id"]))
    return one_span_per_stretch(fused)


def facets(candidates: list[dict]) -> dict[str, dict[str, int]]:
    """Counts per kind (file class), language and repository over the candidates."""
    return {
        "kind": dict(Counter(c.get("file_class") or "code" for c in candidates).most_common()),
        "language": dict(Counter(c["language"] for c in candidates if c.get("language")).most_common()),
        "repository": dict(Counter(c["repository"] for c in candidates if c.get("repository")).most_common()),
    }
