"""Git sources: validate, clone or fetch into the checkout root, list the tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from repo_scoping_pipelines.safety.redaction import redact

from ..config import Settings

LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_SCP_LIKE = re.compile(r"^(?P<user>[A-Za-z0-9._-]+@)?(?P<host>[A-Za-z0-9.-]+):(?!//)(?P<path>.+)$")


class SourceError(ValueError):
    """A repository source that cannot be used; the message says why."""


class GitError(RuntimeError):
    """A git command failed; the message carries git's own (redacted) words."""


@dataclass(frozen=True)
class Source:
    kind: str  # git_url | local_path | zip
    location: str  # URL or absolute path


@dataclass(frozen=True)
class Checkout:
    path: Path
    commit: str
    branch: str | None


@dataclass(frozen=True)
class TreeEntry:
    path: str
    mode: str
    blob: str
    size: int

    @property
    def is_symlink(self) -> bool:
        return self.mode == "120000"


def git_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        GIT_TERMINAL_PROMPT="0",  # never hang on a credential prompt
        GIT_ASKPASS="/bin/false",
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C",
    )
    return env


# Transports other than these (ext::, fd::, ...) can run arbitrary commands.
SAFE_GIT_OPTIONS = ["-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.ssh.allow=always",
             "-c", "protocol.file.allow=always", "-c", "protocol.http.allow=user", "-c", "core.hooksPath=/dev/null",
             "-c", "core.symlinks=false"]


