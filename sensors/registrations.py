"""Turn new registrations (rows in Postgres) into `repositories` partitions and refresh runs."""

import dagster as dg

from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.schedules.jobs import refresh_repository_job
from repo_scoping_pipelines.storage import catalog


@dg.sensor(job=refresh_repository_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def repository_registrations(context: dg.SensorEvaluationContext, repo_scoping: RepoScopingResource):
    """Adds a partition for each newly registered repository and requests its first refresh.
    Repositories removed from the registry leave the partition set."""
    registered = {r.name for r in catalog.list_repositories(repo_scoping.services().engine)}
    known = set(context.instance.get_dynamic_partitions(repositories.name))
    new = sorted(registered - known)
    gone = sorted(known - registered)
    requests = []
    if new:
        requests.append(repositories.build_add_request(new))
    if gone:
        requests.append(repositories.build_delete_request(gone))
    if not requests:
        return dg.SkipReason(f"{len(registered)} repositories, none new")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"registered-{name}", partition_key=name) for name in new],
        dynamic_partitions_requests=requests,
    )
