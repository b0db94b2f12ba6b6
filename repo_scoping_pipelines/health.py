"""Health of each part: database, milvus, checkout root, dagster instance."""

from __future__ import annotations

import shutil
import time

import sqlalchemy as sa

from .config import Settings
from .redaction import redact


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check() or {}
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1), **detail}
    except Exception as exc:  # a health probe reports every failure instead of raising
        return {"ok": False, "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "error": redact(f"{type(exc).__name__}: {exc}")[:300]}


def health_report(settings: Settings, services_factory) -> dict:
    """{"status": ok|degraded, "database": {...}, "milvus": {...}, "checkout_root": {...}, "dagster": {...}}."""
    state: dict = {}

    def database():
        services = services_factory(settings)
        state["services"] = services
        with services.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            repos = conn.execute(sa.text("SELECT count(*) FROM repo_scoping.repositories")).scalar_one()
        return {"embedded": settings.embedded_database, "repositories": repos}

    def milvus():
        services = state.get("services") or services_factory(settings)
        collections = services.vectors.ping()
        return {"embedded": settings.milvus_uri is None, "collections": len(collections),
                "collection": services.collection}

    def checkout_root():
        root = settings.checkouts
        root.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(root)
        return {"path": str(root), "writable": True, "free_gb": round(usage.free / 2**30, 1)}

    def dagster():
        from .dagster_instance import dagster_instance

        with dagster_instance(settings) as instance:
            partitions = instance.get_dynamic_partitions("repositories")
            heartbeats = instance.get_daemon_heartbeats() if hasattr(instance, "get_daemon_heartbeats") else {}
        return {"partitions": len(partitions),
                "daemon_heartbeats": {k: v.timestamp for k, v in (heartbeats or {}).items()}}

    parts = {"database": _timed(database)}
    parts["milvus"] = _timed(milvus) if parts["database"]["ok"] else {"ok": False, "error": "database unavailable"}
    parts["checkout_root"] = _timed(checkout_root)
    parts["dagster"] = _timed(dagster) if parts["database"]["ok"] else {"ok": False, "error": "database unavailable"}
    status = "ok" if all(p["ok"] for p in parts.values()) else "degraded"
    return {"status": status, **parts}
