"""Search quality benchmark, CodeSearchNet style, on real repositories (Python and Go).

For each repository: strip the doc comments of its functions (tree-sitter: Python docstrings, Go `//`
doc comments above a func), commit the stripped tree in a private clone, index EVERY file of it through
the product (take_snapshot -> chunk_repository -> embed_repository, as a user would), then query with
each doc comment's first sentence (for Go without the leading function name, which Go convention puts
there) and score span MRR@10 and Recall@10. A result is a hit when it is in the right file and at
least half of its lines lie inside the target function.

The queries (at most --max-queries per repository, a fixed sample) are split with a fixed seed into a
development half and a held-out half. Anything tuned (--tune: the rank.py weights; the BM25 baseline's
k1/b) is chosen on the development half only; the held-out half is the reported figure.

Compared, on the same chunks and queries:
  bm25-tuned  the baseline: rank-bm25 Okapi over the stored function/method/class chunks and Markdown
              sections, each as its normalised index text (identifiers split, lowercased, stop words
              dropped, Snowball-stemmed, path and symbol added); k1/b picked on the development half
  keyword     our Milvus BM25 over the normalised index text (search mode=keyword)
  vector      dense only, hashing embeddings (mode=vector)
  hybrid      the default: fusion of both plus the code-aware priors, hashing embeddings (mode=hybrid)
  ...+code    the same with kind=code
  vector-local / hybrid-local (+code) with --local: the local model (needs the local-embeddings extra)

    .venv/bin/python bench/bench_search_quality.py [--repo PATH ...] [--max-queries N] [--tune] [--local]
        [--json F]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from _common import SOURCES, add_stack_args, git, throwaway_stack

DEFAULT_REPOS = ["flask", "requests", "gin"]
SKIP_DIRS = re.compile(r"(^|/)(tests?|testing|testdata|docs?|examples?|vendor)/")
GO_TEST = re.compile(r"_test\.go$")
SPLIT_SEED = 13


@dataclass
class Target:
    path: str
    symbol: str
    start: int  # 1-based inclusive, in the stripped file
    end: int
    query: str


# --------------------------------------------------------------------------- doc comment stripping


def _parser(language: str):
    from tree_sitter import Language, Parser

    if language == "go":
        import tree_sitter_go as grammar
    else:
        import tree_sitter_python as grammar
    return Parser(Language(grammar.language()))


def _docstring_node(function):
    body = function.child_by_field_name("body")
    if body is None or not body.named_children:
        return None, body
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_children and \
            first.named_children[0].type in ("string", "concatenated_string"):
        return first, body
    return None, body


def _first_sentence(text: str) -> str:
    paragraph = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    paragraph = " ".join(paragraph.split())
    match = re.match(r"(.+?[.!?])(\s|$)", paragraph)
    return (match.group(1) if match else paragraph).strip()


def _docstring_text(docstring: str) -> str:
    text = docstring.strip()
    for prefix in ('r"""', 'R"""', 'u"""', '"""', "r'''", "'''", '"', "'"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    return text.rstrip("\"'").strip()


def _apply(lines: list[str], removals: dict[int, tuple[int, str | None]]) -> tuple[list[str], dict[int, int]]:
    """Remove rows [a, b] (replaced by one line when given); return new lines and each kept row's shift."""
    new_lines: list[str] = []
    shifts: dict[int, int] = {}
    row = shift = 0
    while row < len(lines):
        if row in removals:
            b, repl = removals[row]
            if repl is not None:
                new_lines.append(repl)
                shift += b - row
            else:
                shift += b - row + 1
            row = b + 1
            continue
        shifts[row] = shift
        new_lines.append(lines[row])
        row += 1
    return new_lines, shifts


