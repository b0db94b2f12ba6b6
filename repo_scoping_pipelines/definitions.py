"""The code location: one Definitions object merging assets, sensors, schedules and resources.

Loading it does no network or database I/O; resources connect when a run or tick uses them.
"""

import dagster as dg

from . import assets, schedules, sensors
from .resources import RepoScopingResource

defs = dg.Definitions.merge(
    assets.defs(),
    sensors.defs(),
    schedules.defs(),
    dg.Definitions(resources={"repo_scoping": RepoScopingResource()}),
)
