"""Uploaded .zip sources: register, refresh, search; hostile archives are refused with nothing stored."""

from __future__ import annotations

import io
import stat
import subprocess
import zipfile

import dagster as dg
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr
from samples import SAMPLE_FILES

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.collectors.registration import RegistrationError, register_repository
from repo_scoping_pipelines.collectors.zip_source import archive_sha256
from repo_scoping_pipelines.operations.refresh import refresh_in_process
from repo_scoping_pipelines.search.query import search_code
from repo_scoping_pipelines.services import open_services
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage.tables import files, repositories


def make_zip(path, entries: dict[str, str | bytes], *, links: dict[str, str] | None = None,
             compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def _repository_count(services) -> int:
    with services.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(repositories)).scalar_one()


CORE = {"repository_snapshot", "content_chunks", "chunk_embeddings"}


def refreshed(instance, name):
    """Refresh through the whole job: a zip source has no history, and every stage still succeeds."""
    outcome = refresh_in_process(instance, name)
    assert outcome.success, outcome.error
    assert set(outcome.assets) >= CORE
    history = outcome.assets["commit_history"]
    # No history; on a rerun of the same snapshot the gate skips it (its last result stands).
    assert history.get("mode") == "no_history" or history.get("skipped") is True, history
    return outcome


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def test_zip_register_refresh_search(services, instance, tmp_path, make_repo):
    archive = make_zip(tmp_path / "payments.zip", {f"payments-main/{p}": c for p, c in SAMPLE_FILES.items()},
                       links={"payments-main/docs/link.md": "../README.md"})
    repo = register_repository(services, "payments", str(archive))
    assert repo.source_kind == "zip"
    stored = services.settings.home / "uploads" / f"{archive_sha256(archive)}.zip"
    assert repo.source == str(stored) and stored.exists()  # the source survives the upload

    outcome = refreshed(instance, "payments")
    snap = outcome.assets["repository_snapshot"]
    assert snap["commit"] == f"zip:{archive_sha256(archive)}"
    assert snap["dagster/row_count"] == len(SAMPLE_FILES) + 1

    # Content hashes are git blob hashes: the same file has the same hash from git or from a zip.
    twin = make_repo("twin", SAMPLE_FILES)
    with services.engine.connect() as conn:
        rows = {r.path: r for r in conn.execute(sa.select(files).where(files.c.repository_id == repo.id))}
    assert rows["cmd/main.go"].content_hash == twin.git("rev-parse", "HEAD:cmd/main.go").strip()
    assert rows["logo.png"].skip_reason == "binary"
    assert rows["docs/link.md"].is_symlink and rows["docs/link.md"].skip_reason == "symlink"
    hits = search_code(services, "compute invoice total with tax", repository="payments")
    assert hits[0]["symbol"] == "compute_invoice_total" and (hits[0]["start_line"], hits[0]["end_line"]) == (5, 7)

    again = refreshed(instance, "payments")  # same archive: a cache hit, nothing re-read
    assert again.assets["repository_snapshot"]["new_snapshot"] is False
    assert again.assets["repository_snapshot"]["files_unchanged"] == len(SAMPLE_FILES) + 1
    assert again.assets["chunk_embeddings"]["skipped"] is True  # same snapshot: nothing to embed


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _bomb(path):
    return make_zip(path, {"big.txt": b"\0" * (20 * 1024 * 1024)})


HOSTILE = [
    ("bomb", _bomb, "compression ratio"),
    ("traversal", lambda p: make_zip(p, {"ok.txt": "x", "../../evil.py": "print('owned')"}), "'..'"),
    ("absolute", lambda p: make_zip(p, {"/etc/cron.d/evil": "* * * * * root id"}), "absolute path"),
    ("symlink-out", lambda p: make_zip(p, {"a.txt": "x"}, links={"passwd": "/etc/passwd"}), "points outside"),
    ("symlink-up", lambda p: make_zip(p, {"a/b.txt": "x"}, links={"a/up": "../../etc/passwd"}), "points outside"),
    ("windows", lambda p: make_zip(p, {"src/CON.txt": "x"}), "Windows reserved"),
    ("entries", lambda p: make_zip(p, {f"f{i}.txt": "x" for i in range(20)}), "entries"),
    ("depth", lambda p: make_zip(p, {"a/b/c/d/e/f.txt": "x"}), "levels deep"),
    ("size", lambda p: make_zip(p, {"a.bin": b"0123456789abcdef" * 70_000}, compression=zipfile.ZIP_STORED),
     "limit of 1000000 bytes"),
    ("not-a-zip", lambda p: _write(p, b"PK\x03\x04 this is not really a zip"), "not a zip archive"),
]


