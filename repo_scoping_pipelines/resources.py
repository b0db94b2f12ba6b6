"""Dagster resource that hands assets, sensors and schedules the shared Services."""

from __future__ import annotations

import dagster as dg

from .config import Settings, get_settings
from .services import Services, open_services


class RepoScopingResource(dg.ConfigurableResource):
    """Postgres, Milvus and the embedding model, configured from REPO_SCOPING_* variables.

    Fields left empty fall back to the environment (and to the embedded engines under var/).
    """

    database_url: str | None = None
    milvus_uri: str | None = None
    home: str | None = None

    def settings(self) -> Settings:
        base = get_settings()
        overrides = {k: v for k, v in {"database_url": self.database_url, "milvus_uri": self.milvus_uri,
                                       "home": self.home}.items() if v}
        return Settings(**{**base.model_dump(), **overrides}) if overrides else base

    def services(self) -> Services:
        return open_services(self.settings())