def _targets(path: str, spans, shifts: dict[int, int]) -> list[Target]:
    """spans: (start row, end row, end column, name, query) in the original file, 0-based rows."""
    out = []
    for start, end, end_col, name, query in spans:
        if end_col == 0 and end > start:
            end -= 1
        if start not in shifts or end not in shifts:
            continue
        new_start, new_end = start - shifts[start] + 1, end - shifts[end] + 1
        if len(query.split()) < 3 or new_end - new_start + 1 < 3:
            continue  # CodeSearchNet drops very short docstrings and functions
        out.append(Target(path, name, new_start, new_end, query))
    return out


def strip_python(source: str, path: str) -> tuple[str, list[Target]]:
    """Remove function docstrings; return the new text and the functions' spans in it."""
    lines = source.split("\n")
    tree = _parser("python").parse(source.encode("utf-8"))
    found = []

    def walk(node):
        for child in node.named_children:
            inner = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
            if inner is not None and inner.type == "function_definition":
                doc, body = _docstring_node(inner)
                if doc is not None:
                    found.append((child, inner, doc, body))
            walk(child)

    walk(tree.root_node)
    removals: dict[int, tuple[int, str | None]] = {}
    spans = []
    for outer, inner, doc, body in found:
        a, b = doc.start_point.row, doc.end_point.row
        # Only docstrings that sit on their own lines (the usual layout) are stripped.
        if lines[a][:doc.start_point.column].strip() or lines[b][doc.end_point.column:].strip():
            continue
        only = len(body.named_children) == 1
        removals[a] = (b, lines[a][:doc.start_point.column] + "pass" if only else None)
        spans.append((outer.start_point.row, outer.end_point.row, outer.end_point.column,
                      inner.child_by_field_name("name").text.decode(),
                      _first_sentence(_docstring_text(doc.text.decode("utf-8", "replace")))))
    new_lines, shifts = _apply(lines, removals)
    return "\n".join(new_lines), _targets(path, spans, shifts)


def strip_go(source: str, path: str) -> tuple[str, list[Target]]:
    """Remove the `//` doc comment right above each top-level func / method; the query is its first
    sentence without the leading function name (Go's convention: "// Next calls the next handler.")."""
    lines = source.split("\n")
    tree = _parser("go").parse(source.encode("utf-8"))
    removals: dict[int, tuple[int, str | None]] = {}
    spans = []
    children = tree.root_node.children
    for i, node in enumerate(children):
        if node.type not in ("function_declaration", "method_declaration"):
            continue
        comments = []
        j, next_row = i - 1, node.start_point.row
        while j >= 0 and children[j].type == "comment" and children[j].end_point.row == next_row - 1:
            text = children[j].text.decode("utf-8", "replace")
            if not text.startswith("//") or lines[children[j].start_point.row][:children[j].start_point.column].strip():
                break
            comments.insert(0, children[j])
            next_row = children[j].start_point.row
            j -= 1
        comments = [c for c in comments if not re.match(r"//(go:|nolint|lint:|\s*Deprecated)", c.text.decode())]
        if not comments:
            continue
        a, b = comments[0].start_point.row, comments[-1].end_point.row
        if b != node.start_point.row - 1:
            continue
        name = node.child_by_field_name("name").text.decode()
        text = " ".join(c.text.decode("utf-8", "replace")[2:].strip() for c in comments)
        words = text.split()
        if words and words[0] == name:
            words = words[1:]
        elif len(words) > 1 and words[0] in ("A", "An", "The") and words[1] == name:
            words = words[2:]
        removals[a] = (b, None)
        spans.append((node.start_point.row, node.end_point.row, node.end_point.column, name,
                      _first_sentence(" ".join(words))))
    new_lines, shifts = _apply(lines, removals)
    return "\n".join(new_lines), _targets(path, spans, shifts)


