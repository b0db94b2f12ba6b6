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
from collections.abc import Callable
from pathlib import Path

import aiohttp
import httpx
import psutil
from _common import ROOT, add_stack_args, milvus_server_pid, percentile, process_cpu, throwaway_stack

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


def _tree(pid: int) -> list[int]:
    """pid and its descendants (uvicorn's worker processes)."""
    process = psutil.Process(pid)
    return [pid, *(child.pid for child in process.children(recursive=True))]


def _pids_named(name: str) -> list[int]:
    return [p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == name]


def cpu_by_process(groups: dict[str, Callable[[], list[int]]]) -> dict[str, dict[int, float]]:
    return {group: {pid: process_cpu(pid) for pid in pids()} for group, pids in groups.items()}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between the two readings; processes started in between count from zero."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


WORDS = sorted({word for query in QUERIES for word in query.split()})


def _query(rng: random.Random, fresh: bool) -> str:
    """One of the 20 queries above (people repeat searches: the cache answers those), or with
    --fresh-queries three random words from them, so that nearly every search goes to Milvus."""
    return " ".join(rng.sample(WORDS, 3)) if fresh else rng.choice(QUERIES)


def _request(kind: str, name: str, rng: random.Random, fresh: bool = False) -> tuple[str, dict]:
    if kind == "search":
        return "/search", {"q": _query(rng, fresh), "limit": 10}
    if kind == "search_keyword":
        return "/search", {"q": _query(rng, fresh), "mode": "keyword", "repository": name}
    if kind == "repositories":
        return "/repositories", {}
    return f"/repositories/{name}", {}


async def _client(session: aiohttp.ClientSession, name: str, seed: int, until: float, results: dict,
                  errors: list, fresh: bool) -> None:
    rng = random.Random(seed)
    kinds, weights = zip(*MIX, strict=True)
    while time.perf_counter() < until:
        kind = rng.choices(kinds, weights)[0]
        path, params = _request(kind, name, rng, fresh)
        started = time.perf_counter()
        try:
            async with session.get(path, params=params) as response:
                body = await response.read()
            elapsed = time.perf_counter() - started
            if response.status >= 300:
                errors.append(f"{kind} {response.status} {body[:200]!r}")
            results[kind].append(elapsed)
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors.append(f"{kind} {type(exc).__name__}: {exc}")


async def load(base: str, name: str, clients: int, seconds: float, fresh: bool = False) -> tuple[dict, list, float]:
    """clients concurrent keep-alive connections, each sending its next request as soon as the last
    answer arrives (no think time). aiohttp, not httpx: the generator shares the machine's cores
    with the server, and aiohttp costs it about a quarter of httpx's CPU per request."""
    results: dict[str, list[float]] = collections.defaultdict(list)
    errors: list[str] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(base_url=base, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_client(session, name, i, until, results, errors, fresh) for i in range(clients)))
        return results, errors, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", default=str(ROOT), help="git repository to index (default: this checkout)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--fresh-queries", action="store_true",
                        help="random three-word searches instead of the 20 fixed ones (measures the cache-miss path)")
    add_stack_args(parser)
    args = parser.parse_args()
    with throwaway_stack(args, "apiload") as (_settings, services):
        from repo_scoping_pipelines.collectors.pipeline import take_snapshot
        from repo_scoping_pipelines.collectors.registration import register_repository
        from repo_scoping_pipelines.search.pipeline import chunk_repository, embed_repository

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
            # Where the CPU goes: this process (the load generator), the API workers, the Milvus server
            # and Postgres (every postgres process on the machine, so keep the machine quiet).
            milvus_pid = milvus_server_pid(_settings)
            groups = {"load generator": lambda: [os.getpid()], "api workers": lambda: _tree(server.pid),
                      "milvus server": lambda: [milvus_pid] if milvus_pid else [],
                      "postgres": lambda: _pids_named("postgres")}
            cpu_before = cpu_by_process(groups)
            results, errors, wall = asyncio.run(load(base, name, args.clients, args.seconds, args.fresh_queries))
            cpu_after = cpu_by_process(groups)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                print("the API did not stop within 30 s of SIGTERM; killed", flush=True)
                server.kill()
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
        if not total:
            raise SystemExit("no request succeeded")
        print(f"CPU seconds per 1,000 requests (wall {wall:.0f} s, {os.cpu_count()} cores):")
        for group in groups:
            used = cpu_used(cpu_before[group], cpu_after[group])
            print(f"  {group:<16}{used / total * 1000:>8.2f} s   ({used / wall:.2f} cores)")


if __name__ == "__main__":
    main()
