"""Search quality benchmark, CodeSearchNet style, on real Python repositories.

For each repository: strip the docstrings of its functions (tree-sitter), commit the stripped tree in a
private clone, index it through the product (take_snapshot -> chunk_repository -> embed_repository), then
query with each docstring's first sentence and score MRR@10. A result is a hit when it is in the right
file and at least half of its lines lie inside the target function.

Compared, on the same chunks and queries:
  bm25-raw    the floor: rank-bm25 (Okapi) over the stored function-level chunks' raw text, identifiers
              split and lowercased, no stemming, no stop words, no path or symbol
  keyword     our Milvus BM25 over the normalised index text (search_code mode=keyword)
  vector      dense only, hashing embeddings (mode=vector)
  hybrid      RRF of both, hashing embeddings (mode=hybrid)
  vector/hybrid with the local model (all-MiniLM-L6-v2) with --local (needs the local-embeddings extra)

    .venv/bin/python bench/bench_search_quality.py [--repo PATH ...] [--local] [--max-queries N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path

from _common import SOURCES, add_stack_args, git, throwaway_stack

DEFAULT_REPOS = ["flask", "requests", "starlette", "werkzeug"]
SKIP_DIRS = re.compile(r"(^|/)(tests?|testing|docs?|examples?)/")


@dataclass
class Target:
    path: str
    symbol: str
    start: int  # 1-based inclusive, in the stripped file
    end: int
    query: str


# --------------------------------------------------------------------------- docstring stripping


def _parser():
    import tree_sitter_python
    from tree_sitter import Language, Parser

    return Parser(Language(tree_sitter_python.language()))


def _docstring_node(function):
    body = function.child_by_field_name("body")
    if body is None or not body.named_children:
        return None, body
    first = body.named_children[0]
    if first.type == "expression_statement" and first.named_children and \
            first.named_children[0].type in ("string", "concatenated_string"):
        return first, body
    return None, body


def _first_sentence(docstring: str) -> str:
    text = docstring.strip()
    for prefix in ('r"""', 'R"""', 'u"""', '"""', "r'''", "'''", '"', "'"):
        if text.startswith(prefix):
            text = text[len(prefix):]
            break
    text = text.rstrip("\"'").strip()
    paragraph = re.split(r"\n\s*\n", text, maxsplit=1)[0]
    paragraph = " ".join(paragraph.split())
    match = re.match(r"(.+?[.!?])(\s|$)", paragraph)
    return (match.group(1) if match else paragraph).strip()


def strip_file(source: str, path: str) -> tuple[str, list[Target]]:
    """Remove function docstrings; return the new text and the functions' spans in it."""
    lines = source.split("\n")
    tree = _parser().parse(source.encode("utf-8"))
    found = []  # (function node, docstring node, body)

    def walk(node):
        for child in node.named_children:
            inner = child.child_by_field_name("definition") if child.type == "decorated_definition" else child
            if inner is not None and inner.type == "function_definition":
                doc, body = _docstring_node(inner)
                if doc is not None:
                    found.append((child, inner, doc, body))
            walk(child)

    walk(tree.root_node)
    removals: list[tuple[int, int, str | None]] = []  # 0-based rows [a, b] -> replacement line or None
    candidates = []
    for outer, inner, doc, body in found:
        a, b = doc.start_point.row, doc.end_point.row
        # Only docstrings that sit on their own lines (the usual layout) are stripped.
        if lines[a][:doc.start_point.column].strip() or lines[b][doc.end_point.column:].strip():
            continue
        only = len(body.named_children) == 1
        indent = lines[a][:doc.start_point.column]
        removals.append((a, b, indent + "pass" if only else None))
        candidates.append((outer, inner, doc, a, b, only))
    removed_before = []  # sorted (row, lines removed at or before row)
    new_lines: list[str] = []
    removal_at = {a: (b, repl) for a, b, repl in removals}
    row = 0
    shift = 0
    shifts = {}
    while row < len(lines):
        if row in removal_at:
            b, repl = removal_at[row]
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
    targets = []
    for outer, inner, doc, _a, _b, _only in candidates:
        start, end = outer.start_point.row, outer.end_point.row
        if outer.end_point.column == 0 and end > start:
            end -= 1
        if start not in shifts or end not in shifts:
            continue
        query = _first_sentence(doc.text.decode("utf-8", "replace"))
        new_start, new_end = start - shifts[start] + 1, end - shifts[end] + 1
        name = inner.child_by_field_name("name").text.decode()
        if len(query.split()) < 3 or new_end - new_start + 1 < 3:
            continue  # CodeSearchNet drops very short docstrings and functions
        targets.append(Target(path, name, new_start, new_end, query))
    del removed_before
    return "\n".join(new_lines), targets


def prepare(pristine: Path, work: Path) -> list[Target]:
    git(pristine.parent, "clone", "-q", str(pristine), str(work))
    targets: list[Target] = []
    for path in git(work, "ls-files", "*.py").splitlines():
        if SKIP_DIRS.search(path):
            continue
        file = work / path
        try:
            source = file.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        stripped, found = strip_file(source, path)
        if found or stripped != source:
            file.write_text(stripped, encoding="utf-8")
        targets.extend(found)
    git(work, "commit", "-qam", "bench: strip function docstrings")
    return targets


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