@pytest.mark.parametrize(("label", "build", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_archives_are_refused(settings, tmp_path, label, build, message):
    limited = settings.model_copy(update={"zip_max_entries": 10, "zip_max_depth": 4, "zip_max_bytes": 1_000_000})
    services = open_services(limited)
    archive = build(tmp_path / f"{label}.zip")
    with pytest.raises(RegistrationError, match=message):
        register_repository(services, "hostile", str(archive))
    assert _repository_count(services) == 0
    assert not list((limited.home / "uploads").glob("*.zip")) if (limited.home / "uploads").exists() else True
    assert not (tmp_path / "evil.py").exists() and not (tmp_path.parent / "evil.py").exists()


def _multipart(name: str, data: bytes, **extra) -> dict:
    return {"data": {"name": name, **extra}, "files": {"archive": ("repo.zip", io.BytesIO(data), "application/zip")}}


def test_upload_endpoint(settings, services, tmp_path, instance):
    token = "a-long-operator-token-0123456789"
    secured = settings.model_copy(update={"api_token": SecretStr(token)})
    archive = make_zip(tmp_path / "up.zip", {"svc/app.py": "def handle_upload_request():\n    return 1\n"})
    data = archive.read_bytes()
    with TestClient(create_app(secured)) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"}):
            refused = client.post("/uploads", headers=headers, **_multipart("svc", data))
            assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
        assert _repository_count(services) == 0
        assert not (secured.home / "uploads").exists() or not list((secured.home / "uploads").glob("*.zip"))

        auth = {"Authorization": f"Bearer {token}"}
        created = client.post("/uploads", headers=auth, **_multipart("svc", data))
        assert created.status_code == 201, created.text
        assert created.json()["archive_sha256"] == archive_sha256(archive)
        # No daemon here: nothing is queued silently, and the answer says how to refresh instead.
        assert created.json()["run_id"] is None
        assert "dagster-daemon" in created.json()["next"] and "repo-scoping refresh svc" in created.json()["next"]
        assert catalog.get_repository(services.engine, "svc").source_kind == "zip"

        dup = client.post("/uploads", headers=auth, **_multipart("svc", data))
        assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
        bomb = client.post("/uploads", headers=auth, **_multipart("bomb", _bomb(tmp_path / "b.zip").read_bytes()))
        assert bomb.status_code == 400 and "compression ratio" in bomb.json()["error"]["message"]
        assert client.post("/uploads", headers=auth, data={"name": "x"}).status_code == 400

    first = refreshed(instance, "svc")
    # The same archive uploaded again (replace) is a cache hit: same snapshot, nothing re-chunked.
    with TestClient(create_app(secured)) as client:
        again = client.post("/uploads", headers=auth, **_multipart("svc", data, replace="true"))
        assert again.status_code == 201
    second = refreshed(instance, "svc")
    assert second.assets["repository_snapshot"]["commit"] == first.assets["repository_snapshot"]["commit"]
    assert second.assets["repository_snapshot"]["new_snapshot"] is False
    assert second.assets["content_chunks"]["skipped"] is True


def test_git_hash_matches_hash_object(tmp_path):
    from repo_scoping_pipelines.collectors.zip_source import git_blob_hash

    data = b"caf\xc3\xa9\n\xff\xfe binary-ish"
    (tmp_path / "f").write_bytes(data)
    expected = subprocess.run(["git", "hash-object", str(tmp_path / "f")], capture_output=True, text=True,
                              check=True).stdout.strip()
    assert git_blob_hash(data) == expected
