"""repository_snapshot's work: sync the checkout, record the commit and the file inventory."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from repo_scoping_pipelines.collectors.git import Source, list_tree, sync_checkout
from repo_scoping_pipelines.collectors.inventory import build_inventory
from repo_scoping_pipelines.collectors.zip_source import sync_zip_checkout
from repo_scoping_pipelines.services import Services
from repo_scoping_pipelines.storage import catalog


@dataclass(frozen=True)
class SnapshotResult:
    repository: str
    commit: str
    branch: str | None
    files: int
    bytes: int
    added: int
    changed: int
    removed: int
    unchanged: int
    new_snapshot: bool
    skipped: dict[str, int]
    languages: dict[str, int]
    seconds: float


def take_snapshot(services: Services, name: str) -> SnapshotResult:
    started = time.perf_counter()
    repo = catalog.get_repository(services.engine, name)
    if repo.source_kind == "zip":
        # Extracted safely (limits in settings); "commit" is zip:<sha256 of the archive>.
        checkout, entries = sync_zip_checkout(name, Path(repo.source), services.settings)
    else:
        checkout = sync_checkout(name, Source(repo.source_kind, repo.source), services.settings)
        entries = list_tree(checkout.path, checkout.commit)
    previous = catalog.previous_inventory(services.engine, repo.id)
    records = build_inventory(checkout.path, entries, previous, max_file_bytes=services.settings.max_file_bytes)
    write = catalog.record_snapshot(services.engine, repo.id, checkout.commit, checkout.branch,
                                    [r.as_row() for r in records])
    skipped: dict[str, int] = {}
    for r in records:
        if r.skip_reason:
            skipped[r.skip_reason] = skipped.get(r.skip_reason, 0) + 1
    return SnapshotResult(
        repository=name, commit=checkout.commit, branch=checkout.branch, files=len(records),
        bytes=sum(r.size_bytes for r in records), added=write.added, changed=write.changed, removed=write.removed,
        unchanged=write.unchanged, new_snapshot=write.new_snapshot, skipped=skipped,
        languages=catalog.language_lines(services.engine, repo.id), seconds=time.perf_counter() - started)