class RawBM25:
    """The floor: Okapi BM25 over raw chunk text, identifiers split and lowercased (no stemming)."""

    def __init__(self, chunks: list[dict]) -> None:
        from rank_bm25 import BM25Okapi

        self.chunks = chunks
        self.index = BM25Okapi([self.tokens(c["text"]) or ["_"] for c in chunks])

    @staticmethod
    def tokens(text: str) -> list[str]:
        from repo_scoping_pipelines.search.text import split_identifier

        out = []
        for word in re.findall(r"\w+", text):
            out.extend(split_identifier(word))
        return out

    def search(self, query: str, limit: int = 10) -> list[dict]:
        import numpy as np

        scores = self.index.get_scores(self.tokens(query))
        top = np.argsort(-scores, kind="stable")[:limit]
        return [self.chunks[i] for i in top if scores[i] > 0]


def evaluate(name: str, targets: list[Target], systems: dict) -> dict[str, dict]:
    scores: dict[str, dict] = {}
    for label, search in systems.items():
        started = time.perf_counter()
        rr = [reciprocal_rank(search(t.query), t) for t in targets]
        scores[label] = {"mrr10": sum(rr) / len(rr), "hit@1": sum(r == 1.0 for r in rr) / len(rr),
                         "hit@10": sum(r > 0 for r in rr) / len(rr),
                         "ms_per_query": 1000 * (time.perf_counter() - started) / len(rr)}
        print(f"  {name:>10} {label:<15} MRR@10 {scores[label]['mrr10']:.3f}  hit@1 {scores[label]['hit@1']:.3f}  "
              f"hit@10 {scores[label]['hit@10']:.3f}  ({scores[label]['ms_per_query']:.0f} ms/query)", flush=True)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, action="append", help="local git repositories (default: "
                        + ", ".join(f"bench/.work/src/{r}" for r in DEFAULT_REPOS) + ", those present)")
    parser.add_argument("--local", action="store_true", help="also the local sentence-transformers model")
    parser.add_argument("--max-queries", type=int, default=400, help="sample at most N queries per repository")
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
    from repo_scoping_pipelines.services import open_services
    from repo_scoping_pipelines.storage import catalog
    from repo_scoping_pipelines.storage.tables import content_chunks

    report: dict = {}
    with throwaway_stack(args, "quality") as (settings, services):
        local = None
        if args.local:
            local = open_services(Settings(**{**settings.model_dump(), "embedding_provider": "local"}))
        for pristine in repos:
            pristine = pristine.resolve()
            name = pristine.name
            targets = prepare(pristine, Path(settings.home) / "sources" / name)
            rng = random.Random(0)
            if len(targets) > args.max_queries:
                targets = sorted(rng.sample(targets, args.max_queries), key=lambda t: (t.path, t.start))
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
            print(f"{name}: {len(targets)} queries, {len(chunks)} chunks, indexed in {index_s:.1f} s (hashing)",
                  flush=True)
            floor = RawBM25([c for c in chunks if c["language"] == "Python"] or chunks)
            systems = {
                "bm25-raw": floor.search,
                "keyword": lambda q, n=name: search_code(services, q, repository=n, mode="keyword"),
                "vector-hashing": lambda q, n=name: search_code(services, q, repository=n, mode="vector"),
                "hybrid-hashing": lambda q, n=name: search_code(services, q, repository=n, mode="hybrid"),
            }
            if local is not None:
                t0 = time.perf_counter()
                embed_repository(local, name)
                print(f"{name}: local model embedded {len(chunks)} chunks in {time.perf_counter() - t0:.1f} s",
                      flush=True)
                systems["vector-local"] = lambda q, n=name: search_code(local, q, repository=n, mode="vector")
                systems["hybrid-local"] = lambda q, n=name: search_code(local, q, repository=n, mode="hybrid")
            scores = evaluate(name, targets, systems)
            base = scores["bm25-raw"]["mrr10"]
            for s in scores.values():
                s["x_bm25_raw"] = s["mrr10"] / base if base else float("nan")
            report[name] = {"queries": len(targets), "chunks": len(chunks), "scores": scores}
            print(f"  {name:>10} hybrid-hashing / bm25-raw = {scores['hybrid-hashing']['x_bm25_raw']:.2f}x"
                  + (f", hybrid-local / bm25-raw = {scores['hybrid-local']['x_bm25_raw']:.2f}x" if local else ""),
                  flush=True)

    labels = list(next(iter(report.values()))["scores"])
    print("\n| system | " + " | ".join(report) + " | mean x bm25-raw |")
    print("|---|" + "---|" * (len(report) + 1))
    for label in labels:
        cells = [f"{report[r]['scores'][label]['mrr10']:.3f} ({report[r]['scores'][label]['x_bm25_raw']:.2f}x)"
                 for r in report]
        mean_x = sum(report[r]["scores"][label]["x_bm25_raw"] for r in report) / len(report)
        print(f"| {label} | " + " | ".join(cells) + f" | {mean_x:.2f}x |")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
