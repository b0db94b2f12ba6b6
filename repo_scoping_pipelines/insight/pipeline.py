"""The insight stage's storage work: hotspots (revisions x cyclomatic complexity per window) and
change coupling, computed with pandas from the stored history and the head's files.

Windows end at the newest stored commit (not the wall clock), so the figures are a function of the
history alone and a rerun writes the same rows.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from ..collectors import languages
from ..metrics.ownership import current_paths
from ..storage import insight as store
from . import coupling as coupling_mod
from . import hotspots as hotspots_mod
from . import knowledge as knowledge_mod
from .complexity import file_complexity


@dataclass
class InsightResult:
    commits: int = 0
    files_measured: int = 0
    hotspots: dict[str, int] = field(default_factory=dict)  # window -> rows
    pairs: int = 0
    coupling_stats: dict[str, int] = field(default_factory=dict)
    top_hotspots: list[tuple] = field(default_factory=list)
    top_pairs: list[tuple] = field(default_factory=list)
    seconds: float = 0.0


def read_blobs(checkout: Path, head: str, paths: list[str]) -> dict[str, bytes]:
    """The content of `paths` at `head`, through one `git cat-file --batch` process."""
    if not paths:
        return {}
    request = "".join(f"{head}:{p}\n" for p in paths).encode("utf-8", errors="surrogateescape")
    out = subprocess.run(["git", "cat-file", "--batch"], cwd=checkout, input=request, capture_output=True,
                         check=True).stdout
    blobs, pos = {}, 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) != 3 or header[1] != b"blob":  # "missing" or not a file
            continue
        size = int(header[2])
        blobs[path] = out[pos:pos + size]
        pos += size + 1
    return blobs


def _complexity(checkout: Path, head: str, paths: set[str]) -> pd.Series:
    parsable = sorted(p for p in paths if languages.grammar_for(p, languages.language_of(p)))
    values = {}
    for path, source in read_blobs(checkout, head, parsable).items():
        measured = file_complexity(path, source)
        if measured is not None:
            values[path] = measured.complexity
    return pd.Series(values, dtype="float64")


def compute_insight(engine: Engine, repository_id: int, checkout: Path, head: str, *,
                    min_revs: float, min_shared_revs: int, min_degree: float, max_changeset: int) -> InsightResult:
    started = time.perf_counter()
    result = InsightResult()
    rows = store.history_changes(engine, repository_id)
    frame = pd.DataFrame(rows, columns=["sha", "path", "old_path", "authored_at"])
    head_paths = current_paths(checkout, head)
    hotspot_rows: list[dict] = []
    coupling_rows: list[dict] = []
    if not frame.empty:
        order = frame["sha"].drop_duplicates().reset_index(drop=True)
        frame["seq"] = frame["sha"].map(pd.Series(order.index, index=order.values))
        frame["authored_at"] = pd.to_datetime(frame["authored_at"], utc=True)
        changes = hotspots_mod.resolve_renames(frame)
        result.commits = int(order.size)
        complexity = _complexity(checkout, head, head_paths & set(changes["head_path"]))
        result.files_measured = int(complexity.size)
        end = changes["authored_at"].max().to_pydatetime()
        for window, days in hotspots_mod.WINDOWS.items():
            ranked = hotspots_mod.hotspots(changes[changes["head_path"].isin(head_paths)], complexity,
                                           end=end, days=days)
            result.hotspots[window] = len(ranked)
            for r in ranked.to_dict("records"):
                previous = r["previous_revisions"]
                hotspot_rows.append({"window": window, "path": r["path"], "revisions": int(r["revisions"]),
                                     "complexity": int(r["complexity"]), "score": int(r["score"]),
                                     "rank": int(r["rank"]), "window_end": end,
                                     "previous_revisions": None if pd.isna(previous) else int(previous),
                                     "trend": r["trend"]})
            if window == "90d":
                result.top_hotspots = [(r["path"], int(r["revisions"]), int(r["complexity"]), int(r["score"]))
                                       for r in ranked.head(10).to_dict("records")]
        pairs, result.coupling_stats = coupling_mod.coupling(
            changes[["sha", "head_path"]], head_paths, min_revs=min_revs, min_shared_revs=min_shared_revs,
            min_coupling=min_degree, max_changeset_size=max_changeset)
        coupling_rows = [{"path_a": r["path_a"], "path_b": r["path_b"], "shared_revisions": int(r["shared_revisions"]),
                          "revisions_a": int(r["revisions_a"]), "revisions_b": int(r["revisions_b"]),
                          "degree": round(float(r["degree"]), 6)} for r in pairs.to_dict("records")]
        result.pairs = len(coupling_rows)
        result.top_pairs = [(r["path_a"], r["path_b"], r["shared_revisions"], r["degree"]) for r in coupling_rows[:10]]
    store.replace_insight(engine, repository_id, hotspot_rows, coupling_rows)
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class KnowledgeResult:
    files_blamed: int = 0
    files_kept: int = 0
    files_removed: int = 0
    blame_failed: list[str] = field(default_factory=list)
    authors_without_email: int = 0
    active_authors: int = 0
    repository: dict = field(default_factory=dict)  # the "" row: lines, bus_factor, islands, ...
    top_islands: list[tuple] = field(default_factory=list)
    seconds: float = 0.0


def compute_knowledge(engine: Engine, repository_id: int, checkout: Path, head: str, inventory: dict[str, dict], *,
                      active_days: int, island_share: float, workers: int,
                      as_of: datetime | None = None) -> KnowledgeResult:
    """Blame the text files whose content changed since the last run (git blame at the head), then
    recompute knowledge per file and folder and per person from every stored line authorship."""
    started = time.perf_counter()
    result = KnowledgeResult()
    as_of = as_of or datetime.now(UTC)
    wanted = {p: r["content_hash"] for p, r in inventory.items() if not r.get("is_binary") and not r.get("skip_reason")}
    stored = store.blamed_hashes(engine, repository_id)
    removed = [p for p in stored if p not in wanted]
    todo = sorted(p for p, h in wanted.items() if stored.get(p) != h)
    rows: list[dict] = []
    for path, blame in knowledge_mod.blame_many(checkout, head, todo, workers):
        if blame is None:
            result.blame_failed.append(path)
            continue
        for _, author, name, lines, at in knowledge_mod.owner_rows(path, blame):
            rows.append({"path": path, "author": author, "author_name": name, "lines": lines,
                         "last_authored_at": at, "content_hash": wanted[path]})
    store.replace_line_authors(engine, repository_id, removed, rows)
    result.files_blamed, result.files_removed = len(todo) - len(result.blame_failed), len(removed)
    result.files_kept = len(wanted) - len(todo)

    owners = pd.DataFrame(store.line_author_rows(engine, repository_id),
                          columns=["path", "author", "author_name", "lines"])
    result.authors_without_email = int(owners["author"].str.startswith("name:").sum()) if not owners.empty else 0
    active = {knowledge_mod.identity(email, name)
              for email, name in store.active_authors(engine, repository_id, as_of - timedelta(days=active_days))}
    result.active_authors = len(active)
    paths, people = knowledge_mod.knowledge(owners, active, island_share=island_share)
    path_rows = [{"path": r["path"], "kind": r["kind"], "files": int(r["files"]), "lines": int(r["lines"]),
                  "active_lines": int(r["active_lines"]), "active_share": round(float(r["active_share"]), 6),
                  "bus_factor": int(r["bus_factor"]), "islands": int(r["islands"]),
                  "island_lines": int(r["island_lines"]), "top_author": r["top_author"],
                  "top_author_name": r["top_author_name"], "top_share": round(float(r["top_share"]), 6),
                  "is_island": bool(r["is_island"])} for r in paths.to_dict("records")]
    people_rows = [{"author": r["author"], "author_name": r["author_name"], "active": bool(r["active"]),
                    "lines": int(r["lines"]), "files": int(r["files"]), "orphaned_files": int(r["orphaned_files"]),
                    "orphaned_lines": int(r["orphaned_lines"])} for r in people.to_dict("records")]
    store.replace_knowledge(engine, repository_id, path_rows, people_rows)
    result.repository = next((r for r in path_rows if r["path"] == ""), {})
    islands = sorted((r for r in path_rows if r["is_island"]), key=lambda r: (-r["lines"], r["path"]))
    result.top_islands = [(r["path"], r["top_author_name"], r["lines"], round(r["top_share"], 3)) for r in islands[:10]]
    result.seconds = time.perf_counter() - started
    return result