def prepare(pristine: Path, work: Path) -> list[Target]:
    git(pristine.parent, "clone", "-q", str(pristine), str(work))
    targets: list[Target] = []
    for path in git(work, "ls-files", "*.py", "*.go").splitlines():
        if SKIP_DIRS.search(path) or GO_TEST.search(path):
            continue
        file = work / path
        try:
            source = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        stripped, found = (strip_go if path.endswith(".go") else strip_python)(source, path)
        if stripped != source:
            file.write_text(stripped, encoding="utf-8")
        targets.extend(found)
    git(work, "commit", "-qam", "bench: strip function doc comments")
    return targets


def split(targets: list[Target], max_queries: int) -> tuple[list[Target], list[Target]]:
    """A fixed sample of at most max_queries, halved into (development, held-out) with a fixed seed."""
    ordered = sorted(targets, key=lambda t: (t.path, t.start))
    rng = random.Random(SPLIT_SEED)
    if len(ordered) > max_queries:
        ordered = rng.sample(ordered, max_queries)
    else:
        rng.shuffle(ordered)
    half = len(ordered) // 2
    return ordered[:half], ordered[half:]


# --------------------------------------------------------------------------- scoring


def is_hit(result: dict, target: Target) -> bool:
    if result["path"] != target.path:
        return False
    lo, hi = result["start_line"], result["end_line"]
    inside = max(0, min(hi, target.end) - max(lo, target.start) + 1)
    return inside * 2 >= hi - lo + 1


def reciprocal_rank(results: list[dict], target: Target) -> float:
    for rank, result in enumerate(results[:10], 1):
        if is_hit(result, target):
            return 1.0 / rank
    return 0.0


def _top1_class(result: dict, target: Target) -> str:
    """What took first place instead of the target: same file (an overlapping or other span), or the
    class of the file it came from (tests, docs, config, other code)."""
    if result["path"] == target.path:
        return "same file"
    cls = result.get("file_class") or "code"
    return "example code" if cls == "code" and re.search(r"(^|/)(_?examples?|samples?)/", result["path"]) else cls


def score(search, targets: list[Target]) -> dict:
    started = time.perf_counter()
    rr, top1 = [], Counter()
    for t in targets:
        results = search(t.query)
        rr.append(reciprocal_rank(results, t))
        if rr[-1] < 1.0 and results:
            top1[_top1_class(results[0], t)] += 1
    n = len(rr) or 1
    return {"mrr10": sum(rr) / n, "recall10": sum(r > 0 for r in rr) / n, "hit1": sum(r == 1.0 for r in rr) / n,
            "ms_per_query": 1000 * (time.perf_counter() - started) / n,
            "top1_misses": {k: round(v / n, 3) for k, v in top1.most_common()}}


class TunedBM25:
    """The baseline: Okapi BM25 over definition chunks and Markdown sections, each as its normalised
    index text (identifiers split, stemmed, stop words dropped, path and symbol added)."""

    KINDS = frozenset({"function", "method", "class", "interface", "struct", "type", "enum", "trait"})

    def __init__(self, chunks: list[dict], k1: float = 1.2, b: float = 0.75) -> None:
        from rank_bm25 import BM25Okapi

        self.chunks = [c for c in chunks if c["kind"] in self.KINDS or c["language"] == "Markdown"]
        self.index = BM25Okapi([c["index_text"].split() or ["_"] for c in self.chunks], k1=k1, b=b)

    def search(self, query: str, limit: int = 10) -> list[dict]:
        import numpy as np

        from repo_scoping_pipelines.search.text import query_text

        scores = self.index.get_scores(query_text(query).split())
        top = np.argsort(-scores, kind="stable")[:limit]
        return [self.chunks[i] for i in top if scores[i] > 0]


def tune_bm25(chunks: list[dict], dev: list[Target]) -> tuple[TunedBM25, dict]:
    best = None
    for k1 in (0.9, 1.2, 1.5, 2.0, 3.0, 4.0):
        for b in (0.5, 0.75, 0.9, 1.0):
            bm25 = TunedBM25(chunks, k1, b)
            mrr = score(bm25.search, dev)["mrr10"]
            if best is None or mrr > best[0]:
                best = (mrr, bm25, {"k1": k1, "b": b})
    return best[1], best[2]


