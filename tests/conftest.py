"""Shared fixtures: a fresh real Postgres database per test, Milvus Lite in a temp dir, real git repos."""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from repo_scoping_pipelines.config import Settings, get_settings
from repo_scoping_pipelines.services import close_all, open_services
from repo_scoping_pipelines.storage.db import make_engine, migrate

# The machine's PostgreSQL (trust auth); CI starts it when it is down.
ADMIN_URL = os.environ.get("RSP_TEST_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _admin_engine() -> sa.Engine:
    return sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")


def _db_url(name: str) -> str:
    return sa.make_url(ADMIN_URL).set(database=name, drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database():
    """A database with our migrations applied, cloned for every test (CREATE DATABASE ... TEMPLATE)."""
    name = f"rsp_tmpl_{uuid.uuid4().hex[:10]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(Settings(database_url=_db_url(name), home=Path("/nonexistent")))
    migrate(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(template_database):
    name = f"rsp_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    yield _db_url(name)
    close_all()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Tests never see the developer's REPO_SCOPING_* variables or DAGSTER_HOME."""
    for key in list(os.environ):
        if key.startswith("REPO_SCOPING_") or key == "DAGSTER_HOME":
            monkeypatch.delenv(key, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path, database_url, monkeypatch) -> Settings:
    """Settings for one test, also exported as environment for code that reads it there."""
    values = {
        "home": str(tmp_path / "var"),
        "database_url": database_url,
        "milvus_uri": str(tmp_path / "milvus.db"),  # a local path: Milvus Lite in this process
    }
    for key, value in values.items():
        monkeypatch.setenv(f"REPO_SCOPING_{key.upper()}", value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "var" / "dagster"))
    return Settings(**values)


@pytest.fixture
def services(settings):
    svc = open_services(settings)
    yield svc
    close_all()


@dataclass
class GitRepo:
    """A real git repository made by a test."""

    path: Path

    def git(self, *args: str, env: dict | None = None) -> str:
        full_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path.parent), **(env or {})}
        return subprocess.run(["git", *args], cwd=self.path, env=full_env, check=True, capture_output=True,
                              text=True).stdout

    def write(self, files: dict[str, str | bytes]) -> None:
        for rel, content in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content if isinstance(content, bytes) else content.encode())

    def commit(self, files: dict[str, str | bytes] | None = None, message: str = "change", *,
               author: str = "Ada Lovelace <ada@example.com>", date: str | None = None,
               remove: list[str] | None = None) -> str:
        if files:
            self.write(files)
        for rel in remove or []:
            self.git("rm", "-q", rel)
        self.git("add", "-A")
        name, email = author.rsplit(" <", 1)
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">"),
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email.rstrip(">")}
        if date:
            env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        self.git("commit", "-q", "--allow-empty", "-m", message, env=env)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()


@pytest.fixture
def make_repo(tmp_path):
    """make_repo(name, files) -> GitRepo with one initial commit of `files` on branch main."""

    def _make(name: str = "sample", files: dict[str, str | bytes] | None = None, *, empty: bool = False) -> GitRepo:
        path = tmp_path / "sources" / name
        path.mkdir(parents=True)
        repo = GitRepo(path)
        repo.git("init", "-q", "-b", "main")
        repo.git("config", "user.name", "Test")
        repo.git("config", "user.email", "test@example.com")
        if not empty:
            repo.commit(files or {"README.md": "# Sample\n"}, "initial commit")
        return repo

    return _make
