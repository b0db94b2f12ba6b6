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
from ..metrics.ownership import head_blobs
from ..storage import insight as store
from . import coupling as coupling_mod
from . import hotspots as hotspots_mod
from . import knowledge as knowledge_mod
from .complexity import file_complexity


@dataclass
class InsightResult:
    commits: int = 0
    files_measured: int = 0
    complexity_reused: int = 0  # measured by the facts stage on the same blob
    complexity_parsed: int = 0
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


def _complexity(engine: Engine, repository_id: int, checkout: Path, head: str, paths: set[str],
                blobs: dict[str, str], result: InsightResult) -> pd.Series:
    """Per file: the complexity the facts stage measured when it parsed this very blob, else parsed now."""
    from ..facts.extract import EXTRACTOR_VERSION
    from ..storage import facts as fact_store

    stored = fact_store.stored_complexities(engine, repository_id, EXTRACTOR_VERSION)
    values = {p: stored[p][1] for p in paths if p in stored and stored[p][0] == blobs.get(p)}
    result.complexity_reused = len(values)
    parsable = sorted(p for p in paths - values.keys() if languages.grammar_for(p, languages.language_of(p)))
    for path, source in read_blobs(checkout, head, parsable).items():
        measured = file_complexity(path, source)
        if measured is not None:
            values[path] = measured.complexity
    result.complexity_parsed = len(values) - result.complexity_reused
    return pd.Series(values, dtype="float64")


def compute_insight(engine: Engine, repository_id: int, checkout: Path, head: str, *,
                    min_revs: float, min_shared_revs: int, min_degree: float, max_changeset: int) -> InsightResult:
    started = time.perf_counter()
    result = InsightResult()
    rows = store.history_changes(engine, repository_id)
    frame = pd.DataFrame(rows, columns=["sha", "path", "old_path", "authored_at"])
    blobs = head_blobs(checkout, head)
    head_paths = set(blobs)
    hotspot_rows: list[dict] = []
    coupling_rows: list[dict] = []
    if not frame.empty:
        frame, result.commits = hotspots_mod.number_commits(frame)
        frame["authored_at"] = pd.to_datetime(frame["authored_at"].astype("float64"), unit="s", utc=True)
        changes = hotspots_mod.resolve_renames(frame)
        complexity = _complexity(engine, repository_id, checkout, head, head_paths & set(changes["head_path"]), blobs,
                                 result)
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
    codeowners: CodeownersResult | None = None
    seconds: float = 0.0


@dataclass
class CodeownersResult:
    file: str | None = None  # the CODEOWNERS file that applies; None: none found
    rules: int = 0
    rules_with_drift: int = 0
    unowned_files: int = 0
    unowned_lines: int = 0
    top_drift: list[tuple] = field(default_factory=list)  # (line, pattern, owners, declared share, flags)


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
    result.codeowners = compute_codeowners_drift(engine, repository_id, inventory, owners, active, as_of=as_of)
    result.seconds = time.perf_counter() - started
    return result


def _identities(engine: Engine) -> dict[str, list[str]]:
    """`email:ADDR` and `github:LOGIN` -> the lowercase e-mails of that identity's person (people registry)."""
    from ..storage import people as people_store

    emails = people_store.person_map(engine, "email")
    by_person: dict[str, list[str]] = {}
    for address, (person_id, _name) in emails.items():
        by_person.setdefault(person_id, []).append(address.lower())
    out = {f"email:{a.lower()}": by_person[p] for a, (p, _n) in emails.items()}
    for login, (person_id, _name) in people_store.person_map(engine, "github").items():
        if by_person.get(person_id):
            out[f"github:{login.lower()}"] = by_person[person_id]
    return out


def compute_codeowners_drift(engine: Engine, repository_id: int, inventory: dict[str, dict], owners: pd.DataFrame,
                             active: set[str], *, as_of: datetime) -> CodeownersResult:
    """Compare the CODEOWNERS file that applies (its `codeowners` facts) with the line authors at the head,
    and replace the stored comparison (insight/codeowners_drift.py)."""
    from ..facts.codeowners import applicable_file
    from ..storage import facts as facts_store
    from . import codeowners_drift as drift_mod

    facts = facts_store.facts_of_kinds(engine, repository_id, ("codeowners",))
    applies = applicable_file(set(inventory) | {f["path"] for f in facts})
    out = CodeownersResult(file=applies)
    if applies is None:
        summary = {"codeowners_file": None, "syntax": None, "rules": 0, "rules_with_drift": 0, "files": len(inventory),
                   "lines": int(owners["lines"].sum()) if not owners.empty else 0, "governed_files": 0,
                   "unowned_files": len(inventory), "unowned_lines": int(owners["lines"].sum()) if not owners.empty
                   else 0, "section_files": {}, "warnings": [], "computed_at": as_of}
        out.unowned_files, out.unowned_lines = summary["unowned_files"], summary["unowned_lines"]
        store.replace_codeowners_drift(engine, repository_id, summary, [])
        return out
    mine = [f for f in facts if f["path"] == applies]
    rules = [drift_mod.rule_from_fact(f) for f in mine]
    syntax = next(((f.get("value") or {}).get("syntax") for f in mine), None) or (
        "gitlab" if applies.startswith(".gitlab/") else "github")
    warnings = store.extraction_warnings(engine, repository_id, applies)
    result = drift_mod.drift(rules, list(inventory), owners, active, _identities(engine))
    rows = [{"rule_order": r["order"], "codeowners_file": applies,
             **{k: v for k, v in r.items() if k != "order"}} for r in result.rules]
    summary = {"codeowners_file": applies, "syntax": syntax, "rules": len(rows),
               "rules_with_drift": result.rules_with_drift, "files": result.files, "lines": result.lines,
               "governed_files": result.governed_files, "unowned_files": result.unowned_files,
               "unowned_lines": result.unowned_lines, "section_files": result.section_files, "warnings": warnings,
               "computed_at": as_of}
    store.replace_codeowners_drift(engine, repository_id, summary, rows)
    out.rules, out.rules_with_drift = len(rows), result.rules_with_drift
    out.unowned_files, out.unowned_lines = result.unowned_files, result.unowned_lines
    flagged = [r for r in result.rules if drift_mod.drifts(r)]
    out.top_drift = [(r["line"], r["pattern"], " ".join(r["owners"]) or "(none)",
                      "-" if r["declared_share"] is None else round(r["declared_share"], 3),
                      ", ".join(k for k in ("owner_inactive", "undeclared_top_author", "no_files") if r[k]))
                     for r in flagged[:10]]
    return out
