"""Engineering metrics on a real repository's full history.

Measures, in one run on one machine:
  * raw `git log --numstat HEAD` of the history (what the metrics cannot beat: git computes the diffs);
  * the full metrics: commit_history (full extraction into Postgres), author windows, daily rows over
    every day, file ownership and what shipped — the work of the metrics assets, without Dagster;
  * change_insight (hotspots + coupling, pandas over the stored history) and knowledge_risk (git blame
    of every text file at the head; a rerun blames only files whose blob changed);
  * an incremental refresh with no new commit (the same steps).
The goal: full metrics <= 1.5x raw git log; the no-change refresh under 2 s.

The repository must be a full clone with 15,000+ commits, e.g. (never committed, bench/.work is ignored):
    git clone https://github.com/sqlalchemy/sqlalchemy bench/.work/sqlalchemy
    .venv/bin/python bench/bench_metrics.py --repo bench/.work/sqlalchemy --milvus-local
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

from _common import WORK, add_stack_args, throwaway_stack


def raw_git_log(repo: Path, *extra: str) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "log", *extra, "--numstat", "HEAD"], cwd=repo, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def text_inventory(repo: Path) -> dict[str, dict]:
    """What the snapshot's inventory gives knowledge_risk: the head's text files with their blob ids."""
    text = set(subprocess.run(["git", "grep", "-I", "-z", "--name-only", "-e", "", "HEAD"], cwd=repo,
                              capture_output=True, check=True).stdout.decode(errors="surrogateescape")
               .replace("HEAD:", "").split("\0"))
    tree = subprocess.run(["git", "ls-tree", "-r", "-z", "HEAD"], cwd=repo, capture_output=True,
                          check=True).stdout.decode(errors="surrogateescape").split("\0")
    out = {}
    for entry in filter(None, tree):
        meta, path = entry.split("\t", 1)
        if path in text:
            out[path] = {"content_hash": meta.split()[2], "is_binary": False, "skip_reason": None}
    return out


def metrics_pass(services, repo_id: int, repo: Path, *, full: bool) -> dict[str, float]:
    from repo_scoping_pipelines.insight.pipeline import compute_insight, compute_knowledge
    from repo_scoping_pipelines.metrics.history import EARLIEST_PLAUSIBLE
    from repo_scoping_pipelines.metrics.pipeline import (
        author_daily,
        author_windows,
        compute_ownership,
        compute_shipped,
        extract_history,
    )

    steps: dict[str, float] = {}
    t = time.perf_counter()
    history = extract_history(services.engine, repo_id, repo, full=full)
    steps["commit_history"] = time.perf_counter() - t
    t = time.perf_counter()
    author_windows(services.engine, repo_id)
    steps["author_metrics_window"] = time.perf_counter() - t
    t = time.perf_counter()
    if history.first_day:  # what the daily sensor asks for: the changed range, in one run
        author_daily(services.engine, max(history.first_day, EARLIEST_PLAUSIBLE),
                     min(history.last_day, date.today()) + timedelta(days=1))
    steps["author_metrics_daily"] = time.perf_counter() - t
    t = time.perf_counter()
    compute_ownership(services.engine, repo_id, repo, history.head,
                      half_life_days=services.settings.ownership_half_life_days)
    steps["file_ownership"] = time.perf_counter() - t
    t = time.perf_counter()
    compute_shipped(services.engine, repo_id)
    steps["what_shipped"] = time.perf_counter() - t
    settings = services.settings
    t = time.perf_counter()
    compute_insight(services.engine, repo_id, repo, history.head, min_revs=settings.insight_coupling_min_revs,
                    min_shared_revs=settings.insight_coupling_min_shared_revs,
                    min_degree=settings.insight_coupling_min_degree,
                    max_changeset=settings.insight_coupling_max_changeset)
    steps["change_insight"] = time.perf_counter() - t
    t = time.perf_counter()
    compute_knowledge(services.engine, repo_id, repo, history.head, text_inventory(repo),
                      active_days=settings.insight_active_days, island_share=settings.insight_island_share,
                      workers=settings.insight_blame_workers)
    steps["knowledge_risk"] = time.perf_counter() - t
    steps["total"] = sum(steps.values())
    steps["commits"] = history.total_commits
    steps["file_changes"] = history.files_added
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=WORK / "sqlalchemy", help="a full clone (15,000+ commits)")
    parser.add_argument("--repeat", type=int, default=3, help="no-change refreshes to time")
    add_stack_args(parser)
    args = parser.parse_args()
    repo = args.repo.resolve()
    count = int(subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo, capture_output=True, text=True,
                               check=True).stdout)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    print(f"repository {repo.name} @ {head[:12]}: {count} commits")

    from repo_scoping_pipelines.storage import catalog

    with throwaway_stack(args, "metrics") as (_settings, services):
        repo_id = catalog.add_repository(services.engine, repo.name, str(repo), "local_path").id
        raw_before = raw_git_log(repo)
        full = metrics_pass(services, repo_id, repo, full=True)
        raw_after = raw_git_log(repo)
        raw_ours = raw_git_log(repo, "--no-merges", "--use-mailmap")
        raw = (raw_before + raw_after) / 2
        print(f"raw git log --numstat HEAD: {raw_before:.2f}s, {raw_after:.2f}s (mean {raw:.2f}s); "
              f"with --no-merges --use-mailmap: {raw_ours:.2f}s")
        print(f"full metrics: {full['total']:.2f}s for {full['commits']:.0f} commits, "
              f"{full['file_changes']:.0f} file changes -> ratio {full['total'] / raw:.2f}x raw git log")
        for step, seconds in full.items():
            if step not in ("total", "commits", "file_changes"):
                print(f"    {step:<24} {seconds:7.2f}s")
        runs = [metrics_pass(services, repo_id, repo, full=False) for _ in range(args.repeat)]
        median = statistics.median(r["total"] for r in runs)
        print(f"no-change incremental refresh: median {median:.2f}s over {args.repeat} runs")
        last = runs[-1]
        for step, seconds in last.items():
            if step not in ("total", "commits", "file_changes"):
                print(f"    {step:<24} {seconds:7.2f}s")


if __name__ == "__main__":
    main()