# A small grid around the defaults, explored on the development halves only (--tune).
# Round 1 moved one weight at a time; round 2 combines the fusion weights that helped in round 1.
TUNE_GRID = [
    {},
    # round 1
    {"sparse": 1.5}, {"dense": 1.5}, {"sparse": 1.5, "dense": 0.7},
    {"definition": 1.0}, {"definition": 1.6},
    {"docs": 0.5}, {"docs": 0.85}, {"tests": 0.35},
    {"rrf_k": 20.0}, {"rrf_k": 120.0},
    # round 2
    {"sparse": 2.0}, {"sparse": 3.0}, {"sparse": 2.0, "dense": 0.7}, {"sparse": 2.0, "rrf_k": 30.0},
    {"sparse": 2.0, "docs": 0.5}, {"sparse": 2.0, "definition": 1.6}, {"sparse": 1.5, "rrf_k": 30.0},
    # round 3: round 2 kept rewarding a heavier BM25 list
    {"sparse": 4.0}, {"sparse": 6.0}, {"sparse": 3.0, "rrf_k": 30.0}, {"sparse": 3.0, "docs": 0.5},
    {"sparse": 3.0, "definition": 1.6}, {"sparse": 3.0, "tests": 0.35}, {"sparse": 3.0, "symbol_list": 2.0},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, action="append", help="local git repositories (default: "
                        + ", ".join(f"bench/.work/src/{r}" for r in DEFAULT_REPOS) + ", those present)")
    parser.add_argument("--max-queries", type=int, default=300, help="sample at most N queries per repository")
    parser.add_argument("--tune", action="store_true",
                        help="also score a grid of rank.py weights on the development halves (never held-out)")
    parser.add_argument("--local", action="store_true", help="also the local sentence-transformers model")
    parser.add_argument("--json", type=Path, help="write the figures here")
    add_stack_args(parser)
    args = parser.parse_args()
    repos = args.repo or [SOURCES / r for r in DEFAULT_REPOS if (SOURCES / r / ".git").exists()]
    if not repos:
        raise SystemExit("no repositories: clone some under bench/.work/src/ or pass --repo")

    import sqlalchemy as sa

    from repo_scoping_pipelines.collectors.pipeline import take_snapshot
    from repo_scoping_pipelines.collectors.registration import register_repository
    from repo_scoping_pipelines.config import Settings
    from repo_scoping_pipelines.search.pipeline import chunk_repository, embed_repository
    from repo_scoping_pipelines.search.query import search_code
    from repo_scoping_pipelines.search.rank import DEFAULT_WEIGHTS
    from repo_scoping_pipelines.services import open_services
    from repo_scoping_pipelines.storage import catalog
    from repo_scoping_pipelines.storage.tables import content_chunks

    report: dict = {}
    tuning: dict = {}
    with throwaway_stack(args, "quality") as (settings, services):
        local = None
        if args.local:
            local = open_services(Settings(**{**settings.model_dump(), "embedding_provider": "local"}))
        for pristine in repos:
            pristine = pristine.resolve()
            name = pristine.name
            targets = prepare(pristine, Path(settings.home) / "sources" / name)
            dev, held = split(targets, args.max_queries)
            register_repository(services, name, str(Path(settings.home) / "sources" / name))
            t0 = time.perf_counter()
            take_snapshot(services, name)
            chunk_repository(services, name)
            embed_repository(services, name)
            index_s = time.perf_counter() - t0
            repo = catalog.get_repository(services.engine, name)
            with services.engine.connect() as conn:
                chunks = [dict(r) for r in conn.execute(sa.select(content_chunks).where(
                    content_chunks.c.repository_id == repo.id)).mappings()]
            files = len({c["path"] for c in chunks})
            bm25, bm25_params = tune_bm25(chunks, dev)
            print(f"{name}: {len(targets)} usable, {len(dev)} dev + {len(held)} held-out queries; {len(chunks)} "
                  f"chunks from {files} files, indexed in {index_s:.1f} s (hashing); bm25 {bm25_params} "
                  f"({len(bm25.chunks)} chunks)", flush=True)
            systems = {"bm25-tuned": bm25.search}
            for mode in ("hybrid", "keyword", "vector"):
                systems[mode] = lambda q, n=name, m=mode: search_code(services, q, repository=n, mode=m)
                systems[mode + "+code"] = lambda q, n=name, m=mode: search_code(services, q, repository=n, mode=m,
                                                                                 kind="code")
            if local is not None:
                t0 = time.perf_counter()
                embed_repository(local, name)
                print(f"{name}: local model embedded {len(chunks)} chunks in {time.perf_counter() - t0:.1f} s",
                      flush=True)
                for mode in ("vector", "hybrid"):
                    systems[mode + "-local"] = lambda q, n=name, m=mode: search_code(local, q, repository=n, mode=m)
                    systems[mode + "-local+code"] = lambda q, n=name, m=mode: search_code(
                        local, q, repository=n, mode=m, kind="code")
            scores: dict = {}
            for label, search in systems.items():
                scores[label] = {"dev": score(search, dev), "held": score(search, held)}
                d, h = scores[label]["dev"], scores[label]["held"]
                print(f"  {name:>9} {label:<13} held MRR@10 {h['mrr10']:.3f} R@10 {h['recall10']:.3f} | "
                      f"dev MRR@10 {d['mrr10']:.3f} R@10 {d['recall10']:.3f}  ({h['ms_per_query']:.0f} ms/q); dev top-1 "
                      f"misses {d['top1_misses']}",
                      flush=True)
            report[name] = {"usable": len(targets), "dev": len(dev), "held": len(held), "chunks": len(chunks),
                            "files": files, "bm25": bm25_params, "scores": scores}
            if args.tune:
                from repo_scoping_pipelines.search.query import search as run_search

                for i, change in enumerate(TUNE_GRID):
                    w = DEFAULT_WEIGHTS.with_(**change)
                    s = score(lambda q, n=name, w=w: run_search(services, q, repository=n, weights=w).results, dev)
                    tuning.setdefault(i, {"change": change, "dev": {}})["dev"][name] = s["mrr10"]
                    print(f"  {name:>9} tune {change!s:<36} dev hybrid MRR@10 {s['mrr10']:.3f}", flush=True)

    print("\nheld-out MRR@10 / Recall@10 (x = hybrid-or-row / bm25-tuned MRR)")
    print("| system | " + " | ".join(f"{r} ({report[r]['held']} q, {report[r]['chunks']} chunks)" for r in report)
          + " |")
    print("|---|" + "---|" * len(report))
    for label in next(iter(report.values()))["scores"]:
        cells = []
        for r in report:
            h = report[r]["scores"][label]["held"]
            base = report[r]["scores"]["bm25-tuned"]["held"]["mrr10"]
            cells.append(f"{h['mrr10']:.3f} / {h['recall10']:.3f} ({h['mrr10'] / base:.2f}x)" if base else
                         f"{h['mrr10']:.3f} / {h['recall10']:.3f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    if tuning:
        print("\ndevelopment-half hybrid MRR@10 per weight change (mean over repositories)")
        for t in tuning.values():
            mean = sum(t["dev"].values()) / len(t["dev"])
            print(f"  {t['change']!s:<36} mean {mean:.3f}  " + "  ".join(f"{r} {v:.3f}" for r, v in t["dev"].items()))
    if args.json:
        args.json.write_text(json.dumps({"report": report, "tuning": list(tuning.values()),
                                         "weights": asdict(DEFAULT_WEIGHTS)}, indent=2))


if __name__ == "__main__":
    main()
