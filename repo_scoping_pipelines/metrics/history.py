"""Reading history from git: `git log --no-merges --use-mailmap --numstat -z` parsed into commits
with per-file line counts, the head, the mailmap, ancestry and the remote head (no storage here;
pipeline.extract_history stores them incrementally)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

# The collector's safe git invocation (no ext:: transports, no hooks, no prompts).
from ..collectors.git import SAFE_GIT_OPTIONS, GitError, git_env, run_git

# Records start with RS (0x1e); fields and numstat entries end with NUL (-z), so any byte in a
# name, subject or path is read exactly.
LOG_FORMAT = "%x1e%H%x00%aN%x00%aE%x00%cN%x00%cE%x00%at%x00%ct%x00%s"
_HEADER_FIELDS = 7  # after the sha
# Commits dated before this or after tomorrow are kept (git says they exist) but reported.
EARLIEST_PLAUSIBLE = date(1980, 1, 1)
_CONVENTIONAL = re.compile(
    r"^\s*(?P<type>feat|fix|perf|refactor|docs?|tests?|build|ci|chore|style|revert|deps)(?:\([^)]*\))?!?:\s",
    re.IGNORECASE)
_TYPE_ALIASES = {"doc": "docs", "tests": "test"}


class HistoryError(RuntimeError):
    """The history cannot be read (no checkout, no commits, git failed); the message says which."""


@dataclass
class Commit:
    sha: str
    author_name: str
    author_email: str
    committer_name: str
    committer_email: str
    authored_at: datetime
    committed_at: datetime
    subject: str
    files: list[tuple[str, str | None, int, int, bool]] = field(default_factory=list)  # path, old, +, -, binary


@dataclass
class HistoryResult:
    mode: str  # full | incremental | unchanged
    reason: str
    head: str
    previous_head: str | None
    commits_added: int = 0
    files_added: int = 0
    total_commits: int = 0
    first_day: date | None = None  # range of author days whose commits changed (for daily metrics)
    last_day: date | None = None
    implausible_dates: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return self.mode != "unchanged"


def decode(raw: bytes) -> str:
    """Git stores names and paths as bytes: UTF-8 when valid, else Latin-1 (never fails, never lossy)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def change_type(subject: str) -> str:
    """Conventional-commit type of a subject line (feat, fix, docs, ...) or "other"."""
    m = _CONVENTIONAL.match(subject)
    if not m:
        return "other"
    kind = m.group("type").lower()
    return _TYPE_ALIASES.get(kind, kind)


def _ts(raw: bytes) -> datetime:
    return datetime.fromtimestamp(int(raw or b"0"), UTC)


def _tokens(stream, size: int = 1 << 20) -> Iterator[bytes]:
    rest = b""
    while chunk := stream.read(size):
        parts = (rest + chunk).split(b"\0") if rest else chunk.split(b"\0")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def parse_log(tokens: Iterator[bytes]) -> Iterator[Commit]:
    """Commits from the NUL-separated tokens of `git log -z --numstat --format=LOG_FORMAT`."""
    current: Commit | None = None
    tokens = iter(tokens)
    for tok in tokens:
        if tok[:1] == b"\x1e":
            if current is not None:
                yield current
            head = [next(tokens) for _ in range(_HEADER_FIELDS)]
            current = Commit(sha=tok[1:].decode("ascii"), author_name=decode(head[0]), author_email=decode(head[1]),
                             committer_name=decode(head[2]), committer_email=decode(head[3]),
                             authored_at=_ts(head[4]), committed_at=_ts(head[5]), subject=decode(head[6]))
            continue
        if not tok or current is None:
            continue
        if tok[:1] == b"\n":
            tok = tok[1:]
        added, deleted, path = tok.split(b"\t", 2)
        old: str | None = None
        if not path:  # rename or copy: "+\t-\t" then the old and the new path as their own tokens
            old = decode(next(tokens))
            path = next(tokens)
        binary = added == b"-"
        current.files.append((decode(path), old, 0 if binary else int(added), 0 if binary else int(deleted),
                              binary))
    if current is not None:
        yield current


def read_log(checkout: Path, revisions: list[str]) -> Iterator[Commit]:
    """Stream commits of `git log --no-merges --use-mailmap --numstat -z REVISIONS` (newest first)."""
    cmd = ["git", *SAFE_GIT_OPTIONS, "log", "--no-merges", "--use-mailmap", "--numstat", "-z", "--no-color",
           "--no-show-signature", f"--format={LOG_FORMAT}", *revisions, "--"]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=checkout, env=git_env(), stdout=subprocess.PIPE, stderr=err,
                                stdin=subprocess.DEVNULL)
        try:
            yield from parse_log(_tokens(proc.stdout))
        finally:
            proc.stdout.close()
            code = proc.wait()
        if code != 0:
            err.seek(0)
            raise HistoryError(f"git log failed: {err.read().decode(errors='replace').strip()[:500]}")


def head_commit(checkout: Path) -> str:
    if not (checkout / ".git").exists():
        raise HistoryError(f"no checkout at {checkout}: materialize repository_snapshot first")
    out = run_git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], cwd=checkout, check=False).strip()
    if not out:
        raise HistoryError("the repository has no commits on its default branch (empty repository)")
    return out


def mailmap_blob(checkout: Path, head: str) -> str:
    """Blob id of the head's .mailmap ("" when none): when it changes, stored authors are re-resolved."""
    return run_git(["rev-parse", "--verify", "-q", f"{head}:.mailmap"], cwd=checkout, check=False).strip()


def is_ancestor(checkout: Path, older: str, newer: str) -> bool:
    try:
        run_git(["merge-base", "--is-ancestor", older, newer], cwd=checkout)
    except GitError:
        return False  # not an ancestor, or the old commit is gone after a force-push and a gc
    return True


def count_reachable(checkout: Path, head: str) -> int:
    """What git itself counts: non-merge commits reachable from the head (for the asset check)."""
    return int(run_git(["rev-list", "--no-merges", "--count", head], cwd=checkout).strip() or 0)


def remote_head(location: str, *, timeout: float = 60, secrets: tuple[str, ...] = ()) -> str | None:
    """The commit the source's HEAD points at now (`git ls-remote`), None for an empty repository."""
    out = run_git(["ls-remote", location, "HEAD"], timeout=timeout, secrets=secrets)
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if ref == "HEAD":
            return sha
    return None
