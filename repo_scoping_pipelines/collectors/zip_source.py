"""Uploaded .zip sources: validate against the safety limits, extract safely, inventory like git.

An archive is checked entry by entry before anything is written (entry count, path depth,
absolute paths, `..`, Windows reserved names, links escaping the root, total size and
compression ratio), and the byte counts are enforced again while extracting, since the sizes
a zip declares can lie. Content hashes use git's blob hash, so a file has the same hash
whether it came from a git repository or an archive.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from .git import Checkout, SourceError, TreeEntry

ZIP_MANIFEST = ".zip-manifest.json"
_CHUNK = 1024 * 1024
# Entries below this size may compress far better than the ratio limit without being a bomb.
_RATIO_MIN_BYTES = 1024 * 1024
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)$", re.IGNORECASE)
_WINDOWS_BAD_CHARS = re.compile(r'[<>:"|?*\x00-\x1f]')
_SKIPPED_PREFIXES = ("__MACOSX/",)


class ZipSafetyError(SourceError):
    """The archive breaks a safety limit; the message names the limit and the entry."""


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int
    max_depth: int
    max_bytes: int
    max_ratio: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ZipLimits:
        return cls(settings.zip_max_entries, settings.zip_max_depth, settings.zip_max_bytes, settings.zip_max_ratio)


@dataclass(frozen=True)
class PlannedEntry:
    info: zipfile.ZipInfo
    path: str  # normalised, relative, top-level folder stripped
    mode: str  # 100644 | 100755 | 120000
    link_target: str | None = None


def archive_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def git_blob_hash(data: bytes) -> str:
    """git hash-object: sha1 of "blob <size>\\0" + data."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _normalise(name: str) -> str:
    """The entry's path with `/` separators; raises ZipSafetyError for unsafe names."""
    shown = name[:200]
    path = name.replace("\\", "/")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise ZipSafetyError(f"zip entry {shown!r} has an absolute path")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ZipSafetyError(f"zip entry {shown!r} leaves the extraction root ('..')")
    for part in parts:
        stem = part.split(".", 1)[0]
        if _WINDOWS_RESERVED.match(stem) or part.endswith((" ", ".")) or _WINDOWS_BAD_CHARS.search(part):
            raise ZipSafetyError(f"zip entry {shown!r} uses a Windows reserved name or character")
    return "/".join(parts)


def _entry_mode(info: zipfile.ZipInfo) -> int:
    return (info.external_attr >> 16) & 0xFFFF if info.create_system == 3 else 0


def plan_extraction(archive: Path, limits: ZipLimits) -> list[PlannedEntry]:
    """Validate every entry of the archive against the limits without writing anything."""
    if not zipfile.is_zipfile(archive):
        raise ZipSafetyError(f"not a zip archive: {archive.name}")
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_entries:
                raise ZipSafetyError(f"zip has {len(infos)} entries, more than the limit of {limits.max_entries}")
            planned: list[tuple[zipfile.ZipInfo, str, int]] = []
            total = compressed = 0
            for info in infos:
                if info.filename.startswith(_SKIPPED_PREFIXES):
                    continue
                path = _normalise(info.filename)
                if not path:
                    continue
                depth = path.count("/") + 1
                if depth > limits.max_depth:
                    raise ZipSafetyError(f"zip entry {path[:200]!r} is {depth} levels deep, "
                                         f"more than the limit of {limits.max_depth}")
                if info.flag_bits & 0x1:
                    raise ZipSafetyError(f"zip entry {path[:200]!r} is encrypted")
                if info.is_dir():
                    continue
                mode = _entry_mode(info)
                if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                    raise ZipSafetyError(f"zip entry {path[:200]!r} is a device, fifo or socket")
                if info.file_size >= _RATIO_MIN_BYTES and \
                        info.file_size > limits.max_ratio * max(info.compress_size, 1):
                    raise ZipSafetyError(f"zip entry {path[:200]!r} has a compression ratio above "
                                         f"{limits.max_ratio:g}:1 (zip bomb?)")
                total += info.file_size
                compressed += info.compress_size
                if total > limits.max_bytes:
                    raise ZipSafetyError(f"zip expands to more than the limit of {limits.max_bytes} bytes")
                planned.append((info, path, mode))
            if total >= _RATIO_MIN_BYTES and total > limits.max_ratio * max(compressed, 1):
                raise ZipSafetyError(f"zip has a compression ratio above {limits.max_ratio:g}:1 (zip bomb?)")
            # A GitHub-style archive wraps everything in one folder: strip it so paths match git.
            tops = {p.split("/", 1)[0] for _, p, _ in planned}
            strip = len(tops) == 1 and all("/" in p for _, p, _ in planned)
            entries: list[PlannedEntry] = []
            seen: set[str] = set()
            for info, path, mode in planned:
                rel = path.split("/", 1)[1] if strip else path
                if rel.lower() in seen:
                    raise ZipSafetyError(f"zip entry {rel[:200]!r} appears twice")
                seen.add(rel.lower())
                if stat.S_ISLNK(mode):
                    if info.file_size > 4096:
                        raise ZipSafetyError(f"zip link {rel[:200]!r} has an oversized target")
                    target = zf.read(info).decode("utf-8", errors="replace")
                    _check_link(rel, target)
                    entries.append(PlannedEntry(info, rel, "120000", target))
                else:
                    entries.append(PlannedEntry(info, rel, "100755" if mode & 0o111 else "100644"))
            return entries
    except zipfile.BadZipFile as exc:
        raise ZipSafetyError(f"corrupt zip archive: {exc}") from None


