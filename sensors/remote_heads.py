"""Start a refresh when a repository's remote head moves (git ls-remote), one run per repository at a time."""

import dagster as dg

from repo_scoping_pipelines.collectors.git import GitError
from repo_scoping_pipelines.metrics.history import remote_head
from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.schedules.jobs import refresh_repository_job
from repo_scoping_pipelines.storage import catalog

_IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
              dg.DagsterRunStatus.STARTED]


def run_in_flight(instance: dg.DagsterInstance, name: str) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": name}, statuses=_IN_FLIGHT), limit=1)
    return bool(runs)


@dg.sensor(job=refresh_repository_job, minimum_interval_seconds=300, default_status=dg.DefaultSensorStatus.RUNNING)
def remote_head_moves(context: dg.SensorEvaluationContext, repo_scoping: RepoScopingResource):
    """Compares each repository's remote HEAD with its latest snapshot; a moved head gets one refresh
    run (run_key = repository + new head), never while another run of that repository is queued or
    running (the next tick asks again)."""
    services = repo_scoping.services()
    settings = services.settings
    secrets = tuple(s.get_secret_value() for s in (settings.github_token,) if s)
    known = set(context.instance.get_dynamic_partitions(repositories.name))
    requests, busy, failed = [], [], []
    for repo in catalog.list_repositories(services.engine):
        if repo.name not in known or repo.source_kind == "zip":
            continue
        snapshot = catalog.latest_snapshot(services.engine, repo.id)
        if snapshot is None:
            continue  # never refreshed: the registration sensor asks for its first run
        try:
            head = remote_head(repo.source, timeout=min(60, settings.git_timeout_s), secrets=secrets)
        except GitError as exc:
            context.log.warning(f"{repo.name}: {exc}")
            failed.append(repo.name)
            continue
        if head is None or head == snapshot["commit_sha"]:
            continue
        if run_in_flight(context.instance, repo.name):
            busy.append(repo.name)
            continue
        requests.append(dg.RunRequest(run_key=f"head-{repo.name}-{head}", partition_key=repo.name,
                                      tags={"repo_scoping/trigger": "remote_head_moved"}))
    if not requests:
        return dg.SkipReason(f"no head moved ({len(busy)} busy, {len(failed)} unreachable)")
    return dg.SensorResult(run_requests=requests)
