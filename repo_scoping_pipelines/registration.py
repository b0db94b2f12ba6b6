"""Registering repositories: validate the name and source, then store them."""

from __future__ import annotations

from .collectors.git import SourceError, resolve_source
from .config import REPOSITORY_NAME_RE
from .services import Services
from .storage import catalog


class RegistrationError(ValueError):
    """The registration was refused; the message says why in one line."""


def validate_name(name: str) -> str:
    if not REPOSITORY_NAME_RE.match(name or ""):
        raise RegistrationError(
            f"invalid repository name {name!r}: use 1-100 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it becomes a Dagster partition key)")
    return name


def register_repository(services: Services, name: str, source: str) -> catalog.Repository:
    """Validate and store a repository; nothing is written when anything is wrong."""
    validate_name(name)
    try:
        resolved = resolve_source(source, services.settings)
    except SourceError as exc:
        raise RegistrationError(str(exc)) from None
    try:
        return catalog.add_repository(services.engine, name, resolved.location, resolved.kind)
    except catalog.AlreadyExists as exc:
        raise RegistrationError(str(exc)) from None