def _check_link(path: str, target: str) -> None:
    if not target or target.startswith("/") or re.match(r"^[A-Za-z]:", target) or "\0" in target:
        raise ZipSafetyError(f"zip link {path[:200]!r} points outside the archive ({target[:200]!r})")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target.replace("\\", "/")))
    if resolved == ".." or resolved.startswith("../"):
        raise ZipSafetyError(f"zip link {path[:200]!r} points outside the archive ({target[:200]!r})")


def extract_archive(archive: Path, target: Path, limits: ZipLimits) -> list[TreeEntry]:
    """Extract into `target` (which must not exist) and return git-like tree entries.

    Links are never created on disk: they are inventoried (mode 120000, hash of the target
    text, as git does) and never followed.
    """
    plan = plan_extraction(archive, limits)
    target.mkdir(parents=True)
    root = target.resolve()
    written = 0
    entries: list[TreeEntry] = []
    with zipfile.ZipFile(archive) as zf:
        for item in plan:
            if item.link_target is not None:
                data = item.link_target.encode("utf-8", errors="surrogateescape")
                entries.append(TreeEntry(path=item.path, mode="120000", blob=git_blob_hash(data), size=len(data)))
                continue
            dest = (root / item.path)
            if root not in dest.parents:  # belt and braces after _normalise
                raise ZipSafetyError(f"zip entry {item.path[:200]!r} leaves the extraction root")
            dest.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha1(b"blob %d\0" % item.info.file_size, usedforsecurity=False)
            size = 0
            with zf.open(item.info) as src, open(dest, "xb") as out:
                for block in iter(lambda src=src: src.read(_CHUNK), b""):
                    size += len(block)
                    written += len(block)
                    # Declared sizes can lie: enforce the limits on what is really written.
                    if size > item.info.file_size or written > limits.max_bytes:
                        raise ZipSafetyError(f"zip entry {item.path[:200]!r} expands beyond its declared size "
                                             "or the size limit")
                    digest.update(block)
                    out.write(block)
            dest.chmod(0o755 if item.mode == "100755" else 0o644)
            entries.append(TreeEntry(path=item.path, mode=item.mode, blob=digest.hexdigest(), size=size))
    entries.sort(key=lambda e: e.path)
    return entries


def sync_zip_checkout(name: str, archive: Path, settings: Settings) -> tuple[Checkout, list[TreeEntry]]:
    """Extract the archive into CHECKOUT_ROOT/NAME unless that checkout already holds it (same sha256).

    The snapshot "commit" is ``zip:<sha256 of the archive>``, so the same archive twice is a cache hit.
    """
    if not archive.is_file():
        raise SourceError(f"zip archive not found: {archive}")
    root = settings.checkouts
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    manifest = root / f".{name}{ZIP_MANIFEST}"
    sha = archive_sha256(archive)
    commit = f"zip:{sha}"
    if manifest.exists() and target.is_dir():
        try:
            stored = json.loads(manifest.read_text())
            if stored.get("commit") == commit:
                entries = [TreeEntry(**e) for e in stored["entries"]]
                return Checkout(path=target, commit=commit, branch=None), entries
        except (OSError, ValueError, TypeError, KeyError):
            pass  # unreadable manifest: extract again
    partial = root / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)  # left by a killed extraction
    try:
        entries = extract_archive(archive, partial, ZipLimits.from_settings(settings))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    manifest.unlink(missing_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps({"commit": commit, "entries": [e.__dict__ for e in entries]}))
    tmp.rename(manifest)
    return Checkout(path=target, commit=commit, branch=None), entries
