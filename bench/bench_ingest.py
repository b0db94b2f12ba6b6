"""Ingest benchmark: first refresh of a real repository end to end, then a no-change refresh and a
refresh after touching one file.

    .venv/bin/python bench/bench_ingest.py [--repo PATH] [--profile first|nochange|touch] [--dagster]

By default each refresh runs the content path's domain functions in order (take_snapshot ->
chunk_repository -> embed_repository: clone/fetch, inventory, chunking, hashing embeddings, Milvus and
Postgres writes). `--dagster` runs the whole `refresh_repository` job instead (refresh_in_process), which
also includes every other per-repository asset (facts, metrics, abilities, ...).

Goals (issue 2, hashing embeddings, 2-core machine): first ingest < 60 s; no-change refresh < 3 s of
work; one-file change < 5 % of the first ingest.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from _common import WORK, Timer, add_stack_args, default_repo, git, milvus_server_pid, throwaway_stack


def _asset_seconds(outcome) -> dict[str, float]:
    return {k: float(v.get("seconds", 0) or 0) for k, v in outcome.assets.items()}


class _ContentPath:
    """The content assets' domain functions, timed one by one (what the assets call)."""

    def __init__(self, services) -> None:
        self.services = services

    def __call__(self, name: str) -> dict[str, dict]:
        from repo_scoping_pipelines.collectors.pipeline import take_snapshot
        from repo_scoping_pipelines.search.pipeline import chunk_repository, embed_repository

        snap = take_snapshot(self.services, name)
        chunks = chunk_repository(self.services, name)
        embedded = embed_repository(self.services, name)
        return {
            "repository_snapshot": {"seconds": snap.seconds, "dagster/row_count": snap.files,
                                    "files_changed": snap.changed},
            "content_chunks": {"seconds": chunks.seconds, "dagster/row_count": sum(chunks.by_kind.values()),
                               "files_chunked": chunks.files_chunked},
            "chunk_embeddings": {"seconds": embedded.seconds, "embedded": embedded.embedded,
                                 "deleted": embedded.deleted},
        }


class _Outcome:
    def __init__(self, assets: dict[str, dict]) -> None:
        self.assets = assets


def _refresh(runner, name: str, label: str, profile: str | None, milvus_pid: int | None = None):
    profiler = None
    if profile == label:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002)
        profiler.start()
    timer = Timer((milvus_pid,))
    outcome = runner(name)
    wall = timer.seconds
    _CPU[label] = (round(timer.cpu, 2), round(timer.other_cpu, 2))
    if profiler is not None:
        profiler.stop()
        out = WORK / f"profile_ingest_{label}.html"
        out.write_text(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:12000])
        print(f"profile written to {out}")
    work = _asset_seconds(outcome)
    print(f"{label:>9}: wall {wall:6.2f} s  | cpu {timer.cpu:6.2f} s here + {timer.other_cpu:5.2f} s milvus server "
          f"| asset work {sum(work.values()):6.2f} s  "
          + "  ".join(f"{k}={v:.2f}s" for k, v in work.items()))
    return wall, outcome


_CPU: dict[str, tuple[float, float]] = {}
_LOAD: list[float] = []


