"""Registering repositories: validate the name and source, then store them."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from repo_scoping_pipelines.collectors.git import SourceError, resolve_source
from repo_scoping_pipelines.collectors.zip_source import ZipLimits, archive_sha256, plan_extraction
from repo_scoping_pipelines.config import REPOSITORY_NAME_RE, Settings
from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.services import Services
from repo_scoping_pipelines.storage import catalog


class RegistrationError(ValueError):
    """The registration was refused; the message says why in one line."""


def validate_name(name: str) -> str:
    if not REPOSITORY_NAME_RE.match(name or ""):
        raise RegistrationError(
            f"invalid repository name {name!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it becomes a Dagster partition key)")
    return name


def register_repository(services: Services, name: str, source: str, *, replace_zip: bool = False
                        ) -> catalog.Repository:
    """Validate and store a repository; nothing is written when anything is wrong.

    A .zip is checked against the safety limits and copied into HOME/uploads/ (named by its
    sha256) so the source survives the upload's temporary file. With `replace_zip`, a
    repository already registered from a zip gets the new archive as its source.
    """
    validate_name(name)
    started = time.perf_counter()
    try:
        resolved = resolve_source(source, services.settings)
        location = resolved.location
        if resolved.kind == "zip":
            location = str(store_archive(Path(resolved.location), services.settings))
    except SourceError as exc:
        ops_log.event("registration.refused", repository=name, reason=str(exc))
        raise RegistrationError(str(exc)) from None
    try:
        repo = catalog.add_repository(services.engine, name, location, resolved.kind)
    except catalog.AlreadyExists as exc:
        existing = catalog.get_repository(services.engine, name)
        if not (replace_zip and resolved.kind == "zip" and existing.source_kind == "zip"):
            raise RegistrationError(str(exc)) from None
        repo = catalog.set_source(services.engine, name, location)
    ops_log.event("registration", repository=name, source_kind=resolved.kind, source=location,
                  duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return repo


def store_archive(archive: Path, settings: Settings) -> Path:
    """Validate a .zip against the safety limits and keep a copy under HOME/uploads/<sha256>.zip."""
    plan_extraction(archive, ZipLimits.from_settings(settings))
    uploads = settings.home / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    stored = uploads / f"{archive_sha256(archive)}.zip"
    if not stored.exists():
        partial = stored.with_suffix(f".{os.getpid()}.partial")
        shutil.copyfile(archive, partial)
        partial.rename(stored)  # atomic: a killed copy never leaves a truncated archive under the final name
    return stored
