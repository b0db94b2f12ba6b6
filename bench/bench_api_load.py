"""API under bounded concurrent load on loopback: N clients, mixed search and read requests.

Indexes a repository (this project's checkout by default) into a throwaway stack, serves the API
with uvicorn in a subprocess (`repo-scoping serve`), then runs --clients concurrent clients for
--seconds. Prints throughput, p50/p95/p99 per request kind and every error (non-2xx or transport).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _common import ROOT, add_stack_args, percentile, throwaway_stack

QUERIES = ["register a repository", "refresh the checkout", "search code hybrid", "milvus collection",
           "postgres migration", "zip archive extraction", "health check", "embedding model", "chunk markdown",
           "parse settings", "error handler json", "dagster asset partition", "prometheus metrics", "backup restore",
           "git clone fetch", "language detection", "api token", "redact secrets", "tree sitter python",
           "vector store upsert"]
MIX = [("search", 0.6), ("repositories", 0.15), ("repository", 0.15), ("search_keyword", 0.1)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(kind: str, name: str, rng: random.Random) -> tuple[str, dict]:
    if kind == "search":
        return "/search", {"q": rng.choice(QUERIES), "limit": 10}
    if kind == "search_keyword":
        return "/search", {"q": rng.choice(QUERIES), "mode": "keyword", "repository": name}
    if kind == "repositories":
        return "/repositories", {}
    return f"/repositories/{name}", {}


async def _client(base: str, name: str, seed: int, until: float, results: dict, errors: list) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*MIX, strict=True)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.perf_counter() < until:
            kind = rng.choices(kinds, weights)[0]
            path, params = _request(kind, name, rng)
            started = time.perf_counter()
            try:
                response = await client.get(path, params=params)
                elapsed = time.perf_counter() - started
                if response.status_code >= 300:
                    errors.append(f"{kind} {response.status_code} {response.text[:200]}")
                results[kind].append(elapsed)
            except httpx.HTTPError as exc:
                errors.append(f"{kind} {type(exc).__name__}: {exc}")


async def load(base: str, name: str, clients: int, seconds: float) -> tuple[dict, list, float]:
    results: dict[str, list[float]] = collections.defaultdict(list)
    errors: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(_client(base, name, i, until, results, errors) for i in range(clients)))
    return results, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", default=str(ROOT), help="git repository to index (default: this checkout)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    add_stack_args(parser)
    args = parser.parse_args()
    with throwaway_stack(args, "apiload") as (_settings, services):
        from repo_scoping_pipelines.indexing import chunk_repository, embed_repository
        from repo_scoping_pipelines.registration import register_repository
        from repo_scoping_pipelines.snapshots import take_snapshot

        name = "loadrepo"
        register_repository(services, name, args.source)
        take_snapshot(services, name)
        chunks = chunk_repository(services, name)
        embed_repository(services, name)
        print(f"indexed {args.source}: {sum(chunks.by_kind.values())} chunks", flush=True)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "repo_scoping_pipelines.api.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers), "--log-level", "warning"],
            env=dict(os.environ), cwd=Path(ROOT), stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/repositories", timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("API did not come up")
                time.sleep(0.3)
            asyncio.run(load(base, name, 5, 5))  # warm-up: connections, Milvus load, caches
            results, errors, wall = asyncio.run(load(base, name, args.clients, args.seconds))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        total = sum(len(v) for v in results.values())
        print(f"\n{args.clients} clients, {wall:.0f} s, {total} requests, {total / wall:.1f} req/s, "
              f"{len(errors)} errors, load average {os.getloadavg()[0]:.1f}")
        print(f"{'kind':<16}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for kind, values in sorted(results.items()):
            ms = [v * 1000 for v in values]
            print(f"{kind:<16}{len(ms):>7}{percentile(ms, 50):>9.1f}{percentile(ms, 95):>9.1f}"
                  f"{percentile(ms, 99):>9.1f}")
        for error in errors[:20]:
            print("error:", error)


if __name__ == "__main__":
    main()
