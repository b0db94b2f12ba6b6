"""Engineering metrics on a real repository's full history.

Measures, in one run on one machine:
  * raw `git log --numstat HEAD` of the history (what the metrics cannot beat: git computes the diffs);
  * the full metrics: commit_history (full extraction into Postgres), author windows, daily rows over
    every day, file ownership and what shipped — the work of the metrics assets, without Dagster;
  * change_insight (hotspots + coupling, pandas over the stored history) and knowledge_risk (git blame
    of every text file at the head; a rerun blames only files whose blob changed);
  * an incremental refresh with no new commit (the same steps);
  * an incremental refresh after one new commit that edits one file, a median-size one and then the
    largest (made on the clone, undone after).
The goals: full metrics <= 1.5x raw git log; the no-change and one-new-commit refreshes under 2 s of work.

The repository must be a full clone with 15,000+ commits, e.g. (never committed, bench/.work is ignored):
    git clone https://github.com/sqlalchemy/sqlalchemy bench/.work/sqlalchemy
    .venv/bin/python bench/bench_metrics.py --repo bench/.work/sqlalchemy --milvus-local
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

from _common import WORK, add_stack_args, store_head_extractions, throwaway_stack


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


def commit_one_change(repo: Path, pick: str) -> str:
    """A commit editing one Python file of the head: `largest` (the most blame and complexity a one-file
    commit can cost) or `median` (a typical file). Returns the file."""
    files = sorted((p for p in subprocess.run(["git", "ls-files", "*.py"], cwd=repo, capture_output=True, text=True,
                                              check=True).stdout.splitlines() if (repo / p).is_file()),
                   key=lambda p: ((repo / p).stat().st_size, p))
    target = files[-1] if pick == "largest" else files[len(files) // 2]
    with (repo / target).open("a") as fh:
        fh.write(f"\n\ndef _bench_one_new_commit_{pick}(value):\n    if value:\n        return value\n"
                 "    return None\n")
    env = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
           "GIT_COMMITTER_EMAIL": "bench@example.com", "PATH": os.environ["PATH"], "HOME": os.environ["HOME"]}
    subprocess.run(["git", "commit", "-q", "-am", f"bench: one new commit ({pick} file)"], cwd=repo, env=env,
                   check=True)
    print(f"one new commit edits the {pick} Python file {target} ({(repo / target).stat().st_size:,} bytes)")
    return target


def metrics_pass(services, repo_id: int, repo: Path, *, full: bool, changed: list[str] | None = None
                 ) -> dict[str, float]:
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
    if changed is not None:  # the facts stage re-extracts the changed files (their complexity with them)
        t = time.perf_counter()
        store_head_extractions(services, repo_id, repo, history.head, changed)
        steps["observed_facts (changed files)"] = time.perf_counter() - t
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
        stored = store_head_extractions(services, repo_id, repo, head)  # the facts stage ran before (not timed)
        print(f"facts stage: {stored} parsable files' extractions stored (not timed here: bench_facts.py)")
        full = metrics_pass(services, repo_id, repo, full=True)
        raw_after = raw_git_log(repo)
        raw_ours = raw_git_log(repo, "--no-merges", "--use-mailmap")
        raw = (raw_before + raw_after) / 2
        print(f"raw git log --numstat HEAD: {raw_before:.2f}s, {raw_after:.2f}s (mean {raw:.2f}s); "
              f"with --no-merges --use-mailmap: {raw_ours:.2f}s")
        print(f"full metrics: {full['total']:.2f}s for {full['commits']:.0f} commits, "
              f"{full['file_changes']:.0f} file changes -> ratio {full['total'] / raw:.2f}x raw git log")
        _print_steps(full)
        runs = [metrics_pass(services, repo_id, repo, full=False) for _ in range(args.repeat)]
        median = statistics.median(r["total"] for r in runs)
        print(f"no-change incremental refresh: median {median:.2f}s over {args.repeat} runs")
        _print_steps(runs[-1])
        # Each on top of the one before (history only grows), the clone reset to its head afterwards.
        try:
            for pick in ("median", "largest"):
                target = commit_one_change(repo, pick)
                one = metrics_pass(services, repo_id, repo, full=False, changed=[target])
                print(f"one-new-commit incremental refresh ({pick} file): {one['total']:.2f}s of work")
                _print_steps(one)
        finally:
            subprocess.run(["git", "reset", "-q", "--hard", head], cwd=repo, check=True)


def _print_steps(steps: dict[str, float]) -> None:
    for step, seconds in steps.items():
        if step not in ("total", "commits", "file_changes"):
            print(f"    {step:<24} {seconds:7.2f}s")


if __name__ == "__main__":
    main()
