"""observed_facts and dependency_graph work: extract changed files, assemble, store. Reads the checkout
that repository_snapshot synced; per-file results are cached by content hash in Postgres."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from repo_scoping_pipelines.operations import log as ops_log

from ..services import Services
from ..storage import catalog
from ..storage import facts as store
from .extract import EXTRACTOR_VERSION, decode, extract_file, family_of, skip_reason
from .graph import Graph, build_graph
from .model import FileExtraction
from .observe import repository_facts

STORE_BATCH = 500


class NoSnapshot(LookupError):
    """The repository has no snapshot yet: repository_snapshot must run first."""


@dataclass
class SyncResult:
    extracted: int = 0  # files read and parsed in this run
    cached: int = 0  # files whose stored extraction still matches their content hash
    removed: int = 0  # files no longer in the snapshot (or no longer carrying facts)
    new_warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class FactsResult:
    commit: str
    sync: SyncResult
    added: int
    removed: int
    unchanged: int
    by_kind: dict[str, int]
    warnings: list[str]  # every current warning (skipped and malformed files), not only this run's
    preview: list[tuple]
    seconds: float


@dataclass
class GraphResult:
    commit: str
    sync: SyncResult
    graph: Graph
    seconds: float


def _snapshot(services: Services, name: str) -> tuple[catalog.Repository, dict]:
    repo = catalog.get_repository(services.engine, name)
    snapshot = catalog.latest_snapshot(services.engine, repo.id)
    if snapshot is None:
        raise NoSnapshot(f"repository {name!r} has no snapshot yet: materialize repository_snapshot first")
    return repo, snapshot


def sync_extractions(services: Services, name: str, repository_id: int, inventory: list[dict], *,
                     full: bool = False) -> SyncResult:
    """Extract the files whose content hash changed since their stored extraction (every file when
    `full`); drop the extractions of files that are gone."""
    started = time.perf_counter()
    checkout = services.settings.checkouts / name
    candidates = {r["path"]: (r, family) for r in inventory if (family := family_of(r)) is not None}
    state = store.extraction_state(services.engine, repository_id)
    result = SyncResult()
    removed = [p for p in state if p not in candidates]
    result.removed = len(removed)
    rows: list[dict] = []
    for path, (record, family) in candidates.items():
        if not full and state.get(path) == (record["content_hash"], EXTRACTOR_VERSION):
            result.cached += 1
            continue
        extraction = _extract_one(checkout, record, family)
        for warning in extraction.warnings:
            result.new_warnings.append(warning)
            ops_log.event("facts.file_skipped", level=logging.WARNING, repository=name, path=path, warning=warning)
        rows.append({"path": path, "content_hash": record["content_hash"], "extractor_version": EXTRACTOR_VERSION,
                     "family": family, "extraction": extraction.as_json()})
        result.extracted += 1
        if len(rows) >= STORE_BATCH:  # a killed run keeps what it finished
            store.store_extractions(services.engine, repository_id, rows, [])
            rows = []
    store.store_extractions(services.engine, repository_id, rows, removed)
    result.seconds = time.perf_counter() - started
    return result


def _extract_one(checkout, record: dict, family: str) -> FileExtraction:
    path = record["path"]
    reason = skip_reason(record, None)
    if reason is None:
        try:
            data = (checkout / path).read_bytes()
        except OSError as exc:
            return FileExtraction(warnings=[f"{path}: skipped (unreadable: {exc.strerror})"])
        reason = skip_reason(record, data)
    if reason is not None:
        return FileExtraction(warnings=[f"{path}: skipped ({reason})"])
    text = decode(data)
    if text is None:
        return FileExtraction(warnings=[f"{path}: skipped (unknown encoding: not UTF-8 or UTF-16)"])
    return extract_file(path, family, text, record.get("language"))


def _load(services: Services, repository_id: int) -> dict[str, FileExtraction]:
    return {path: FileExtraction.from_json(data)
            for path, data in store.load_extractions(services.engine, repository_id).items()}


def observe_repository(services: Services, name: str, *, full: bool = False) -> FactsResult:
    """Bring the stored facts of a repository in line with its latest snapshot."""
    started = time.perf_counter()
    repo, snapshot = _snapshot(services, name)
    inventory = store.inventory(services.engine, repo.id)
    sync = sync_extractions(services, name, repo.id, inventory, full=full)
    extractions = _load(services, repo.id)
    hashes = {r["path"]: r["content_hash"] for r in inventory}
    rows = {}
    for fact in repository_facts(inventory, extractions):
        if fact.path not in hashes:
            continue  # cannot prove it in this snapshot
        source_hash = hashes[fact.path]
        fid = store.fact_id(repo.id, fact.kind, fact.subject, fact.path, fact.line, source_hash, fact.value)
        rows[fid] = {"fact_id": fid, "kind": fact.kind, "subject": fact.subject[:1000], "value": fact.value,
                     "path": fact.path, "line": max(1, fact.line), "confidence": fact.confidence,
                     "source_hash": source_hash}
    added, removed, unchanged = store.replace_facts(services.engine, repo.id, snapshot["id"], snapshot["commit_sha"],
                                                    list(rows.values()))
    by_kind = dict(sorted(Counter(r["kind"] for r in rows.values()).items()))
    warnings = sorted(w for e in extractions.values() for w in e.warnings)
    preview = _preview(list(rows.values()))
    return FactsResult(commit=snapshot["commit_sha"], sync=sync, added=added, removed=removed, unchanged=unchanged,
                       by_kind=by_kind, warnings=warnings, preview=preview, seconds=time.perf_counter() - started)


def _preview(rows: list[dict], per_kind: int = 3) -> list[tuple]:
    """A few facts of each kind, most confident first: (kind, subject, evidence, confidence)."""
    out, seen = [], Counter()
    for row in sorted(rows, key=lambda r: (r["kind"], -r["confidence"], r["path"], r["line"])):
        if seen[row["kind"]] < per_kind:
            seen[row["kind"]] += 1
            out.append((row["kind"], row["subject"], f"{row['path']}:{row['line']}", row["confidence"]))
    return out


def build_repository_graph(services: Services, name: str) -> GraphResult:
    """Rebuild the stored import graph of a repository from its (incrementally) extracted imports."""
    started = time.perf_counter()
    repo, snapshot = _snapshot(services, name)
    inventory = store.inventory(services.engine, repo.id)
    sync = sync_extractions(services, name, repo.id, inventory)
    graph = build_graph(inventory, _load(services, repo.id))
    store.replace_graph(services.engine, repo.id, snapshot["id"], graph.nodes, graph.edges)
    return GraphResult(commit=snapshot["commit_sha"], sync=sync, graph=graph, seconds=time.perf_counter() - started)
