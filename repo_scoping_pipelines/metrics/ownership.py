"""file_ownership's work: each current path's authors by changed lines (following renames), with a
recency-weighted variant, and the main owner of a file or a folder."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from ..collectors.git import run_git
from ..storage import metrics as store
from .history import decode


@dataclass
class OwnershipResult:
    paths: int  # current paths with at least one change in the history
    rows: int
    skipped: bool = False  # same head, same day, same half-life: the stored rows stand
    top: list[tuple[str, int]] = field(default_factory=list)  # (author, lines) over the repository
    seconds: float = 0.0


def current_paths(checkout: Path, head: str) -> set[str]:
    out = run_git(["ls-tree", "-r", "-z", "--name-only", "--full-tree", head], cwd=checkout)
    return {decode(p.encode("utf-8", errors="surrogateescape")) for p in out.split("\0") if p}


def compute_ownership(engine: Engine, repository_id: int, checkout: Path, head: str, *,
                      half_life_days: float = 180.0, as_of: datetime | None = None,
                      force: bool = False) -> OwnershipResult:
    """Replace the per-(path, author) rows: changed lines, recency-weighted lines and commits.

    Lines changed under an older name count for the path the file has now (renames followed from
    the newest commit back). Only paths of the head's tree get rows.
    """
    started = time.perf_counter()
    as_of = as_of or datetime.now(UTC)
    state = store.get_history_state(engine, repository_id) or {}
    # Recency weights move with the day, so the rows are recomputed at most daily without new commits.
    key = f"{state.get('head_sha')}|{state.get('mailmap_blob')}|{head}|{as_of.date()}|{half_life_days}"
    if not force and state.get("ownership_key") == key:
        stored = store.owner_summary(engine, repository_id)
        return OwnershipResult(paths=stored["paths"], rows=stored["rows"], skipped=True,
                               seconds=time.perf_counter() - started)
    paths = current_paths(checkout, head)
    alias: dict[str, str] = {}
    acc: dict[tuple[str, str], list] = {}
    for path, old, added, deleted, _binary, email, name, at in store.ownership_inputs(engine, repository_id):
        target = alias.get(path, path)
        if old is not None and old != path:
            alias.setdefault(old, target)
        if target not in paths:
            continue
        age_days = max((as_of - at).total_seconds() / 86400.0, 0.0)
        weight = 0.5 ** (age_days / half_life_days)
        entry = acc.get((target, email))
        lines = added + deleted
        if entry is None:  # newest commit first: its name and date are the latest
            acc[(target, email)] = [name, lines, lines * weight, 1, at]
        else:
            entry[1] += lines
            entry[2] += lines * weight
            entry[3] += 1
    rows = ((p, email, v[0], v[1], round(v[2], 4), v[3], v[4]) for (p, email), v in acc.items())
    written = store.replace_file_owners(engine, repository_id, rows)
    totals: dict[str, int] = {}
    for (_p, email), v in acc.items():
        totals[email] = totals.get(email, 0) + v[1]
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    if state:
        store.set_derived_key(engine, repository_id, "ownership_key", key)
    return OwnershipResult(paths=len({p for p, _ in acc}), rows=written, top=top,
                           seconds=time.perf_counter() - started)


def ownership(engine: Engine, repository_id: int, path: str, *, weighting: str = "lines") -> dict | None:
    """Authors' shares of a file or of everything under a folder; None when nothing is known there."""
    authors, files, is_folder = store.owners_under(engine, repository_id, path)
    if not authors:
        return None
    key = "weighted_lines" if weighting == "recency" else "lines"
    total = sum(float(a[key]) for a in authors)
    commits = sum(int(a["commits"]) for a in authors)
    out = []
    for a in authors:
        # Binary files change no lines: shares fall back to commits there.
        share = float(a[key]) / total if total > 0 else int(a["commits"]) / commits
        out.append({"author_email": a["author_email"], "author_name": a["author_name"], "lines": int(a["lines"]),
                    "weighted_lines": round(float(a["weighted_lines"]), 2), "commits": int(a["commits"]),
                    "share": round(share, 4),
                    "last_changed_at": a["last_changed_at"].isoformat() if a["last_changed_at"] else None})
    out.sort(key=lambda a: (-a["share"], -a["commits"], a["author_email"]))
    return {"path": path.strip("/"), "kind": "folder" if is_folder else "file", "files": files,
            "weighting": weighting, "owner": out[0], "authors": out}
