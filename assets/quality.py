"""Data-quality checks: the great-expectations suites of every stage, as asset checks.

They run in the `data_quality` job (not in the refresh): the `data_quality_after_changes` sensor
launches it when a checked asset was materialized. One step validates every selected suite, so GX
is imported and its context built once per run.
"""

import dagster as dg

from repo_scoping_pipelines.quality.suites import SUITES, TableSuite
from repo_scoping_pipelines.resources import RepoScopingResource


def _spec(suite: TableSuite) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(suite.check_name, asset=suite.asset, description=suite.description,
                             blocking=False)


def _result(outcome) -> dg.AssetCheckResult:
    failed = outcome.failed
    summary = [{"expectation": e.expectation, "description": e.description, "success": e.success,
                "unexpected_count": e.unexpected_count} for e in outcome.expectations]
    named = [{"description": e.description, "rows": e.rows} for e in failed if e.rows]
    return dg.AssetCheckResult(
        asset_key=outcome.suite.asset, check_name=outcome.suite.check_name, passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("all expectations met" if not failed else
                     "; ".join(f"{e.description}: " + (f"not evaluated ({e.error})" if e.error else
                                                         f"{e.unexpected_count} row(s)") for e in failed)),
        metadata={"table": f"repo_scoping.{outcome.suite.table.name}", "rows": outcome.row_count,
                  "gx_statistics": dg.MetadataValue.json(outcome.statistics),
                  "gx_expectations": dg.MetadataValue.json(summary),
                  "failing_rows": dg.MetadataValue.json(named)})


@dg.multi_asset_check(specs=[_spec(s) for s in SUITES], can_subset=True, name="great_expectations_suites",
                      description="great-expectations suites over the stored tables, validated in Postgres.")
def great_expectations_suites(context: dg.AssetCheckExecutionContext, repo_scoping: RepoScopingResource):
    from repo_scoping_pipelines.quality.pipeline import validate

    selected = {key.name for key in context.selected_asset_check_keys}
    suites = [s for s in SUITES if s.check_name in selected]
    services = repo_scoping.services()
    for outcome in validate(services.engine, suites):
        if not outcome.success:
            context.log.warning(f"{outcome.suite.check_name}: " + "; ".join(
                f"{e.description} ({e.unexpected_count})" for e in outcome.failed))
        yield _result(outcome)
