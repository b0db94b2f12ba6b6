"""Search latency on the embedded stack with 10,000+ chunks indexed.

Indexes a real repository (default bench/.work/src/fastapi, ~23,000 chunks) through the product
(take_snapshot -> chunk_repository -> embed_repository, hashing embeddings) on the embedded default —
pgserver Postgres and the managed `milvus-lite server` over gRPC — then times search_code end to end
(query normalisation, query embedding, Milvus search, Postgres lookup of the hits, snippets) for
every mode, with and without the repository filter.

    .venv/bin/python bench/bench_search_latency.py [--repo PATH ...] [--queries N] [--machine-postgres]

Filters (issue 13): hybrid search also with `kind=code`, `kind=code` + `language=Python`, a path
prefix and a path glob, each over the same queries.

Goals: p95 < 150 ms (issue 2); p95 < 60 ms single-client with 20,000+ chunks, filters included (issue 13).
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

from _common import Timer, add_stack_args, default_repo, percentile, summary_ms, throwaway_stack


def _queries(chunks: list[dict], n: int) -> list[str]:
    """Natural-language and identifier-style queries drawn from the indexed code (deterministic)."""
    rng = random.Random(0)
    sentences, symbols = [], []
    for c in chunks:
        for line in c["text"].splitlines()[:8]:
            m = re.match(r'\s*(?:#|"""|\'\'\'|//|\*)\s*([A-Z][^.\n]{15,90})', line)
            if m and len(m.group(1).split()) >= 3:
                sentences.append(m.group(1))
                break
        if c["symbol"]:
            symbols.append(c["symbol"].split(".")[-1])
    picked = rng.sample(sentences, min(len(sentences), n // 2)) + rng.sample(symbols, min(len(symbols), n - n // 2))
    rng.shuffle(picked)
    return picked


def chunks_paths(services) -> list[str]:
    import sqlalchemy as sa

    from repo_scoping_pipelines.storage.tables import content_chunks

    with services.engine.connect() as conn:
        return list(conn.execute(sa.select(content_chunks.c.path)).scalars())


def _top_folder(paths: list[str]) -> str:
    """The top-level folder holding most chunks (the path-filter benchmark's prefix)."""
    from collections import Counter

    return Counter(p.split("/", 1)[0] for p in paths if "/" in p).most_common(1)[0][0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, action="append", help="local git repositories (default fastapi)")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--machine-postgres", action="store_true",
                        help="a throwaway database on the machine's Postgres instead of pgserver")
    parser.add_argument("--json", type=Path)
    add_stack_args(parser)
    args = parser.parse_args()
    args.embedded_postgres = not args.machine_postgres
    repos = [p.resolve() for p in (args.repo or [default_repo("fastapi")])]

    import sqlalchemy as sa

    from repo_scoping_pipelines.collectors.pipeline import take_snapshot
    from repo_scoping_pipelines.collectors.registration import register_repository
    from repo_scoping_pipelines.search.pipeline import chunk_repository, embed_repository
    from repo_scoping_pipelines.search.query import search_code
    from repo_scoping_pipelines.storage.tables import content_chunks

    with throwaway_stack(args, "latency") as (_settings, services):
        timer = Timer()
        for repo in repos:
            register_repository(services, repo.name, str(repo))
            take_snapshot(services, repo.name)
            chunk_repository(services, repo.name)
            embed_repository(services, repo.name)
        with services.engine.connect() as conn:
            chunks = [dict(r) for r in conn.execute(sa.select(content_chunks.c.text, content_chunks.c.symbol))
                      .mappings()]
        in_milvus = services.vectors.count(services.collection)
        print(f"indexed {len(chunks)} chunks ({in_milvus} in Milvus) from {', '.join(r.name for r in repos)} "
              f"in {timer.seconds:.1f} s; Postgres {'pgserver' if args.embedded_postgres else 'machine'}, "
              f"Milvus {'in-process' if args.milvus_local else 'milvus-lite server'}")
        queries = _queries(chunks, args.queries)
        for q in queries[:20]:  # warm-up: connections, collection load, caches
            search_code(services, q, mode="hybrid")
        figures: dict = {"chunks": len(chunks), "queries": len(queries)}
        for mode in ("hybrid", "keyword", "vector"):
            for scope in ("all", "repository"):
                repository = repos[0].name if scope == "repository" else None
                times = []
                for q in queries:
                    t = Timer()
                    search_code(services, q, repository=repository, mode=mode)
                    times.append(t.seconds)
                label = f"{mode}/{scope}"
                figures[label] = {"p50_ms": round(percentile(times, 50) * 1000, 1),
                                  "p95_ms": round(percentile(times, 95) * 1000, 1),
                                  "max_ms": round(max(times) * 1000, 1)}
                print(f"{label:>18}: {summary_ms(times)}", flush=True)
        top = _top_folder(chunks_paths(services))
        filtered = {"kind=code": {"kind": "code"}, "kind=code,language=Python": {"kind": "code", "language": "Python"},
                    f"path={top}/": {"path": f"{top}/"}, f"path={top}/**/*.py": {"path": f"{top}/**/*.py"}}
        for label, filters in filtered.items():
            times = []
            for q in queries:
                t = Timer()
                search_code(services, q, mode="hybrid", **filters)
                times.append(t.seconds)
            figures[f"hybrid/{label}"] = {"p50_ms": round(percentile(times, 50) * 1000, 1),
                                          "p95_ms": round(percentile(times, 95) * 1000, 1),
                                          "max_ms": round(max(times) * 1000, 1)}
            print(f"{'hybrid/' + label:>18}: {summary_ms(times)}", flush=True)
        worst = max(v["p95_ms"] for k, v in figures.items() if isinstance(v, dict))
        print(f"goal p95 < 150 ms: {'MET' if worst < 150 else 'MISSED'} (worst p95 {worst:.1f} ms over all modes)")
        print(f"goal p95 < 60 ms with filters ({len(chunks)} chunks): {'MET' if worst < 60 else 'MISSED'}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
