"""Drain benchmark: N small repositories through the real Dagster deployment (gRPC code server +
dagster-daemon, QueuedRunCoordinator at dagster.yaml's max_concurrent_runs), then the same N through one
in-process `repo-scoping refresh`, each on a fresh database and Milvus Lite server.

    .venv/bin/python bench/make_repos.py --count 200
    .venv/bin/python bench/bench_drain.py --count 200

Reports wall time, runs per minute, peak memory (RSS summed over every process of the deployment:
code server, its run workers and step processes, daemon, Milvus Lite server; Postgres is the machine's
and not counted) and the ratio daemon / in-process; checks that no two runs of one repository
overlapped and that both paths stored the same number of chunks per repository.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import socket
import threading
import time
from pathlib import Path

import psutil
from _common import Timer, WORK, add_stack_args, compile_project, throwaway_stack
from make_repos import make_repos


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PeakRss:
    """Samples the summed RSS of some root processes and all their descendants, once a second."""

    def __init__(self, roots) -> None:
        self.roots = roots  # callable -> list of pids
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        seen, total = set(), 0
        for pid in self.roots():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for proc in [root, *root.children(recursive=True)]:
                    if proc.pid not in seen:
                        seen.add(proc.pid)
                        with contextlib.suppress(psutil.Error):
                            total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(1.0)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _register(services, repos: list[Path]) -> list[str]:
    from repo_scoping_pipelines.collectors.registration import register_repository

    names = []
    for path in repos:
        register_repository(services, path.name, str(path))
        names.append(path.name)
    return names


def _chunk_counts(services, names: list[str]) -> dict[str, int]:
    from repo_scoping_pipelines.storage import catalog
    from repo_scoping_pipelines.storage import chunks as chunk_store

    return {n: sum(chunk_store.chunk_counts(services.engine, catalog.get_repository(services.engine, n).id)
                   .values()) for n in names}


def drain_with_daemon(args, repos: list[Path]) -> dict:
    import dagster as dg

    from repo_scoping_pipelines.operations import deployment
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
    from repo_scoping_pipelines.operations.embedded import running_milvus_server

    ports = {"code_server_port": _free_port(), "webserver_port": _free_port(), "api_port": _free_port()}
    with throwaway_stack(args, "drain", **ports) as (settings, services):
        names = _register(services, repos)
        print(f"registered {len(names)} repositories; starting code server + daemon", flush=True)

        def roots() -> list[int]:
            pids = [s["pid"] for s in (deployment.read_state(settings, n) for n in ("code-server", "daemon")) if s]
            milvus = running_milvus_server(settings)
            return pids + ([milvus["pid"]] if milvus else [])

        timer = Timer()
        first_success = None
        try:
            with PeakRss(roots) as rss:
                deployment.up(settings, echo=print, only=["code-server", "daemon"])
                started_s = timer.seconds
                while True:
                    with dagster_instance(settings) as instance:
                        records = list(instance.get_run_records(
                            filters=dg.RunsFilter(job_name="refresh_repository")))
                    done = {r.dagster_run.tags.get("dagster/partition") for r in records
                            if r.dagster_run.status == dg.DagsterRunStatus.SUCCESS}
                    failed = [r for r in records if r.dagster_run.status == dg.DagsterRunStatus.FAILURE]
                    if done and first_success is None:
                        first_success = timer.seconds
                    print(f"  {timer.seconds:7.1f} s: {len(done)}/{len(names)} materialized, "
                          f"{len(failed)} failed runs", flush=True)
                    if set(names) <= done:
                        break
                    if timer.seconds > args.timeout:
                        raise SystemExit(f"drain timed out after {args.timeout} s")
                    time.sleep(5)
                wall = timer.seconds
        finally:
            deployment.down(settings, echo=print, only=["daemon", "code-server"], timeout_s=10)
        overlaps = 0
        for name in names:
            spans = sorted((r.start_time, r.end_time or float("inf")) for r in records
                           if r.dagster_run.tags.get("dagster/partition") == name and r.start_time)
            overlaps += sum(1 for (_, end), (start, _) in itertools.pairwise(spans) if start < end)
        return {"wall_s": round(wall, 1), "startup_s": round(started_s, 1),
                "first_success_s": round(first_success or 0, 1),
                "runs": len(records), "failed_runs": len(failed), "overlapping_runs_same_repo": overlaps,
                "runs_per_min": round(len(names) / wall * 60, 2),
                "runs_per_min_after_startup": round(len(names) / (wall - started_s) * 60, 2),
                "peak_rss_mb": round(rss.peak / 2**20), "chunks": _chunk_counts(services, names)}


def refresh_in_process(args, repos: list[Path]) -> dict:
    from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
    from repo_scoping_pipelines.operations.embedded import running_milvus_server
    from repo_scoping_pipelines.operations.refresh import refresh_in_process as refresh

    with throwaway_stack(args, "inproc") as (settings, services):
        names = _register(services, repos)
        services.vectors.ping()  # start the managed Milvus Lite server before timing

        def roots() -> list[int]:
            milvus = running_milvus_server(settings)
            return [psutil.Process().pid] + ([milvus["pid"]] if milvus else [])

        timer = Timer()
        with PeakRss(roots) as rss, dagster_instance(settings) as instance:
            for i, name in enumerate(names, 1):
                outcome = refresh(instance, name)
                if not outcome.success:
                    raise SystemExit(f"in-process refresh of {name} failed: {outcome.error}")
                if i % 20 == 0:
                    print(f"  {timer.seconds:7.1f} s: {i}/{len(names)} refreshed in-process", flush=True)
        wall = timer.seconds
        return {"wall_s": round(wall, 1), "runs_per_min": round(len(names) / wall * 60, 2),
                "peak_rss_mb": round(rss.peak / 2**20), "chunks": _chunk_counts(services, names)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repos", type=Path, default=WORK / "repos")
    parser.add_argument("--timeout", type=float, default=7200)
    parser.add_argument("--skip-in-process", action="store_true")
    add_stack_args(parser)
    args = parser.parse_args()
    compile_project()
    repos = make_repos(args.count, args.repos)

    daemon = drain_with_daemon(args, repos)
    result = {"count": args.count, "daemon": {k: v for k, v in daemon.items() if k != "chunks"}}
    if not args.skip_in_process:
        inproc = refresh_in_process(args, repos)
        result["in_process"] = {k: v for k, v in inproc.items() if k != "chunks"}
        result["ratio_wall_daemon_over_in_process"] = round(daemon["wall_s"] / inproc["wall_s"], 2)
        result["same_chunks_per_repository"] = daemon["chunks"] == inproc["chunks"]
    print(json.dumps(result, indent=2))
    out = WORK / f"drain_{args.count}.json"
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
