"""Validate the expectation suites in Postgres with great-expectations (its SQL datasource).

great-expectations is imported here, lazily, inside `validate`: it takes seconds to import and
prints progress bars, and only the data_quality job needs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import sqlalchemy as sa

from repo_scoping_pipelines.safety.redaction import redact

from ..operations import log as ops_log
from ..storage.tables import SCHEMA
from .suites import Expect, TableSuite, describe

ROWS_NAMED = 20  # failing rows named per expectation in the check metadata
_BULKY = ("text", "index_text", "body", "description")  # columns too long for check metadata


@dataclass
class ExpectationOutcome:
    expectation: str  # GX's expectation type, e.g. expect_column_values_to_be_between
    description: str
    success: bool
    unexpected_count: int
    rows: list[dict] = field(default_factory=list)  # key columns (and the offending values) of failing rows
    error: str = ""  # set when GX could not evaluate the expectation (a query error), not a data problem


@dataclass
class SuiteOutcome:
    suite: TableSuite
    success: bool
    statistics: dict
    expectations: list[ExpectationOutcome]
    row_count: int

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]


def _gx_expectation(gxe, e: Expect, description: str):
    common = {"description": description}
    if e.kind == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=e.column, **common)
    if e.kind == "unique":
        if len(e.columns) == 1:
            return gxe.ExpectColumnValuesToBeUnique(column=e.columns[0], **common)
        return gxe.ExpectCompoundColumnsToBeUnique(column_list=list(e.columns), **common)
    if e.kind == "between":
        return gxe.ExpectColumnValuesToBeBetween(column=e.column, min_value=e.min_value, max_value=e.max_value,
                                                 **common)
    if e.kind == "in_set":
        return gxe.ExpectColumnValuesToBeInSet(column=e.column, value_set=list(e.values), **common)
    if e.kind == "a_at_least_b":
        return gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A=e.columns[0], column_B=e.columns[1],
                                                          or_equal=True, **common)
    if e.kind == "no_rows":
        return gxe.UnexpectedRowsExpectation(unexpected_rows_query=e.sql, **common)
    raise ValueError(f"unknown expectation kind {e.kind!r}")


def _rows(result: dict, keys: list[str]) -> list[dict]:
    """The failing rows GX reports: their key columns, then a few other (not bulky) values, JSON-safe."""
    rows = result.get("unexpected_index_list") or (result.get("details") or {}).get("unexpected_rows") or []
    named = []
    for row in (r for r in rows[:ROWS_NAMED] if isinstance(r, dict)):
        others = [k for k in row if k not in keys and k not in _BULKY][:4]
        named.append({k: _plain(row[k]) for k in [*(k for k in keys if k in row), *others]})
    return named


def _error(info, engine: sa.Engine) -> str:
    """GX's exception_info is flat for an expectation, or keyed by metric when a metric failed."""
    entries = [info] if isinstance(info, dict) and "raised_exception" in info else list((info or {}).values())
    for entry in entries:
        entry = entry if isinstance(entry, dict) else getattr(entry, "to_json_dict", dict)()
        if entry.get("raised_exception"):
            first = str(entry.get("exception_message") or "error").splitlines()[0]
            return redact(first[:300], (engine.url.password or "",))
    return ""


def _plain(value):
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def validate(engine: sa.Engine, suites: list[TableSuite] | tuple[TableSuite, ...]) -> list[SuiteOutcome]:
    """Run each suite over its whole table (every repository) and return what GX found."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage statistics sent from a data job
    import great_expectations as gx
    import great_expectations.expectations as gxe

    url = engine.url.render_as_string(hide_password=False)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    try:
        source = context.data_sources.add_postgres("repo_scoping", connection_string=url)
    except Exception as exc:  # GX wraps driver errors; the URL (with its password) must not leak
        raise RuntimeError(redact(f"great-expectations could not open Postgres: {exc}",
                                  (engine.url.password or "",))) from None
    outcomes = []
    with engine.connect() as conn:
        counts = {s.table.name: conn.execute(sa.select(sa.func.count()).select_from(s.table)).scalar_one()
                  for s in suites}
    for suite in suites:
        asset = source.add_table_asset(suite.table.name, table_name=suite.table.name, schema_name=SCHEMA)
        batch = asset.add_batch_definition_whole_table("whole_table")
        gx_suite = context.suites.add(gx.ExpectationSuite(name=suite.check_name))
        for e in suite.expectations:
            gx_suite.add_expectation(_gx_expectation(gxe, e, e.description or describe(e)))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite.check_name, data=batch, suite=gx_suite))
        result = definition.run(result_format={"result_format": "COMPLETE",
                                               "unexpected_index_column_names": suite.key_columns,
                                               "partial_unexpected_count": ROWS_NAMED})
        expectations = []
        for r in result.results:
            found = r.result or {}
            count = found.get("unexpected_count")
            if count is None:  # UnexpectedRowsExpectation reports the number of rows as observed_value
                count = int(found.get("observed_value") or 0)
            error = _error(r.exception_info, engine)
            expectations.append(ExpectationOutcome(
                expectation=r.expectation_config.type, description=r.expectation_config.description or "",
                success=bool(r.success), unexpected_count=int(count),
                rows=[] if r.success else _rows(found, suite.key_columns), error=error))
        outcomes.append(SuiteOutcome(suite=suite, success=bool(result.success), statistics=dict(result.statistics),
                                     expectations=expectations, row_count=counts[suite.table.name]))
        ops_log.event("quality.suite", suite=suite.check_name, success=bool(result.success),
                      failed=len([e for e in expectations if not e.success]))
    return outcomes
