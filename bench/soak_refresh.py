"""Soak: refresh one repository again and again while the API is under load; row counts must stay stable.

Each round commits a small change and reverts it on the next, so refreshes do real work; after
every refresh the stored rows of the repository (files, chunks, vectors in Postgres and Milvus)
must equal the counts of the state it was refreshed to, and the API must have answered without errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import httpx
from _common import ROOT, SOURCES, add_stack_args, git, throwaway_stack
from bench_api_load import _free_port, load

# A word found only in SOAK.md (spelled whole nowhere in this file, which the soak may index).
MARKER = "zq" + "soakmarker"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", default=str(ROOT))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20)
    add_stack_args(parser)
    args = parser.parse_args()
    work = SOURCES / f"soak-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    subprocess.run(["git", "clone", "-q", args.source, str(work)], check=True)
    with throwaway_stack(args, "soak") as (settings, services):
        from repo_scoping_pipelines.collectors.registration import register_repository
        from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
        from repo_scoping_pipelines.operations.refresh import refresh_in_process
        from repo_scoping_pipelines.search.query import search
        from repo_scoping_pipelines.storage import catalog
        from repo_scoping_pipelines.storage import chunks as chunk_store

        name = "soak"
        repo = register_repository(services, name, str(work))
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "repo_scoping_pipelines.api.app:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=dict(os.environ), stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{base}/repositories", timeout=5)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        stop = threading.Event()
        api_errors: list[str] = []
        api_requests = [0]

        def hammer():
            while not stop.is_set():
                results, errors, _ = asyncio.run(load(base, name, args.clients, 5))
                api_errors.extend(errors)
                api_requests[0] += sum(len(v) for v in results.values())

        loader = threading.Thread(target=hammer, daemon=True)
        loader.start()
        counts: dict[str, tuple] = {}
        unstable = stale_searches = 0
        try:
            with dagster_instance(settings) as instance:
                for i in range(args.rounds):
                    if i % 2:
                        git(work, "revert", "--no-edit", "HEAD")
                    else:
                        (work / "SOAK.md").write_text(f"# Soak round {i}\n\nA change to refresh: {MARKER}.\n")
                        git(work, "add", "SOAK.md")
                        git(work, "commit", "-qm", f"soak {i}")
                    tree = git(work, "rev-parse", "HEAD^{tree}").strip()
                    started = time.perf_counter()
                    outcome = refresh_in_process(instance, name)
                    chunks = chunk_store.chunk_total(services.engine, repo.id)
                    vectors = chunk_store.vector_count(services.engine, repo.id, services.collection)
                    milvus = services.vectors.count(services.collection, name)
                    files = len(catalog.previous_inventory(services.engine, repo.id))
                    state = (files, chunks, vectors, milvus)
                    stable = chunks == vectors == milvus and counts.setdefault(tree, state) == state
                    # The API process caches searches: the same question must see SOAK.md come and go
                    # once its cache re-reads the index generation (search_cache_refresh_s).
                    time.sleep(settings.search_cache_refresh_s + 0.2)
                    found = httpx.get(f"{base}/search", params={"q": MARKER, "mode": "keyword", "repository": name},
                                      timeout=30).json()
                    paths = [r["path"] for r in found["results"]]
                    fresh = ("SOAK.md" in paths) == (i % 2 == 0)
                    if not fresh:  # the answer without any cache, from this process, for comparison
                        direct = search(services, MARKER, repository=name, mode="keyword", limit=10)
                        print(f"  API answered {paths}; uncached: {[r['path'] for r in direct.results]}")
                    stale_searches += not fresh
                    unstable += not stable
                    print(f"round {i}: {'ok' if outcome.success else 'FAILED ' + str(outcome.error)} "
                          f"{time.perf_counter() - started:.1f} s files={files} chunks={chunks} "
                          f"vectors={vectors} milvus={milvus} {'stable' if stable else 'UNSTABLE'}, "
                          f"search {'fresh' if fresh else 'STALE'}", flush=True)
        finally:
            stop.set()
            loader.join(timeout=60)
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
            shutil.rmtree(work, ignore_errors=True)
        print(f"\n{args.rounds} refreshes, {unstable} unstable, {stale_searches} stale searches; "
              f"API {api_requests[0]} requests, {len(api_errors)} errors")
        for error in api_errors[:10]:
            print("error:", error)
        if unstable or stale_searches or api_errors:
            sys.exit(1)


if __name__ == "__main__":
    main()
