"""Expectation suites per stored table, as plain data: what the rows of each stage must satisfy.

Each suite belongs to the asset whose materialization writes the table, and becomes one asset
check of that asset (named `<table>_expectations`). `pipeline.validate` turns an `Expect` into the
great-expectations expectation of the same meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from ..storage import tables as t


@dataclass(frozen=True)
class Expect:
    """One expectation. kind: not_null | unique | between | in_set | a_at_least_b | no_rows."""

    kind: str
    column: str | None = None
    columns: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    values: tuple[str, ...] = ()
    sql: str = ""  # no_rows: a query over {batch} (and other tables, schema-qualified) that must return nothing
    description: str = ""


@dataclass(frozen=True)
class TableSuite:
    asset: str
    table: sa.Table
    expectations: tuple[Expect, ...]
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def check_name(self) -> str:
        return f"{self.table.name}_expectations"

    @property
    def key_columns(self) -> list[str]:
        """The columns that name a failing row in the check's metadata (the primary key)."""
        return [c.name for c in self.table.primary_key.columns]

    @property
    def description(self) -> str:
        return f"great-expectations suite over {t.SCHEMA}.{self.table.name}: " + "; ".join(
            e.description or describe(e) for e in self.expectations)


def describe(e: Expect) -> str:
    if e.kind == "between":
        bounds = [f">= {e.min_value:g}" if e.min_value is not None else "",
                  f"<= {e.max_value:g}" if e.max_value is not None else ""]
        return f"{e.column} " + " and ".join(b for b in bounds if b)
    if e.kind == "in_set":
        return f"{e.column} in {{{', '.join(e.values)}}}"
    if e.kind == "a_at_least_b":
        return f"{e.columns[0]} >= {e.columns[1]}"
    if e.kind == "unique":
        return f"({', '.join(e.columns)}) unique"
    return f"{e.column} {e.kind.replace('_', ' ')}"


def _q(table: sa.Table) -> str:
    return f"{t.SCHEMA}.{table.name}"


def _repository_resolves(table: sa.Table) -> Expect:
    # No alias on {batch}: GX substitutes it with an aliased subquery of its own.
    return Expect("no_rows", sql=f"SELECT * FROM {{batch}} WHERE repository_id NOT IN (SELECT id FROM {_q(t.repositories)})",
                  description="repository_id resolves to a repository")


def _snapshot_resolves(table: sa.Table) -> Expect:
    return Expect("no_rows", sql=f"SELECT * FROM {{batch}} WHERE (repository_id, snapshot_id) NOT IN "
                                 f"(SELECT repository_id, id FROM {_q(t.snapshots)})",
                  description="snapshot_id resolves to a snapshot of the same repository")


SUITES: tuple[TableSuite, ...] = (
    TableSuite("repository_snapshot", t.files, (
        Expect("not_null", "content_hash"),
        Expect("between", "size_bytes", min_value=0),
        Expect("between", "lines", min_value=0),
        _snapshot_resolves(t.files),
    )),
    TableSuite("content_chunks", t.content_chunks, (
        Expect("not_null", "chunk_id"),
        Expect("unique", columns=("chunk_id",)),
        Expect("between", "start_line", min_value=1),
        Expect("a_at_least_b", columns=("end_line", "start_line"), description="spans valid: end_line >= start_line"),
        Expect("in_set", "source", values=("file", "pull_request", "issue")),
        _repository_resolves(t.content_chunks),
    )),
    TableSuite("observed_facts", t.facts, (
        Expect("not_null", "fact_id"),
        Expect("unique", columns=("fact_id",)),
        Expect("between", "confidence", min_value=0, max_value=1),
        Expect("between", "line", min_value=0),
        Expect("no_rows", sql="SELECT * FROM {batch} WHERE btrim(kind) = '' OR btrim(subject) = ''",
               description="kind and subject not empty"),
        _snapshot_resolves(t.facts),
    )),
    TableSuite("dependency_graph", t.graph_edges, (
        Expect("between", "count", min_value=1),
        Expect("between", "line", min_value=0),
        Expect("in_set", "kind", values=("internal", "external", "stdlib")),
        Expect("no_rows", sql=f"SELECT * FROM {{batch}} WHERE (repository_id, source) NOT IN (SELECT repository_id, "
                              f"node_id FROM {_q(t.graph_nodes)}) OR (repository_id, target) NOT IN "
                              f"(SELECT repository_id, node_id FROM {_q(t.graph_nodes)})",
               description="both ends of every edge are nodes of the graph"),
    )),
    TableSuite("commit_history", t.history_commits, (
        Expect("not_null", "author_email"),
        Expect("between", "lines_added", min_value=0),
        Expect("between", "lines_deleted", min_value=0),
        Expect("between", "files_changed", min_value=0),
        _repository_resolves(t.history_commits),
    )),
    TableSuite("author_metrics_window", t.author_window, (
        Expect("in_set", "window", values=("7d", "30d", "90d", "all")),
        Expect("between", "commits", min_value=0),
        Expect("between", "active_days", min_value=0),
        Expect("a_at_least_b", columns=("commits", "active_days"),
               description="an author is active on at most as many days as they committed"),
    )),
    TableSuite("file_ownership", t.file_owners, (
        Expect("between", "lines", min_value=0),
        Expect("between", "weighted_lines", min_value=0),
        Expect("between", "commits", min_value=0),
    )),
    TableSuite("ability_candidates", t.ability_candidates, (
        Expect("not_null", "candidate_id"),
        Expect("unique", columns=("candidate_id",)),
        Expect("between", "confidence", min_value=0, max_value=1),
        Expect("in_set", "status", values=("pending", "approved", "rejected")),
        Expect("in_set", "source", values=("rules", "llm")),
        _repository_resolves(t.ability_candidates),
    )),
    TableSuite("pull_requests", t.pull_requests, (
        Expect("between", "number", min_value=1),
        Expect("not_null", "updated_at"),
    )),
    TableSuite("tracker_issues", t.tracker_issues, (
        Expect("between", "issue_id", min_value=1),
        Expect("not_null", "updated_on"),
    )),
)
