"""The cross_repository_coupling asset's storage work: every repository's stored history -> issue-keyed
change sets -> pairs of files of different repositories (insight/cross_coupling.py) -> one table."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from ..collectors.git import GitError
from ..collectors.github import github_slug
from ..config import Settings
from ..metrics.history import HistoryError, head_commit
from ..metrics.ownership import current_paths
from ..storage import catalog
from ..storage import cross_coupling as store
from . import cross_coupling as cross_mod
from . import hotspots as hotspots_mod


@dataclass
class CrossCouplingResult:
    stats: dict[str, int] = field(default_factory=dict)
    pairs: int = 0
    repositories: int = 0  # repositories with a file in a reported pair
    top_pairs: list[tuple] = field(default_factory=list)
    seconds: float = 0.0


def _head_paths(checkouts: Path, name: str) -> set[str] | None:
    """Files at the checkout's head; None when there is no checkout to ask (no filter then)."""
    checkout = checkouts / name
    if not checkout.is_dir():
        return None
    try:
        return current_paths(checkout, head_commit(checkout))
    except (GitError, HistoryError, OSError):
        return None


def changes_at_head(rows: list[tuple], names: dict[int, str], checkouts: Path) -> pd.DataFrame:
    """repository, sha, subject, path (the file's name at the head; files gone from the head dropped),
    commit_files (files the commit touched)."""
    frame = pd.DataFrame(rows, columns=["repository_id", "sha", "subject", "path", "old_path"])
    parts = []
    for repository_id, part in frame.groupby("repository_id", sort=True):  # one step per repository
        part, _ = hotspots_mod.number_commits(part)
        part = hotspots_mod.resolve_renames(part)
        # A commit's size counts every file it touched, as within a repository (renames-only rows of
        # commits without a key are counted too, but those commits are never change sets).
        part["commit_files"] = part.groupby("sha")["path"].transform("size")
        head = _head_paths(checkouts, names[repository_id])
        if head is not None:
            part = part[part["head_path"].isin(head)]
        parts.append(part.assign(repository=int(repository_id)))
    if not parts:
        return pd.DataFrame(columns=["repository", "sha", "subject", "path", "commit_files"])
    out = pd.concat(parts, ignore_index=True)
    return out[["repository", "sha", "subject", "head_path", "commit_files"]].rename(columns={"head_path": "path"})


def home_slugs(engine: Engine, settings: Settings) -> dict[int, str]:
    """repository id -> its GitHub `owner/repo` (URL or a local clone's origin), where known: a bare `#N`
    in its commits is that repository's issue or pull request N."""
    slugs = {}
    for repo in catalog.list_repositories(engine):
        with contextlib.suppress(GitError, OSError):
            if slug := github_slug(repo.source, repo.source_kind, settings):
                slugs[repo.id] = slug
    return slugs


def compute_cross_coupling(engine: Engine, settings: Settings, *, min_revs: float, min_shared_revs: int,
                           min_degree: float, max_changeset: int) -> CrossCouplingResult:
    started = time.perf_counter()
    result = CrossCouplingResult()
    names = store.repository_names(engine)
    changes = changes_at_head(store.keyed_history(engine), names, settings.checkouts)
    sets, result.stats = cross_mod.change_sets(changes, max_changeset_size=max_changeset,
                                               home_slugs=home_slugs(engine, settings))
    pairs = cross_mod.cross_coupling(sets, min_revs=min_revs, min_shared_revs=min_shared_revs,
                                     min_coupling=min_degree)
    rows = [{"repository_a_id": int(r["repository_a"]), "path_a": r["path_a"],
             "repository_b_id": int(r["repository_b"]), "path_b": r["path_b"],
             "shared_revisions": int(r["shared_revisions"]), "revisions_a": int(r["revisions_a"]),
             "revisions_b": int(r["revisions_b"]), "degree": round(float(r["degree"]), 6),
             "shared_keys": [str(k) for k in r["shared_keys"]]} for r in pairs.to_dict("records")]
    store.replace_cross_coupling(engine, rows)
    result.pairs = len(rows)
    result.repositories = len({r["repository_a_id"] for r in rows} | {r["repository_b_id"] for r in rows})
    result.top_pairs = [(f"{names[r['repository_a_id']]}:{r['path_a']}", f"{names[r['repository_b_id']]}:{r['path_b']}",
                         r["shared_revisions"], r["degree"], " ".join(r["shared_keys"][:3])) for r in rows[:10]]
    result.seconds = time.perf_counter() - started
    return result