def run_git(args: list[str], *, cwd: Path | None = None, timeout: float = 600, secrets: tuple[str, ...] = (),
            check: bool = True) -> str:
    """Run git with safe transports and no prompts; raise GitError with redacted stderr."""
    try:
        proc = subprocess.run(["git", *SAFE_GIT_OPTIONS, *args], cwd=cwd, env=git_env(), capture_output=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GitError(redact(f"git {args[0]} timed out after {timeout:.0f}s", secrets)) from None
    if check and proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip() or proc.stdout.decode(errors="replace").strip()
        raise GitError(redact(f"git {args[0]} failed: {message}", secrets))
    return proc.stdout.decode(errors="surrogateescape")


def host_allowed(host: str, settings: Settings) -> bool:
    host = host.lower().strip("[]")
    return host in LOCAL_HOSTS or host in settings.allowed_host_list


def resolve_source(source: str, settings: Settings) -> Source:
    """Classify and validate a registration SOURCE: a git URL, a local git path or a .zip."""
    source = source.strip()
    if not source:
        raise SourceError("source is empty")
    if "::" in source.split("/", 1)[0] or source.startswith(("ext:", "fd:")):
        raise SourceError(f"git transport not allowed: {redact(source)} (only https, ssh and local paths)")
    lowered = source.lower()
    if "://" in source:
        parts = urlsplit(source)
        if parts.scheme not in ("https", "ssh", "http"):
            raise SourceError(f"git URL scheme {parts.scheme!r} not allowed: use https, ssh or a local path")
        host = parts.hostname or ""
        if parts.scheme == "http" and host not in LOCAL_HOSTS:
            raise SourceError(f"plain http is only allowed for localhost, not {host!r}: use https")
        if not host_allowed(host, settings):
            raise SourceError(f"host {host!r} is not in REPO_SCOPING_ALLOWED_HOSTS")
        return Source("git_url", source)
    scp = _SCP_LIKE.match(source)
    if scp and not Path(source).exists():
        if not host_allowed(scp.group("host"), settings):
            raise SourceError(f"host {scp.group('host')!r} is not in REPO_SCOPING_ALLOWED_HOSTS")
        return Source("git_url", source)
    path = Path(source).expanduser().resolve()
    if lowered.endswith(".zip"):
        if not path.is_file():
            raise SourceError(f"zip archive not found: {path}")
        return Source("zip", str(path))
    if not path.exists():
        raise SourceError(f"path does not exist: {path}")
    allowed = settings.allowed_local_path_list
    if allowed and not any(path == root or root in path.parents for root in allowed):
        raise SourceError(f"local path {path} is outside REPO_SCOPING_ALLOWED_LOCAL_PATHS")
    try:
        inside = run_git(["rev-parse", "--is-inside-work-tree", "--is-bare-repository"], cwd=path, timeout=30)
    except GitError:
        raise SourceError(f"not a git repository: {path}") from None
    if "true" not in inside:
        raise SourceError(f"not a git repository: {path}")
    top = run_git(["rev-parse", "--show-toplevel"], cwd=path, timeout=30, check=False).strip()
    return Source("local_path", top or str(path))


def remote_default_branch(location: str, *, timeout: float = 120, secrets: tuple[str, ...] = ()) -> str | None:
    """Branch that the source's HEAD points at (None for an empty repository)."""
    out = run_git(["ls-remote", "--symref", location, "HEAD"], timeout=timeout, secrets=secrets)
    for line in out.splitlines():
        if line.startswith("ref: ") and line.endswith("\tHEAD"):
            return line[len("ref: "):].split("\t")[0].removeprefix("refs/heads/")
    return None


def sync_checkout(name: str, source: Source, settings: Settings) -> Checkout:
    """Clone (first time) or fetch the source into CHECKOUT_ROOT/NAME and check out its default branch."""
    root = settings.checkouts
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    timeout = settings.git_timeout_s
    secrets = tuple(s.get_secret_value() for s in (settings.github_token,) if s)
    branch = remote_default_branch(source.location, timeout=timeout, secrets=secrets)
    if branch is None:
        raise GitError(f"repository {name!r} has no commits on its default branch (empty repository)")
    if not (target / ".git").exists():
        partial = root / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)  # left by a killed clone
        run_git(["clone", "--quiet", "--no-checkout", source.location, str(partial)], timeout=timeout,
                secrets=secrets)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    else:
        run_git(["remote", "set-url", "origin", source.location], cwd=target, secrets=secrets)
    run_git(["fetch", "--quiet", "--prune", "--force", "origin",
             f"+refs/heads/{branch}:refs/remotes/origin/{branch}"], cwd=target, timeout=timeout, secrets=secrets)
    run_git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--force", "--detach",
             f"refs/remotes/origin/{branch}"], cwd=target, timeout=timeout)
    run_git(["clean", "-ffdxq"], cwd=target, timeout=timeout)
    commit = run_git(["rev-parse", "HEAD"], cwd=target).strip()
    return Checkout(path=target, commit=commit, branch=branch)


def list_tree(checkout: Path, commit: str = "HEAD") -> list[TreeEntry]:
    """Every blob of the commit with its mode, blob id and size (submodules skipped)."""
    out = run_git(["ls-tree", "-r", "-l", "-z", "--full-tree", commit], cwd=checkout)
    entries = []
    for record in out.split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, blob, size = meta.split()
        if kind != "blob":
            continue
        entries.append(TreeEntry(path=path, mode=mode, blob=blob, size=int(size) if size != "-" else 0))
    return entries


def check_attributes(checkout: Path, paths: list[str], attributes: list[str]) -> dict[str, set[str]]:
    """Paths whose git attributes (e.g. linguist-vendored) are set, honouring .gitattributes exactly."""
    if not paths:
        return {}
    proc = subprocess.run(["git", "check-attr", "-z", "--stdin", *attributes], cwd=checkout, env=git_env(),
                          input="\0".join(paths).encode(errors="surrogateescape") + b"\0", capture_output=True,
                          timeout=120)
    fields = proc.stdout.decode(errors="surrogateescape").split("\0")
    found: dict[str, set[str]] = {}
    for i in range(0, len(fields) - 2, 3):
        path, attribute, value = fields[i], fields[i + 1], fields[i + 2]
        if value in ("set", "true"):
            found.setdefault(path, set()).add(attribute)
    return found
