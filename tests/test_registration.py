"""Registering repositories: bad input gives one clear error and writes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from repo_scoping_pipelines.collectors.registration import RegistrationError, register_repository
from repo_scoping_pipelines.config import ConfigError, Settings, load_settings
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage.tables import repositories


def _count(services) -> int:
    with services.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(repositories)).scalar_one()


def test_register_local_repository(services, make_repo):
    repo = make_repo("svc")
    stored = register_repository(services, "svc", str(repo.path / "."))
    assert (stored.name, stored.source_kind, stored.source) == ("svc", "local_path", str(repo.path))
    assert [r.name for r in catalog.list_repositories(services.engine)] == ["svc"]


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("bad name", "{repo}", "invalid repository name"),
        ("a/b", "{repo}", "invalid repository name"),
        ("", "{repo}", "invalid repository name"),
        ("ok", "{tmp}/not-a-repo", "not a git repository"),
        ("ok", "{tmp}/missing", "path does not exist"),
        ("ok", "ext::sh -c touch% /tmp/pwned", "transport not allowed"),
        ("ok", "ftp://example.com/x.git", "scheme 'ftp' not allowed"),
        ("ok", "file:///etc", "scheme 'file' not allowed"),
        ("ok", "https://git.example.com/x.git", "not in REPO_SCOPING_ALLOWED_HOSTS"),
        ("ok", "git@evil.example.com:x/y.git", "not in REPO_SCOPING_ALLOWED_HOSTS"),
        ("ok", "http://example.com/x.git", "plain http is only allowed for localhost"),
    ],
)
def test_bad_registrations_are_refused(services, make_repo, tmp_path, name, source, message):
    repo = make_repo("real")
    (tmp_path / "not-a-repo").mkdir()
    with pytest.raises(RegistrationError, match=message):
        register_repository(services, name, source.format(repo=repo.path, tmp=tmp_path))
    assert _count(services) == 0


def test_duplicate_name_is_refused_and_keeps_the_first(services, make_repo):
    first, second = make_repo("one"), make_repo("two")
    register_repository(services, "dup", str(first.path))
    with pytest.raises(RegistrationError, match="already registered"):
        register_repository(services, "dup", str(second.path))
    assert catalog.get_repository(services.engine, "dup").source == str(first.path)


def test_allowed_hosts_admit_remote_urls(settings, make_repo):
    from repo_scoping_pipelines.collectors.git import resolve_source

    allowed = Settings(**{**settings.model_dump(), "allowed_hosts": "github.com, git.example.com"})
    assert resolve_source("https://github.com/org/repo.git", allowed).kind == "git_url"
    assert resolve_source("git@git.example.com:org/repo.git", allowed).kind == "git_url"


def test_settings_fail_fast_naming_the_variable(monkeypatch):
    monkeypatch.setenv("REPO_SCOPING_EMBEDDING_PROVIDER", "word2vec")
    with pytest.raises(ConfigError, match="REPO_SCOPING_EMBEDDING_PROVIDER"):
        load_settings()
    monkeypatch.delenv("REPO_SCOPING_EMBEDDING_PROVIDER")
    monkeypatch.setenv("REPO_SCOPING_DATABSE_URL", "postgresql://typo")
    with pytest.raises(ConfigError, match="unknown variable REPO_SCOPING_DATABSE_URL"):
        load_settings()
