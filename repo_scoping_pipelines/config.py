"""Settings: every REPO_SCOPING_* environment variable, validated once, in one object."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The source checkout when running from one (editable install); in an installed wheel it is just
# site-packages, so nothing at run time may rely on it (package data: importlib.resources).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Name pattern for repositories: it becomes a Dagster partition key, a path segment and a
# Milvus filter literal, so keep it to a safe alphabet.
REPOSITORY_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(BaseSettings):
    """Runtime configuration, read from REPO_SCOPING_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="REPO_SCOPING_", extra="ignore", frozen=True)

    # var/ of the folder the command runs in (absolute, so child processes agree whatever their cwd);
    # never beside the installed package, which may be a read-only site-packages.
    home: Path = Field(default_factory=lambda: Path.cwd() / "var",
                       description="Folder for the embedded engines' data (default: ./var)")
    database_url: SecretStr | None = None
    milvus_uri: str | None = None
    milvus_token: SecretStr | None = None
    checkout_root: Path | None = None
    embedding_provider: Literal["hashing", "local", "openai"] = "hashing"
    embedding_model: str | None = None
    embedding_dim: int = Field(default=256, ge=8, le=4096)
    llm_provider: Literal["openai"] | None = None
    llm_model: str | None = None
    llm_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    # LLM cost control for ability candidates: rate limits, per-request timeout, retries on 429/5xx.
    llm_rpm: int = Field(default=60, ge=1, description="LLM requests per minute")
    llm_tpm: int = Field(default=200_000, ge=100, description="LLM tokens (prompt + completion) per minute")
    llm_timeout_s: float = Field(default=120.0, gt=0, description="Timeout of one LLM request")
    llm_retries: int = Field(default=3, ge=0, description="Retries after a 429, a 5xx, a timeout or a lost connection")
    llm_backoff_s: float = Field(default=2.0, ge=0, description="First LLM retry delay; doubles each retry")
    github_token: SecretStr | None = None
    redmine_url: str | None = None
    redmine_api_key: SecretStr | None = None
    allowed_hosts: str = ""
    allowed_local_paths: str = ""
    api_token: SecretStr | None = None
    # Reads need a `read` token when on. Unset: `repo-scoping serve` turns it on when it listens on a
    # non-loopback address (api/auth.py resolve_read_auth); an app built without a host leaves it off.
    read_auth: bool | None = Field(default=None, description="Require a read-scope token for every read route")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_file: Path | None = Field(default=None, description="JSON operations log file (default: stderr; "
                                  "the CLI's non-server commands use HOME/logs/operations.jsonl)")
    max_file_bytes: int = Field(default=1024 * 1024, ge=1)
    git_timeout_s: int = Field(default=600, ge=1)
    # Engineering metrics and outside trackers (GitHub, Redmine).
    github_api_url: str = Field(default="https://api.github.com", description="GitHub REST base URL")
    redmine_projects: str = Field(default="", description="repository=project pairs; default project = name")
    http_timeout_s: float = Field(default=30.0, gt=0)
    http_retries: int = Field(default=4, ge=0, description="Retries after a 5xx, a timeout or a rate limit")
    http_backoff_s: float = Field(default=1.0, ge=0, description="First retry delay; doubles each retry")
    http_max_wait_s: float = Field(default=900.0, ge=0, description="Longest rate-limit wait before giving up")
    ownership_half_life_days: float = Field(default=180.0, gt=0, description="Recency weighting of ownership")
    # Change coupling thresholds, code-maat's defaults (insight/coupling.py).
    insight_coupling_min_revs: float = Field(default=5, ge=1, description="Minimum average revisions of a pair")
    insight_coupling_min_shared_revs: int = Field(default=5, ge=1, description="Minimum shared revisions of a pair")
    insight_coupling_min_degree: float = Field(default=0.30, gt=0, le=1, description="Minimum coupling degree")
    insight_coupling_max_changeset: int = Field(default=30, ge=2, description="Larger commits are not paired")
    # Knowledge risk (insight/knowledge.py): who counts as active, what an island is, blame processes.
    insight_active_days: int = Field(default=180, ge=1, description="An author with a commit this recent is active")
    insight_island_share: float = Field(default=0.95, gt=0.5, le=1, description="One active author's share of an island")
    insight_blame_workers: int = Field(default=2, ge=1, le=32, description="Parallel git blame processes")
    # Safety limits for uploaded .zip sources (DESIGN.md "Safety limits").
    zip_max_entries: int = Field(default=60_000, ge=1)
    zip_max_depth: int = Field(default=20, ge=1)
    zip_max_bytes: int = Field(default=1024**3, ge=1, description="Total uncompressed size")
    zip_max_ratio: float = Field(default=200.0, gt=1)
    upload_max_bytes: int = Field(default=512 * 1024**2, ge=1, description="Largest archive POST /uploads accepts")
    # Read API: searches kept per process (0 turns the cache off), how stale a cached answer may be
    # after a refresh, and Postgres connections per process (size it to the API's worker threads).
    search_cache_entries: int = Field(default=4096, ge=0, description="Search answers cached per process")
    search_cache_refresh_s: float = Field(default=1.0, ge=0, description="How often the index generation is re-read")
    db_pool_size: int = Field(default=10, ge=1, description="Postgres connections kept open per process")
    # Deployment (`repo-scoping up`, deploy/): where each process listens, and step parallelism per run.
    bind_host: str = Field(default="127.0.0.1", description="Interface the local deployment's servers listen on")
    code_server_port: int = Field(default=4266, ge=1, le=65535, description="Dagster gRPC code server")
    webserver_port: int = Field(default=3000, ge=1, le=65535, description="dagster-webserver (the UI)")
    api_port: int = Field(default=8000, ge=1, le=65535, description="The read API")
    executor_max_concurrent: int = Field(default=2, ge=1, description="Multiprocess executor: steps at once per run")
    executor: Literal["in_process", "multiprocess"] = Field(
        default="in_process",
        description="How a launched run executes its steps: each in its own process, or all in the run's process")

    @field_validator("llm_provider", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    # -- derived locations -------------------------------------------------------------
    @property
    def pgdata_dir(self) -> Path:
        return self.home / "pgdata"

    @property
    def milvus_data_dir(self) -> Path:
        return self.home / "milvus.db"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def checkouts(self) -> Path:
        return self.checkout_root or self.home / "checkouts"

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def allowed_host_list(self) -> list[str]:
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def allowed_local_path_list(self) -> list[Path]:
        return [Path(p.strip()).expanduser() for p in self.allowed_local_paths.split(",") if p.strip()]


def load_settings() -> Settings:
    """Read the environment; raise ConfigError naming the offending variable."""
    import os

    known = {f"REPO_SCOPING_{name.upper()}" for name in Settings.model_fields}
    unknown = sorted(k for k in os.environ if k.startswith("REPO_SCOPING_") and k not in known)
    if unknown:
        raise ConfigError(f"invalid configuration: unknown variable {', '.join(unknown)}")
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            problems.append(f"REPO_SCOPING_{field.upper()}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


_by_environment: dict[tuple, Settings] = {}


def get_settings() -> Settings:
    """load_settings() for the current REPO_SCOPING_* variables and working directory (the default
    home), parsed once per distinct environment: every Dagster step asks, and a parse is ~10 ms.
    Tests build their own Settings instead."""
    import os

    key = (os.getcwd(), tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("REPO_SCOPING_"))))
    settings = _by_environment.get(key)
    if settings is None:
        settings = _by_environment[key] = load_settings()
    return settings


get_settings.cache_clear = _by_environment.clear  # the functools.lru_cache spelling the tests use
