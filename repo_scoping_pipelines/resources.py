"""Dagster resource that hands assets, sensors and schedules the shared Services."""

from __future__ import annotations

import dagster as dg

from .config import Settings, load_settings
from .services import Services, open_services

_by_environment: dict[tuple, Settings] = {}


def _environment_settings() -> Settings:
    """load_settings() for the current REPO_SCOPING_* variables (and working directory, the default
    home), parsed once per distinct environment: each step asks, and a parse is ~10 ms."""
    import os

    key = (os.getcwd(), tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("REPO_SCOPING_"))))
    settings = _by_environment.get(key)
    if settings is None:
        settings = _by_environment[key] = load_settings()
    return settings


class RepoScopingResource(dg.ConfigurableResource):
    """Postgres, Milvus and the embedding model, configured from REPO_SCOPING_* variables.

    Fields left empty fall back to the environment (and to the embedded engines under var/).
    """

    database_url: str | None = None
    milvus_uri: str | None = None
    home: str | None = None

    def settings(self) -> Settings:
        base = _environment_settings()
        overrides = {k: v for k, v in {"database_url": self.database_url, "milvus_uri": self.milvus_uri,
                                       "home": self.home}.items() if v}
        return Settings(**{**base.model_dump(), **overrides}) if overrides else base

    def services(self) -> Services:
        return open_services(self.settings())
