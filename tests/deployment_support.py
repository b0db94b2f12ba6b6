"""Helpers for the deployment tests: a deployment home wired to the test Postgres and a Milvus Lite server."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable
from pathlib import Path

from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.operations.embedded import ensure_milvus_server


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def deployment_settings(tmp_path: Path, database_url: str, monkeypatch) -> tuple[Settings, Settings]:
    """(settings of the deployment, settings owning its Milvus Lite server), exported as REPO_SCOPING_*.

    The run workers are separate processes, so Milvus must be a server every process reaches by URI.
    """
    milvus_owner = Settings(home=tmp_path / "milvus-home")
    uri = ensure_milvus_server(milvus_owner)
    values = {
        "home": str(tmp_path / "var"), "database_url": database_url, "milvus_uri": uri,
        "code_server_port": free_port(), "webserver_port": free_port(), "api_port": free_port(),
    }
    for key, value in values.items():
        monkeypatch.setenv(f"REPO_SCOPING_{key.upper()}", str(value))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "var" / "dagster"))
    return Settings(**values), milvus_owner


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str, interval_s: float = 1.0,
             describe: Callable[[], str] | None = None):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{describe()}" if describe else ""
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}{detail}")
        time.sleep(interval_s)
