"""The code location: one Definitions object merging assets, sensors, schedules and resources.

Assets, asset checks, jobs, sensors and schedules are loaded from the packages that define them
(Dagster's package loading), so nothing is listed by hand; owners and the stage tag are applied
here once. Loading it does no network or database I/O; resources connect when a run or tick uses
them.
"""

import warnings

import dagster as dg

from . import assets, schedules, sensors
from .config import get_settings
from .resources import RepoScopingResource

OWNERS = ["team:repo-scoping"]
STAGE_TAG = "repo_scoping/stage"


def executor() -> dg.ExecutorDefinition:
    """REPO_SCOPING_EXECUTOR=in_process (default): a launched run executes its steps one after another
    in its own process (runs stay one process each, run in parallel by the queue). A daemon drain of
    20 small repositories took 82.6 s this way against 266.5 s with a process per step
    (bench/README.md, the drain benchmark). `multiprocess`: each step in its own process, at most
    REPO_SCOPING_EXECUTOR_MAX_CONCURRENT at once per run, forked from a forkserver that has imported the
    code location once: step isolation and parallel steps, for large repositories on many cores.
    """
    settings = get_settings()
    if settings.executor == "in_process":
        return dg.in_process_executor
    return dg.multiprocess_executor.configured(
        {"max_concurrent": settings.executor_max_concurrent,
         "start_method": {"forkserver": {"preload_modules": ["repo_scoping_pipelines.definitions"]}}},
        name="multiprocess")


def _owned(spec: dg.AssetSpec) -> dg.AssetSpec:
    """Every asset: the team as owner, its stage (the asset group) as a tag the UI can filter on."""
    return spec.replace_attributes(owners=OWNERS, tags={**spec.tags, STAGE_TAG: spec.group_name or "default"})


def load_defs() -> dg.Definitions:
    """Everything the asset, sensor and schedule packages define, with the shared resource and executor."""
    # Package loading and map_asset_specs are marked "preview" in Dagster 1.13: silence the warning
    # that would otherwise print on every process start (CLI, code server, each run worker).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.Definitions.merge(
            dg.load_definitions_from_package_module(assets),
            dg.load_definitions_from_package_module(sensors),
            dg.load_definitions_from_package_module(schedules),
            dg.Definitions(resources={"repo_scoping": RepoScopingResource()}, executor=executor()),
        ).map_asset_specs(func=_owned)


defs = load_defs()
