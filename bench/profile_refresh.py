"""Where the fixed cost of a no-change refresh goes: phases of one `repo-scoping refresh NAME`.

    .venv/bin/python bench/profile_refresh.py [--repo PATH] [--warm 2]

On a throwaway stack (see _common.py) it registers the repository (a 3-file one by default), refreshes
it `--warm` times, then runs one more no-change refresh as a subprocess under cProfile, writes
bench/.work/refresh_profile.prof and prints the phase breakdown (imports, instance, definitions load,
the run itself, each step's own time from the run's events) and the top cumulative entries.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import WORK, add_stack_args, compile_project, throwaway_stack
from bench_refresh_cost import _make_tiny

CLI = [sys.executable, "-m", "repo_scoping_pipelines.cli"]

PHASES = """
import time, json, sys
t0 = time.perf_counter()
import dagster
t_dagster = time.perf_counter()
from repo_scoping_pipelines import cli
t_cli = time.perf_counter()
from repo_scoping_pipelines.definitions import defs
job = defs.resolve_job_def("refresh_repository")
t_defs = time.perf_counter()
from repo_scoping_pipelines.services import open_services
from repo_scoping_pipelines.config import load_settings
services = open_services(load_settings())
t_services = time.perf_counter()
from repo_scoping_pipelines.operations.dagster_instance import dagster_instance
with dagster_instance(services.settings) as instance:
    instance.get_dynamic_partitions("repositories")
    t_instance = time.perf_counter()
    from repo_scoping_pipelines.operations.refresh import refresh_in_process
    outcome = refresh_in_process(instance, sys.argv[1])
    t_run = time.perf_counter()
    steps = {}
    for rec in instance.all_logs(outcome.run_id):
        e = rec.dagster_event
        if e is None or e.step_key is None:
            continue
        s = steps.setdefault(e.step_key, {})
        if e.event_type_value == "STEP_START":
            s["start"] = rec.timestamp
        elif e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
            s["end"] = rec.timestamp
            s["state"] = e.event_type_value
        s["events"] = s.get("events", 0) + 1
    records = instance.all_logs(outcome.run_id)
    nevents = len(records)
    from collections import Counter
    types = Counter((r.dagster_event.event_type_value if r.dagster_event else "log:" + r.level_name if hasattr(r, "level_name") else "log") for r in records)
print(json.dumps({"import_dagster_s": t_dagster - t0, "import_cli_s": t_cli - t_dagster,
                  "definitions_s": t_defs - t_cli, "services_s": t_services - t_defs,
                  "instance_s": t_instance - t_services, "run_s": t_run - t_instance,
                  "run_events": nevents, "event_types": dict(types.most_common()),
                  "steps": {k: {"s": round(v.get("end", 0) - v.get("start", 0), 3), "events": v["events"],
                                "state": v.get("state"), "skipped": bool((outcome.assets.get(k) or {}).get("skipped"))}
                            for k, v in steps.items()}}, indent=1))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=None)
    parser.add_argument("--warm", type=int, default=2)
    add_stack_args(parser)
    args = parser.parse_args()
    compile_project()
    path = args.repo or _make_tiny(WORK / "refresh_cost_src" / "tiny")
    name = path.name
    with throwaway_stack(args, "refresh_profile") as (_settings, services):
        subprocess.run([*CLI, "register", name, str(path)], check=True, capture_output=True)
        services.vectors.ping()
        for _ in range(args.warm):
            started = time.perf_counter()
            subprocess.run([*CLI, "refresh", "--json", name], check=True, capture_output=True)
            print(f"warm refresh {time.perf_counter() - started:.2f}s", flush=True)
        started = time.perf_counter()
        subprocess.run([*CLI, "refresh", "--json", name], check=True, capture_output=True)
        print(f"no-change refresh (CLI) {time.perf_counter() - started:.2f}s", flush=True)
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", PHASES, name], check=True, capture_output=True, text=True)
        print(f"phases process {time.perf_counter() - started:.2f}s")
        print(out.stdout)
        prof = WORK / "refresh_profile.prof"
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "repo_scoping_pipelines.cli",
                        "refresh", "--json", name], check=True, capture_output=True, env=os.environ)
        import pstats

        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(40)
        stats = pstats.Stats(str(prof)).sort_stats("tottime")
        stats.print_stats(25)


if __name__ == "__main__":
    main()
