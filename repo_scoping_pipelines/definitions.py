"""The code location: one Definitions object merging assets, sensors, schedules and resources.

Loading it does no network or database I/O; resources connect when a run or tick uses them.
"""

import dagster as dg

from . import assets, schedules, sensors
from .config import get_settings
from .resources import RepoScopingResource


def executor() -> dg.ExecutorDefinition:
    """Each step in its own process; at most REPO_SCOPING_EXECUTOR_MAX_CONCURRENT at once per run.

    Steps fork from a forkserver that has imported the code location once, instead of each step
    paying the Dagster + project import again (spawn).
    """
    return dg.multiprocess_executor.configured(
        {"max_concurrent": get_settings().executor_max_concurrent,
         "start_method": {"forkserver": {"preload_modules": ["repo_scoping_pipelines.definitions"]}}},
        name="multiprocess")


defs = dg.Definitions.merge(
    assets.defs(),
    sensors.defs(),
    schedules.defs(),
    dg.Definitions(resources={"repo_scoping": RepoScopingResource()}, executor=executor()),
)
