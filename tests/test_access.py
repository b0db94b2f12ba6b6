"""Access control: scoped bearer tokens (read < review < admin) made by the CLI, checked on every route."""

from __future__ import annotations

import io
import logging
import zipfile

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient
from pydantic import SecretStr

from repo_scoping_pipelines.api import create_app
from repo_scoping_pipelines.api.auth import is_loopback, resolve_read_auth
from repo_scoping_pipelines.cli import main
from repo_scoping_pipelines.storage import catalog
from repo_scoping_pipelines.storage.tables import api_tokens, repositories, review_decisions

BOOTSTRAP = "bootstrap-admin-token-0123456789abcdef"


def cli(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def create_token(name: str, scope: str) -> str:
    result = cli("token", "create", "--name", name, "--scope", scope)
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("svc/app.py", "def handle():\n    return 1\n")
    return buffer.getvalue()


def counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.execute(sa.select(sa.func.count()).select_from(repositories)).scalar_one(),
                conn.execute(sa.select(sa.func.count()).select_from(review_decisions)).scalar_one())


@pytest.fixture
def tokens(settings, services):
    return {"read": create_token("reader", "read"), "review": create_token("reviewer", "review"),
            "admin": create_token("operator", "admin")}


def _headers(who: str, tokens: dict) -> dict:
    if who == "none":
        return {}
    if who == "bad":
        return {"Authorization": "Bearer rsp_not-a-token-that-exists"}
    return {"Authorization": f"Bearer {tokens[who]}"}


RANK = {"none": -1, "bad": -1, "read": 0, "review": 1, "admin": 2}


@pytest.mark.parametrize("read_auth", [True, False])
def test_scope_matrix(settings, services, tokens, read_auth):
    """none / bad / read / review / admin x a read route / a review route / an admin route."""
    app = create_app(settings.model_copy(update={"read_auth": read_auth}))
    uploaded = 0
    with TestClient(app) as client:
        for who in ("none", "bad", "read", "review", "admin"):
            headers = _headers(who, tokens)
            before = counts(services.engine)

            read = client.get("/repositories", headers=headers)
            if read_auth and who in ("none", "bad"):
                assert read.status_code == 401 and read.json()["error"]["code"] == "unauthorized", who
            else:
                assert read.status_code == 200, (who, read.text)

            review = client.post("/reviews", headers=headers,
                                 json={"candidate_id": "cand_0000000000000000", "decision": "approve"})
            expected = 401 if RANK[who] < 0 else 403 if RANK[who] < 1 else 404  # 404: allowed, unknown candidate
            assert review.status_code == expected, (who, review.text)
            if expected == 403:
                assert review.json()["error"]["code"] == "forbidden" and "review" in review.json()["error"]["message"]

            name = f"svc-{who}-{read_auth}".lower()
            upload = client.post("/uploads", headers=headers, data={"name": name},
                                 files={"archive": ("repo.zip", io.BytesIO(zip_bytes()), "application/zip")})
            expected = 401 if RANK[who] < 0 else 403 if RANK[who] < 2 else 201
            assert upload.status_code == expected, (who, upload.text)
            if expected == 201:
                uploaded += 1
                assert catalog.get_repository(services.engine, name).source_kind == "zip"
            else:  # nothing written on a 401 or a 403
                assert counts(services.engine) == before, who
                assert tokens[who] not in upload.text if who in tokens else True
    assert uploaded == 1


def test_health_stays_open_and_bootstrap_token_is_admin(settings, services, tokens):
    app = create_app(settings.model_copy(update={"read_auth": True, "api_token": SecretStr(BOOTSTRAP)}))
    with TestClient(app) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/repositories").status_code == 401
        assert client.get("/repositories", headers={"Authorization": "Basic " + tokens["admin"]}).status_code == 401
        admin = {"Authorization": f"Bearer {BOOTSTRAP}"}
        assert client.get("/repositories", headers=admin).status_code == 200
        created = client.post("/uploads", headers=admin, data={"name": "boot"},
                              files={"archive": ("repo.zip", io.BytesIO(zip_bytes()), "application/zip")})
        assert created.status_code == 201, created.text
        # Routes added by any router are covered: every route but /health answers 401 without a token.
        for route in app.routes:
            path = getattr(route, "path", "")
            if "GET" not in getattr(route, "methods", ()) or path in ("/health", "/openapi.json", "/docs",
                                                                     "/docs/oauth2-redirect", "/redoc"):
                continue
            url = path.replace("{name}", "boot").replace("{run_id}", "0" * 32).replace("{candidate_id}", "x")
            url = url.replace("{conversation_id}", "x")
            url = "/".join(part if "{" not in part else "x" for part in url.split("/"))
            assert client.get(url).status_code == 401, path


def test_tokens_are_stored_hashed_listed_and_revoked(settings, services, caplog):
    caplog.set_level(logging.DEBUG)
    token = create_token("ci-bot", "read")
    assert token.startswith("rsp_") and len(token) >= 40
    with services.engine.connect() as conn:
        stored = [tuple(str(v) for v in row) for row in conn.execute(sa.select(api_tokens))]
    assert len(stored) == 1 and not any(token in value for value in stored[0])  # only its digest is kept

    again = cli("token", "create", "--name", "ci-bot", "--scope", "admin")
    assert again.exit_code != 0 and "already exists" in again.output
    assert cli("token", "create", "--name", "x", "--scope", "root").exit_code != 0

    app = create_app(settings.model_copy(update={"read_auth": True}))
    with TestClient(app) as client:
        assert client.get("/repositories", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        listed = cli("token", "list")
        assert listed.exit_code == 0 and "ci-bot" in listed.output and "read" in listed.output
        assert token not in listed.output and "never" not in listed.output  # last use recorded
        # Within the minute the use is recorded already: a request reads the token and writes nothing.
        writes = []

        def spy(conn, cursor, statement, *args):
            if statement.lstrip().upper().startswith("UPDATE") and "api_tokens" in statement:
                writes.append(statement)
        sa.event.listen(sa.engine.Engine, "before_cursor_execute", spy)
        try:
            for _ in range(3):
                assert client.get("/repositories", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert writes == []
            with services.engine.begin() as conn:  # a minute later, the next use is written again
                conn.execute(sa.update(api_tokens).values(last_used_at=sa.func.now() - sa.text("interval '2 minutes'")))
            writes.clear()
            assert client.get("/repositories", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert len(writes) == 1
        finally:
            sa.event.remove(sa.engine.Engine, "before_cursor_execute", spy)
        revoked = cli("token", "revoke", "ci-bot")
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/repositories", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert cli("token", "revoke", "ci-bot").exit_code == 1
    assert token not in caplog.text and token not in listed.output


def test_read_auth_defaults_on_beyond_loopback(settings):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.1.2.3") and not is_loopback("api.example.com")
    unset = settings.model_copy(update={"read_auth": None})
    assert resolve_read_auth(unset, "127.0.0.1").read_auth is False
    assert resolve_read_auth(unset, "0.0.0.0").read_auth is True
    assert resolve_read_auth(settings.model_copy(update={"read_auth": False}), "0.0.0.0").read_auth is False
