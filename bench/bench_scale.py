"""Scale benchmark: sensor tick and UI asset-page load with many registered repositories (dynamic
partitions), and Milvus search latency filtered to one repository with many repositories indexed.

    .venv/bin/python bench/bench_scale.py --partitions 1000 5000 --search-repos 1000

Sensor: the `repository_registrations` tick against the Postgres-backed instance, first with every
repository new (it returns N run requests and the partition add), then steady state (none new).
UI: the GraphQL query behind the asset page of `chunk_embeddings` (partition keys and per-partition
status), served by `dagster-webserver` loading the code location from the gRPC code server.
Search: synthetic chunks (20 per repository, hashing embeddings) in the managed Milvus Lite server,
hybrid (dense + BM25, RRF) search with `repository == X`, measured at the VectorStore.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import time
import urllib.request

from _common import WORK, Timer, add_stack_args, percentile, throwaway_stack

ASSET_PAGE = """
query AssetPage($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name partitionKeys }
      assetPartitionStatuses {
        ... on DefaultPartitionStatuses { materializedPartitions failedPartitions materializingPartitions }
      }
    }
  }
  assetOrError(assetKey: $key) { ... on Asset { assetMaterializations(limit: 1) { runId timestamp } } }
}
"""


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict) -> dict:
    body = json.dumps({"query": query, "variables": variables}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def partitions_bench(args, n: int) -> dict:
    import dagster as dg
    import sqlalchemy as sa

    from repo_scoping_pipelines.operations import deployment
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
    from repo_scoping_pipelines.resources import RepoScopingResource
    from repo_scoping_pipelines.sensors.registrations import repository_registrations
    from repo_scoping_pipelines.storage.tables import repositories as repositories_table

    ports = {"code_server_port": _free_port(), "webserver_port": _free_port(), "api_port": _free_port()}
    with throwaway_stack(args, f"parts{n}", **ports) as (settings, services):
        names = [f"repo-{i:05d}" for i in range(n)]
        with services.engine.begin() as conn:  # registrations as rows; the sensor reads them
            conn.execute(sa.insert(repositories_table),
                         [{"name": name, "source": f"/srv/git/{name}", "source_kind": "local_path"}
                          for name in names])
        result: dict = {"repositories": n}
        with dagster_instance(settings) as instance:
            def tick():
                context = dg.build_sensor_context(instance=instance,
                                                  resources={"repo_scoping": RepoScopingResource()})
                timer = Timer()
                out = repository_registrations(context)
                return timer.seconds, out

            seconds, first = tick()
            result["sensor_first_tick_s"] = round(seconds, 3)
            result["first_tick_run_requests"] = len(first.run_requests)
            timer = Timer()
            instance.add_dynamic_partitions("repositories", names)  # what the daemon applies
            result["add_partitions_s"] = round(timer.seconds, 3)
            steady = [tick()[0] for _ in range(5)]
            result["sensor_steady_tick_p50_s"] = round(percentile(steady, 50), 3)
        try:
            timer = Timer()
            deployment.up(settings, echo=lambda _: None, only=["code-server", "webserver"])
            result["startup_s"] = round(timer.seconds, 1)
            loads = []
            for _ in range(args.page_loads):
                timer = Timer()
                page = _graphql(settings.webserver_port, ASSET_PAGE, {"key": {"path": ["chunk_embeddings"]}})
                loads.append(timer.seconds)
                keys = page["data"]["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]
                assert len(keys) == n, len(keys)
            result["asset_page_first_s"] = round(loads[0], 3)
            result["asset_page_p50_s"] = round(percentile(loads[1:] or loads, 50), 3)
            result["asset_page_max_s"] = round(max(loads), 3)
        finally:
            deployment.down(settings, echo=lambda _: None, only=["webserver", "code-server"], timeout_s=10)
        return result


def search_bench(args, n: int) -> dict:
    from repo_scoping_pipelines.search.text import index_text, query_text

    words = ["parse", "config", "load", "invoice", "total", "compute", "render", "template", "request", "retry", "cache", "user", "token", "session", "schema", "migrate", "index", "search", "chunk", "vector", "embed", "graph", "import", "export"]
    rng = random.Random(7)
    with throwaway_stack(args, f"search{n}") as (settings, services):
        collection = services.collection
        services.vectors.ensure_collection(collection, services.embedder.dim
                                           if hasattr(services.embedder, "dim") else settings.embedding_dim)
        timer = Timer()
        batch: list[dict] = []
        for r in range(n):
            repo = f"repo-{r:05d}"
            for c in range(args.chunks_per_repo):
                text = " ".join(rng.choice(words) for _ in range(40))
                batch.append({"chunk_id": f"{repo}-{c}", "repository": repo, "path": f"src/mod{c}.py",
                              "start_line": 1, "end_line": 20, "kind": "function", "symbol": f"fn_{c}",
                              "index_text": index_text(text, symbol=f"fn_{c}", path=f"src/mod{c}.py"),
                              "text": text})
            if len(batch) >= 2000 or r == n - 1:
                dense = services.embedder.embed([b.pop("text") for b in batch])
                services.vectors.upsert(collection, [{**b, "dense": d} for b, d in zip(batch, dense, strict=True)])
                batch = []
        services.vectors.flush(collection)
        load_s = timer.seconds
        total = services.vectors.count(collection)
        latencies = {"filtered": [], "unfiltered": []}
        queries = [" ".join(rng.sample(words, 3)) for _ in range(args.searches)]
        for i, q in enumerate(queries):
            dense = services.embedder.embed([q])[0]
            for label, repo in (("filtered", f"repo-{rng.randrange(n):05d}"), ("unfiltered", None)):
                timer = Timer()
                hits = services.vectors.search(collection, keyword_text=query_text(q), dense=dense,
                                               repository=repo, limit=10, mode="hybrid")
                if i:  # the first query warms the connection
                    latencies[label].append(timer.seconds)
                if repo:
                    assert all(h["repository"] == repo for h in hits)
        return {"repositories": n, "chunks": total, "load_s": round(load_s, 1),
                **{f"{label}_p50_ms": round(percentile(v, 50) * 1000, 1) for label, v in latencies.items()},
                **{f"{label}_p95_ms": round(percentile(v, 95) * 1000, 1) for label, v in latencies.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--partitions", type=int, nargs="*", default=[1000, 5000])
    parser.add_argument("--page-loads", type=int, default=5)
    parser.add_argument("--search-repos", type=int, default=1000)
    parser.add_argument("--chunks-per-repo", type=int, default=20)
    parser.add_argument("--searches", type=int, default=200)
    add_stack_args(parser)
    args = parser.parse_args()
    report: dict = {"partitions": [], "search": None}
    for n in args.partitions:
        report["partitions"].append(partitions_bench(args, n))
        print(json.dumps(report["partitions"][-1]), flush=True)
    if args.search_repos:
        report["search"] = search_bench(args, args.search_repos)
        print(json.dumps(report["search"]), flush=True)
    (WORK / "scale.json").write_text(json.dumps(report, indent=2))
    time.sleep(0)


if __name__ == "__main__":
    main()
