"""Live progress of a refresh run for the terminal: which asset is running, done, skipped or failed.

`RunProgress.apply` is a Dagster event listener (`instance.add_event_listener(run_id, ...)`): the
in-process run hands it each event as it stores it, so the CLI shows the same records the UI shows.
It keeps one row per step and renders them with rich.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import dagster as dg
from rich.table import Table

STATUS_STYLE = {"queued": "dim", "running": "yellow", "done": "green", "skipped": "cyan", "failed": "bold red"}


@dataclass
class StepRow:
    asset: str
    status: str = "queued"
    started: float | None = None
    elapsed: float | None = None
    rows: object = None
    note: str = ""


@dataclass
class RunProgress:
    """One row per step of a run, updated from its Dagster events."""

    repository: str
    steps: dict[str, StepRow] = field(default_factory=dict)

    def _row(self, step_key: str) -> StepRow:
        return self.steps.setdefault(step_key, StepRow(asset=step_key))

    def apply(self, entry: dg.EventLogEntry) -> None:
        event = entry.dagster_event
        if event is None or not entry.step_key:
            return
        row = self._row(entry.step_key)
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            row.status, row.started = "running", entry.timestamp
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            metadata = event.event_specific_data.materialization.metadata
            skipped = metadata.get("skipped")
            rows = metadata.get("dagster/row_count")
            row.rows = rows.value if rows is not None else row.rows
            if skipped is not None and skipped.value is True:  # the gate's flag (snapshot's "skipped" lists files)
                row.status = "skipped"
                reason = metadata.get("reason")
                row.note = str(reason.value).split(":")[0] if reason is not None else "unchanged"
            elif metadata.get("rerun_because") is not None:  # why the gate let it run
                row.note = str(metadata["rerun_because"].value)
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            if row.status != "skipped":
                row.status = "done"
            row.elapsed = entry.timestamp - row.started if row.started else None
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            row.status = "failed"
            row.elapsed = entry.timestamp - row.started if row.started else None
            error = event.event_specific_data.error
            row.note = (error.message or "failed").strip().splitlines()[-1][:120] if error else "failed"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.steps.values():
            out[row.status] = out.get(row.status, 0) + 1
        return out

    def table(self, now: float | None = None) -> Table:
        now = now or time.time()
        table = Table(title=self.repository, title_justify="left", box=None, pad_edge=False)
        for column, justify in (("asset", "left"), ("status", "left"), ("elapsed", "right"), ("rows", "right"),
                                ("note", "left")):
            table.add_column(column, justify=justify)
        for row in list(self.steps.values()):  # apply() may add a row meanwhile (the run's thread)
            elapsed = row.elapsed if row.elapsed is not None else (now - row.started if row.started else None)
            table.add_row(row.asset, f"[{STATUS_STYLE[row.status]}]{row.status}[/]",
                          "" if elapsed is None else f"{elapsed:.1f}s",
                          "" if row.rows is None else str(row.rows), row.note)
        return table
