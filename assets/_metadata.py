"""Materialization metadata shown in the Dagster UI: previews built from one pandas frame.

Each preview is both a markdown table (`preview`, readable in any Dagster version) and a Dagster
table value with a column schema derived from the frame's dtypes (`preview_table`: sortable in the
UI, typed for a client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    import pandas as pd

_DAGSTER_TYPES = {"b": "bool", "i": "int", "u": "int", "f": "float", "M": "datetime"}


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")[:80]


def markdown_table(headers: list[str], rows: list[tuple] | list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def column_schema(frame: pd.DataFrame) -> dg.TableSchema:
    """Dagster column types from pandas dtypes (object columns are text)."""
    return dg.TableSchema(columns=[dg.TableColumn(str(name), _DAGSTER_TYPES.get(dtype.kind, "string"))
                                   for name, dtype in frame.dtypes.items()])


def preview(headers: list[str], rows: list[tuple] | list[list]) -> dict[str, dg.MetadataValue]:
    """`preview` (markdown) and `preview_table` (typed table) metadata of the rows (callers keep them few)."""
    import pandas as pd  # here, not at import: a refresh that skips every preview never loads pandas

    rows = list(rows)
    frame = pd.DataFrame(rows, columns=headers).convert_dtypes(convert_string=False)
    records = [dg.TableRecord({str(k): (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
                               for k, v in row.items()}) for row in frame.to_dict("records")]
    return {"preview": dg.MetadataValue.md(markdown_table(headers, rows)),
            "preview_table": dg.MetadataValue.table(records=records, schema=column_schema(frame))}
