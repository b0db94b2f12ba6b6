"""Hotspots: files that change often and are complex (pandas over the stored history).

- revisions of a path over a window: non-merge commits of the default branch (what commit_history
  stores) that touched it, authored in (start, end]; changes made under an older name count for
  the name the file has at the head (renames followed, see `resolve_renames`).
- complexity: cyclomatic complexity of the file at the head, summed over its functions
  (insight/complexity.py); files without a grammar have none and are not ranked.
- score = revisions * complexity; ranked by score (then revisions, then path).
- trend: the same window just before (for 90d: the 90 days before the last 90) — `rising` when the
  current window has more revisions, `falling` when fewer, `steady` when equal; none for `all`.
  The complexity of both windows is the head's (the trend is one of change frequency).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

WINDOWS: dict[str, int | None] = {"30d": 30, "90d": 90, "365d": 365, "all": None}


def number_commits(files: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """`files` (newest commit first) with `seq` added: 0 for the newest commit, growing into the past
    (what resolve_renames reads); and the number of commits."""
    order = files["sha"].drop_duplicates().reset_index(drop=True)
    return files.assign(seq=files["sha"].map(pd.Series(order.index, index=order.values))), int(order.size)


def resolve_renames(files: pd.DataFrame) -> pd.DataFrame:
    """Map each change to the path the file has at the head.

    files: sha, path, old_path (set on a rename), seq (0 = newest commit, growing into the past).
    A rename old -> new at seq r sends the changes of `old` older than r (seq > r) to wherever `new`
    ends up; changes to a path re-created after the rename keep their own path. Renames are few, so
    the chain is walked once over them (newest first); the changes themselves are mapped in one merge.
    """
    out = files.copy()
    renames = out.loc[out["old_path"].notna() & (out["old_path"] != out["path"]), ["seq", "path", "old_path"]]
    renames = renames.sort_values("seq", kind="stable")
    final: dict[str, tuple[str, int]] = {}  # old -> (target at the head, seq of the rename)
    for seq, new, old in renames.itertuples(index=False):
        target = final.get(new)
        target_path = target[0] if target is not None and target[1] < seq else new
        final.setdefault(old, (target_path, seq))
    if not final:
        out["head_path"] = out["path"]
        return out
    alias = pd.DataFrame([(old, t, s) for old, (t, s) in final.items()], columns=["path", "target", "rename_seq"])
    out = out.merge(alias, on="path", how="left")
    moved = out["target"].notna() & (out["seq"] > out["rename_seq"])
    out["head_path"] = np.where(moved, out["target"], out["path"])
    # A rename commit itself counts for the new name (its `path` already is the new name).
    return out.drop(columns=["target", "rename_seq"])


def revisions(changes: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.Series:
    """Distinct commits per head path authored in (start, end]."""
    c = changes
    if start is not None:
        c = c[c["authored_at"] > start]
    if end is not None:
        c = c[c["authored_at"] <= end]
    return c.groupby("head_path")["sha"].nunique()


def hotspots(changes: pd.DataFrame, complexity: pd.Series, *, end: datetime, days: int | None,
             start: datetime | None = None) -> pd.DataFrame:
    """Ranked hotspots of one window ending at `end` (`days` None = all time; `start` overrides).

    changes: head_path, sha, authored_at (one row per commit and file); complexity: per head path.
    Columns: path, revisions, complexity, score, rank, previous_revisions, trend.
    """
    if start is None and days is not None:
        start = end - timedelta(days=days)
    current = revisions(changes, start, end)
    frame = pd.DataFrame({"revisions": current})
    frame = frame.join(complexity.rename("complexity"), how="inner")
    frame = frame[frame["complexity"].notna() & (frame["revisions"] > 0)]
    if start is not None:
        span = end - start
        previous = revisions(changes, start - span, start)
        frame["previous_revisions"] = previous.reindex(frame.index).fillna(0).astype(int)
        frame["trend"] = np.select([frame["revisions"] > frame["previous_revisions"],
                                    frame["revisions"] < frame["previous_revisions"]],
                                   ["rising", "falling"], "steady")
    else:
        frame["previous_revisions"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
        frame["trend"] = None
    frame["complexity"] = frame["complexity"].astype(int)
    frame["revisions"] = frame["revisions"].astype(int)
    frame["score"] = frame["revisions"] * frame["complexity"]
    frame = frame.rename_axis("path").reset_index()
    frame = frame.sort_values(["score", "revisions", "path"], ascending=[False, False, True]).reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame[["path", "revisions", "complexity", "score", "rank", "previous_revisions", "trend"]]
