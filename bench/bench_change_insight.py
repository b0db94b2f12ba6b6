"""change_insight on a rerun, with and without the complexities the facts stage stored.

    .venv/bin/python bench/bench_change_insight.py --repo bench/.work/src/fastapi [--runs 3]

On a throwaway stack: the repository's whole history is extracted (commit_history's work), then
compute_insight (hotspots + coupling, what the change_insight asset does) runs `--runs` times with no
stored extractions (every head file parsed for its complexity), then the facts stage's extraction of
every parsable head file is stored (what observed_facts does) and compute_insight runs again as many
times. Prints the medians and how many complexities were reused and parsed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from _common import add_stack_args, default_repo, store_head_extractions, throwaway_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=None, help="a git checkout with history (default fastapi)")
    parser.add_argument("--runs", type=int, default=3)
    add_stack_args(parser)
    args = parser.parse_args()
    repo = (args.repo or default_repo("fastapi")).resolve()

    from repo_scoping_pipelines.insight.pipeline import compute_insight
    from repo_scoping_pipelines.metrics.pipeline import extract_history
    from repo_scoping_pipelines.storage import catalog

    with throwaway_stack(args, "insight") as (settings, services):
        repo_id = catalog.add_repository(services.engine, repo.name, str(repo), "local_path").id
        history = extract_history(services.engine, repo_id, repo, full=True)
        thresholds = {"min_revs": settings.insight_coupling_min_revs,
                      "min_shared_revs": settings.insight_coupling_min_shared_revs,
                      "min_degree": settings.insight_coupling_min_degree,
                      "max_changeset": settings.insight_coupling_max_changeset}
        print(f"{repo.name}: {history.total_commits} commits")

        def timed(label: str) -> None:
            walls, result = [], None
            for _ in range(args.runs):
                started = time.perf_counter()
                result = compute_insight(services.engine, repo_id, repo, history.head, **thresholds)
                walls.append(time.perf_counter() - started)
            print(f"{label}: median {statistics.median(walls):.2f} s over {args.runs} runs; complexities "
                  f"reused {result.complexity_reused}, parsed {result.complexity_parsed}")

        timed("without stored complexities")
        store_head_extractions(services, repo_id, repo, history.head)
        timed("with the facts stage's complexities")


if __name__ == "__main__":
    main()
