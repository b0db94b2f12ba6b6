"""Refresh cost benchmark: whole-process `repo-scoping refresh NAME` wall times, process start included.

    .venv/bin/python bench/bench_refresh_cost.py [--repo bench/.work/src/fastapi] [--runs 3] [--profile]

On a throwaway stack (fresh database, managed Milvus Lite server; see _common.py) it registers a real
repository (~3,000 files; fastapi by default) and a tiny one (3 files), then times the console script
as a user runs it:

- large: first refresh, no-change refresh, refresh after a one-file commit;
- tiny: no-change refresh (all fixed cost: process start, imports, instance, run launch, steps).

Each figure is also given as a ratio to baselines taken in the same run: `repo-scoping --help`
(process start + click) and `python -c 'import dagster'` (the floor of any Dagster run). Per-step
fixed cost = (tiny no-change wall - `import dagster` wall) / steps of the run. `--profile` writes a
cProfile of one no-change refresh of the large repository to bench/.work/refresh_nochange.prof and
prints its top entries; the Dagster step timings come from the run's own events.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import ROOT, WORK, add_stack_args, compile_project, default_repo, git, throwaway_stack

CLI = [sys.executable, "-m", "repo_scoping_pipelines.cli"]


def _timed(cmd: list[str], runs: int = 1, check: bool = True) -> tuple[float, str]:
    """Median wall seconds of `runs` runs of cmd; the last run's stdout."""
    walls, out = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        walls.append(time.perf_counter() - started)
        if check and proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
        out = proc.stdout
    return statistics.median(walls), out


def _refresh(name: str, runs: int = 1) -> tuple[float, dict]:
    wall, out = _timed([*CLI, "refresh", "--json", name], runs)
    report = json.loads(out)
    return wall, report["repositories"][0]


def _make_tiny(path: Path) -> Path:
    if not (path / ".git").exists():
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "-q", "-b", "main")
        (path / "README.md").write_text("# tiny\n\nA tiny repository.\n")
        (path / "app.py").write_text("def main():\n    return 1\n")
        (path / "pyproject.toml").write_text('[project]\nname = "tiny"\nversion = "0.1"\n')
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "init")
    return path


def _steps(report: dict) -> dict[str, int]:
    states: dict[str, int] = {}
    for asset in report["assets"].values():
        states[asset["state"]] = states.get(asset["state"], 0) + 1
    return states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=None, help="a git checkout (default bench/.work/src/fastapi)")
    parser.add_argument("--runs", type=int, default=3, help="runs per no-change / baseline figure (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile one no-change refresh")
    add_stack_args(parser)
    args = parser.parse_args()
    compile_project()
    source = args.repo or default_repo("fastapi")
    # A private clone: the one-file commit must not touch the source checkout.
    large = WORK / "refresh_cost_src" / source.name
    if not large.exists():
        subprocess.run(["git", "clone", "-q", str(source), str(large)], check=True)
    tiny = _make_tiny(WORK / "refresh_cost_src" / "tiny")
    files = len(git(large, "ls-files").splitlines())

    result: dict = {"repository": source.name, "files": files, "load_avg_1m": os.getloadavg()[0]}
    with throwaway_stack(args, "refresh_cost") as (_settings, services):
        help_s, _ = _timed([*CLI, "--help"], args.runs)
        dagster_s, _ = _timed([sys.executable, "-c", "import dagster"], args.runs)
        result["baseline"] = {"cli_help_s": round(help_s, 3), "import_dagster_s": round(dagster_s, 3)}
        for name, path in ((source.name, large), ("tiny", tiny)):
            _timed([*CLI, "register", name, str(path)])
        services.vectors.ping()  # the managed Milvus Lite server runs before the first timing

        figures: dict[str, dict] = {}
        wall, report = _refresh(source.name)
        figures["first"] = {"wall_s": wall, "steps": _steps(report)}
        wall, report = _refresh(source.name, args.runs)
        figures["no_change"] = {"wall_s": wall, "steps": _steps(report),
                                "asset_seconds": {k: v["elapsed_s"] for k, v in report["assets"].items()}}
        target = next(p for p in git(large, "ls-files", "*.py").splitlines() if "/" in p)
        with open(large / target, "a") as handle:
            handle.write(f"\n# touched by bench_refresh_cost {time.time()}\n")
        git(large, "commit", "-q", "-am", "touch one file")
        wall, report = _refresh(source.name)
        figures["one_file"] = {"wall_s": wall, "steps": _steps(report),
                               "asset_seconds": {k: v["elapsed_s"] for k, v in report["assets"].items()}}
        _refresh("tiny")
        wall, report = _refresh("tiny", args.runs)
        steps = sum(_steps(report).values())
        figures["tiny_no_change"] = {"wall_s": wall, "steps": _steps(report),
                                     "fixed_cost_over_import_dagster_s": round(wall - dagster_s, 3),
                                     "per_step_s": round((wall - dagster_s) / max(steps, 1), 3)}
        for figure in figures.values():
            figure["wall_s"] = round(figure["wall_s"], 3)
            figure["x_cli_help"] = round(figure["wall_s"] / help_s, 2)
            figure["x_import_dagster"] = round(figure["wall_s"] / dagster_s, 2)
        figures["one_file"]["over_no_change_s"] = round(figures["one_file"]["wall_s"]
                                                        - figures["no_change"]["wall_s"], 3)
        result["figures"] = figures

        if args.profile:
            prof = WORK / "refresh_nochange.prof"
            subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "repo_scoping_pipelines.cli",
                            "refresh", "--json", source.name], check=True, capture_output=True, env=os.environ)
            import pstats

            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(r"(repo_scoping|assets|dagster/_core/"
                                                                          r"(instance|execution/api))", 25)
            result["profile"] = str(prof.relative_to(ROOT))
    print(json.dumps(result, indent=2))
    (WORK / "refresh_cost.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
