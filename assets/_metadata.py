"""Small helpers for materialization metadata shown in the Dagster UI."""

from __future__ import annotations


def markdown_table(headers: list[str], rows: list[tuple] | list[list]) -> str:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")[:80]

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