def _dagster_runner(instance):
    from repo_scoping_pipelines.operations.refresh import refresh_in_process

    def run(name: str):
        outcome = refresh_in_process(instance, name)
        if not outcome.success:
            raise SystemExit(f"refresh failed: {outcome.error}")
        return outcome

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=None, help="a local git repository (default bench/.work/src/fastapi)")
    parser.add_argument("--profile", choices=["first", "nochange", "touch"], default=None)
    parser.add_argument("--provider", default="hashing", choices=["hashing", "local"])
    parser.add_argument("--dagster", action="store_true", help="run the whole refresh_repository job")
    add_stack_args(parser)
    args = parser.parse_args()
    pristine = (args.repo or default_repo("fastapi")).resolve()

    import dagster as dg

    with throwaway_stack(args, "ingest", embedding_provider=args.provider) as (settings, services):
        from repo_scoping_pipelines.collectors.registration import register_repository

        # Work on a private clone so that "touch one file" never changes the source repository.
        source = Path(settings.home) / "source"
        git(pristine.parent, "clone", "-q", str(pristine), str(source))
        files = len(git(source, "ls-files").splitlines())
        name = "bench-" + pristine.name
        register_repository(services, name, str(source))
        print(f"repository {pristine.name}: {files} files, head {git(source, 'rev-parse', 'HEAD')[:12]}")

        with dg.instance_for_test() as instance:
            # Warm-up outside the timings: imports, Milvus server start, Dagster definitions.
            timer = Timer()
            services.vectors.ensure_collection(services.collection, services.embedder.dim)
            from repo_scoping_pipelines.definitions import defs  # noqa: F401

            print(f"   warm-up: {timer.seconds:.2f} s (imports, milvus-lite server start; not counted)")
            if args.dagster:
                runner = _dagster_runner(instance)
            else:
                content = _ContentPath(services)
                runner = lambda n: _Outcome(content(n))  # noqa: E731
            print(f"     mode: {'whole refresh_repository job' if args.dagster else 'content path domain functions'}")
            milvus_pid = milvus_server_pid(settings)
            _LOAD.append(os.getloadavg()[0])
            first_wall, first = _refresh(runner, name, "first", args.profile, milvus_pid)
            nochange_wall, nochange = _refresh(runner, name, "nochange", args.profile, milvus_pid)

            target = _touch_target(source)
            with open(source / target, "a", encoding="utf-8") as handle:
                handle.write("\n\ndef benchmark_touched_function(value):\n    \"\"\"Added by bench_ingest.\"\"\"\n"
                             "    return value * 2\n")
            git(source, "commit", "-qam", "bench: touch one file")
            touch_wall, touched = _refresh(runner, name, "touch", args.profile, milvus_pid)
            _LOAD.append(os.getloadavg()[0])

        snap = first.assets["repository_snapshot"]
        chunks = first.assets["content_chunks"]["dagster/row_count"]
        figures = {
            "repository": pristine.name, "files": files, "inventoried": snap["dagster/row_count"], "chunks": chunks,
            "first_wall_s": round(first_wall, 2), "first_work_s": round(sum(_asset_seconds(first).values()), 2),
            "nochange_wall_s": round(nochange_wall, 2),
            "nochange_work_s": round(sum(_asset_seconds(nochange).values()), 2),
            "touch_wall_s": round(touch_wall, 2), "touch_work_s": round(sum(_asset_seconds(touched).values()), 2),
            "touch_percent_of_first": round(100 * touch_wall / first_wall, 2), "touched_file": target,
            "touch_embedded": touched.assets["chunk_embeddings"]["embedded"],
            "first_assets_s": _asset_seconds(first), "nochange_assets_s": _asset_seconds(nochange),
            "touch_assets_s": _asset_seconds(touched),
            "cpu_s_here_and_milvus": _CPU, "load_avg_1m_before_after": _LOAD,
        }
        print(json.dumps(figures, indent=2))
        print(f"goal first ingest < 60 s:        {'MET' if first_wall < 60 else 'MISSED'} ({first_wall:.1f} s, "
              f"{chunks} chunks, {chunks / first_wall:.0f} chunks/s)")
        print(f"goal no-change refresh < 3 s:    {'MET' if nochange_wall < 3 else 'MISSED'} ({nochange_wall:.2f} s wall, "
              f"{figures['nochange_work_s']:.2f} s in assets)")
        print(f"goal one-file change < 5 %:      {'MET' if touch_wall < 0.05 * first_wall else 'MISSED'} "
              f"({touch_wall:.2f} s = {figures['touch_percent_of_first']:.1f} % of first)")


def _touch_target(repo: Path) -> str:
    """A mid-sized Python source file (not a test), deterministic for a given repository."""
    candidates = [p for p in git(repo, "ls-files", "*.py").splitlines()
                  if "test" not in p and (repo / p).stat().st_size > 2000]
    return sorted(candidates)[len(candidates) // 2]


if __name__ == "__main__":
    main()
