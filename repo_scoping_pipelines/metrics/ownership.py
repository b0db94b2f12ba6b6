"""file_ownership's pure parts: the result shape and the paths of the current tree
(pipeline.compute_ownership stores each path's authors by changed lines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..collectors.git import list_tree, run_git
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


def head_blobs(checkout: Path, head: str) -> dict[str, str]:
    """{path: blob id} of every file at `head` (submodule entries left out)."""
    return {decode(e.path.encode("utf-8", errors="surrogateescape")): e.blob for e in list_tree(checkout, head)}
