"""Knowledge risk from line authorship at the head: who wrote the lines that are there now.

Line authorship is git blame at the head (`git blame --incremental HEAD -- PATH`, .mailmap applied
by git): each line of each text file at the head belongs to the author of the commit that last
wrote it. `--incremental` prints one record per blamed range and each commit's header once, about a
tenth of `--line-porcelain`'s output; files run on parallel git processes, and the pipeline blames
only files whose blob changed since the last run (the blame of an unchanged file cannot change: no
new commit touched it).

Definitions (all weighted by lines):
- active author: someone with a non-merge commit on the default branch within the active window
  (REPO_SCOPING_INSIGHT_ACTIVE_DAYS, default 180 days) before the time of the analysis.
- active share of a file or folder: lines whose author is active ÷ all lines.
- knowledge island: a file in which one active author holds ≥ 95% of the lines
  (REPO_SCOPING_INSIGHT_ISLAND_SHARE); a folder reports its islands and the share of its lines in them.
- bus factor of a file, folder or the repository (path ""): how many active authors must leave before
  at least half of the lines have no active author. Lines of inactive authors count as already
  orphaned; authors leave greedily, the one holding most lines first (optimal here: each line has
  exactly one author). 0 when half the lines already have no active author.
- what leaving would orphan, per person: the lines they hold (they lose their active author) and the
  files in which they are the only active author (nobody active knows any line there afterwards).
Authors without an e-mail are told apart by name (`name:NAME`) and counted.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from ..collectors.git import SAFE_GIT_OPTIONS, git_env
from ..metrics.history import decode

ISLAND_SHARE = 0.95


def identity(email: str, name: str) -> str:
    """The key people are counted by: the (.mailmap-resolved) e-mail, or the name when there is none."""
    return email if email else f"name:{name}"


def parse_blame(data: bytes) -> dict[str, list]:
    """Per author of `git blame --incremental` output: [name, lines, latest author time (epoch)]."""
    commits: dict[bytes, list] = {}  # sha -> [name, mail, time]
    lines: dict[bytes, int] = {}
    sha = None
    for raw in data.split(b"\n"):
        if not raw:
            continue
        head, _, rest = raw.partition(b" ")
        if len(head) == 40 and rest[:1].isdigit():
            parts = rest.split(b" ")
            sha = head
            lines[sha] = lines.get(sha, 0) + int(parts[2])
            commits.setdefault(sha, ["", "", 0])
        elif sha is not None:
            if head == b"author":
                commits[sha][0] = decode(rest)
            elif head == b"author-mail":
                commits[sha][1] = decode(rest).strip("<>")
            elif head == b"author-time":
                commits[sha][2] = int(rest or b"0")
    out: dict[str, list] = {}
    for sha, count in lines.items():
        name, mail, at = commits[sha]
        key = identity(mail, name)
        entry = out.get(key)
        if entry is None:
            out[key] = [name, count, at]
        else:
            entry[1] += count
            if at > entry[2]:
                entry[0], entry[2] = name, at
    return out


def blame_file(checkout: Path, head: str, path: str, timeout: float = 600) -> dict[str, list] | None:
    """Blame one file at `head`; None when git cannot (the caller counts it)."""
    cmd = ["git", *SAFE_GIT_OPTIONS, "blame", "--incremental", head, "--", path]
    try:
        proc = subprocess.run(cmd, cwd=checkout, env=git_env(), capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        return None
    return parse_blame(proc.stdout)


def blame_many(checkout: Path, head: str, paths: Iterable[str], workers: int) -> Iterator[tuple[str, dict | None]]:
    """(path, blame) for each path, `workers` git processes at a time (git does the work; threads wait)."""
    paths = list(paths)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="blame") as pool:
        yield from zip(paths, pool.map(lambda p: blame_file(checkout, head, p), paths), strict=True)


def owner_rows(path: str, blame: dict[str, list]) -> list[tuple]:
    """(path, author_key, author_name, lines, last_authored_at) rows of one blamed file."""
    return [(path, key, name, lines, datetime.fromtimestamp(at, UTC)) for key, (name, lines, at) in blame.items()]


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return [""] + ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def knowledge(owners: pd.DataFrame, active: set[str], *, island_share: float = ISLAND_SHARE
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per file and folder knowledge rows, and per person what leaving would orphan.

    owners: one row per (path, author) with columns path, author, author_name, lines.
    Returns (paths, people): paths has path, kind (file|folder), files, lines, active_lines,
    active_share, bus_factor, islands, island_lines, top_author, top_author_name, top_lines, top_share,
    is_island; people has author, author_name, active, lines, files, orphaned_files, orphaned_lines.
    """
    cols = ["path", "kind", "files", "lines", "active_lines", "active_share", "bus_factor", "islands", "island_lines",
            "top_author", "top_author_name", "top_lines", "top_share", "is_island"]
    if owners.empty:
        return pd.DataFrame(columns=cols), pd.DataFrame(columns=["author", "author_name", "active", "lines", "files",
                                                                 "orphaned_files", "orphaned_lines"])
    o = owners[owners["lines"] > 0].copy()
    o["active"] = o["author"].isin(active)
    o["active_lines"] = np.where(o["active"], o["lines"], 0)

    # Files: totals, the top author, islands.
    per_file = o.groupby("path", sort=False).agg(lines=("lines", "sum"), active_lines=("active_lines", "sum"))
    top = o.sort_values(["path", "lines", "author"], ascending=[True, False, True]).drop_duplicates("path")
    top = top.set_index("path")
    per_file["top_author"] = top["author"]
    per_file["top_author_name"] = top["author_name"]
    per_file["top_lines"] = top["lines"]
    per_file["top_active"] = top["active"]
    per_file["top_share"] = per_file["top_lines"] / per_file["lines"]
    per_file["is_island"] = per_file["top_active"] & (per_file["top_share"] >= island_share)

    # Every file belongs to itself and to each folder above it ("" = the repository).
    paths = per_file.index.to_list()
    groups = pd.DataFrame({"path": paths, "group": [[p, *_ancestors(p)] for p in paths]}).explode("group")
    groups["kind"] = np.where(groups["group"] == groups["path"], "file", "folder")
    member = groups.merge(o[["path", "author", "author_name", "lines", "active"]], on="path")

    held = member.groupby(["group", "author"], sort=False).agg(
        lines=("lines", "sum"), active=("active", "first"), author_name=("author_name", "first")).reset_index()
    totals = held.groupby("group").agg(lines=("lines", "sum"))
    orphaned = held[~held["active"]].groupby("group")["lines"].sum()
    totals["orphaned"] = orphaned.reindex(totals.index, fill_value=0)
    # Greedy bus factor: active authors leave by lines held, most first, until half the lines are orphaned.
    act = held[held["active"]].sort_values(["group", "lines", "author"], ascending=[True, False, True]).copy()
    act["left"] = act.groupby("group").cumcount() + 1
    act["orphaned_after"] = act.groupby("group")["lines"].cumsum() + act["group"].map(totals["orphaned"])
    act["half"] = act["group"].map(totals["lines"]) / 2.0
    reached = act[act["orphaned_after"] >= act["half"]].groupby("group")["left"].min()
    totals["bus_factor"] = reached.reindex(totals.index)
    totals.loc[totals["orphaned"] >= totals["lines"] / 2.0, "bus_factor"] = 0
    totals["bus_factor"] = totals["bus_factor"].fillna(0).astype(int)

    file_rows = per_file.reset_index()
    fg = groups.merge(file_rows[["path", "lines", "active_lines", "is_island"]], on="path")
    fg["island_lines"] = np.where(fg["is_island"], fg["lines"], 0)
    agg = fg.groupby("group").agg(kind=("kind", "first"), files=("path", "nunique"), active_lines=("active_lines", "sum"),
                                  islands=("is_island", "sum"), island_lines=("island_lines", "sum"))
    out = totals.join(agg)
    out.loc[out["kind"] == "file", "kind"] = "file"
    # A folder's top author: the one holding most of its lines.
    top_g = held.sort_values(["group", "lines", "author"], ascending=[True, False, True]).drop_duplicates("group")
    top_g = top_g.set_index("group")
    out["top_author"] = top_g["author"]
    out["top_author_name"] = top_g["author_name"]
    out["top_lines"] = top_g["lines"]
    out["top_share"] = out["top_lines"] / out["lines"]
    out["is_island"] = False
    island_files = per_file.index[per_file["is_island"]]
    out.loc[out.index.isin(island_files) & (out["kind"] == "file"), "is_island"] = True
    out["active_share"] = out["active_lines"] / out["lines"]
    out = out.reset_index().rename(columns={"group": "path"})
    out = out[cols].sort_values(["kind", "path"]).reset_index(drop=True)

    # People: lines held and files in which they are the only active author.
    sole = o[o["active"]].groupby("path")["author"].agg(["nunique", "first"])
    sole = sole[sole["nunique"] == 1]
    sole_lines = per_file.loc[sole.index, "lines"]
    orphan = pd.DataFrame({"author": sole["first"], "lines": sole_lines}).groupby("author").agg(
        orphaned_files=("lines", "size"), orphaned_lines=("lines", "sum"))
    people = o.groupby("author").agg(author_name=("author_name", "first"), active=("active", "first"),
                                     lines=("lines", "sum"), files=("path", "nunique"))
    people = people.join(orphan).fillna({"orphaned_files": 0, "orphaned_lines": 0})
    people[["orphaned_files", "orphaned_lines"]] = people[["orphaned_files", "orphaned_lines"]].astype(int)
    people = people.reset_index().sort_values(["lines", "author"], ascending=[False, True]).reset_index(drop=True)
    return out, people


def sole_files(owners: pd.DataFrame, active: set[str], person: str) -> list[str]:
    """Files in which `person` is the only active author (what their leaving would orphan)."""
    o = owners[(owners["lines"] > 0) & owners["author"].isin(active)]
    counts = o.groupby("path")["author"].agg(["nunique", "first"])
    return sorted(counts.index[(counts["nunique"] == 1) & (counts["first"] == person)])
