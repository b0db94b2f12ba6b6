"""Health of each part: database, milvus, checkout root, dagster instance, runs, guardrails, configuration."""

from __future__ import annotations

import contextlib
import shutil
import time

import sqlalchemy as sa

from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.safety.redaction import redact


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check() or {}
        return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 1), **detail}
    except Exception as exc:  # a health probe reports every failure instead of raising
        return {"ok": False, "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "error": redact(f"{type(exc).__name__}: {exc}")[:300]}


def health_report(settings: Settings, services_factory, instance_factory=None) -> dict:
    """{"status": ok|degraded, "database", "milvus", "checkout_root", "dagster", "runs" (last per asset),
    "guardrails" (counters), "configuration" (placeholder secrets, non-HTTPS remotes)}; never raises.

    `instance_factory` gives a Dagster instance the caller keeps open (the API's); without it one is
    opened for this report and closed after it."""
    with contextlib.ExitStack() as stack:
        return _health_report(settings, services_factory, instance_factory, stack)


def _health_report(settings: Settings, services_factory, instance_factory, stack: contextlib.ExitStack) -> dict:
    state: dict = {}

    def instance():
        if "instance" not in state:
            if instance_factory is not None:
                state["instance"] = instance_factory()
            else:
                from repo_scoping_pipelines.operations.dagster_instance import dagster_instance

                state["instance"] = stack.enter_context(dagster_instance(settings))
        return state["instance"]

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
        partitions = instance().get_dynamic_partitions("repositories")
        heartbeats = instance().get_daemon_heartbeats()
        return {"partitions": len(partitions),
                "daemon_heartbeats": {k: v.timestamp for k, v in (heartbeats or {}).items()},
                "daemon": daemon_liveness(heartbeats or {})}

    def runs():
        return last_runs(instance())

    def guardrails():
        from repo_scoping_pipelines.storage.abilities import latest_runs
        from repo_scoping_pipelines.storage.operations import guardrail_counts

        engine = state["services"].engine
        # Per run: the latest ability_candidates run of each repository (LLM outcome, tokens, counters).
        return {"counters": guardrail_counts(engine), "ability_runs": latest_runs(engine)}

    def milvus_checked():
        try:
            return milvus()
        except Exception:
            services = state.get("services")
            if services is not None:
                services.reset_vectors()  # reconnect on the next probe rather than reuse a dead channel
            raise

    down = {"ok": False, "error": "database unavailable"}
    parts = {"database": _timed(database)}
    db_ok = parts["database"]["ok"]
    parts["milvus"] = _timed(milvus_checked) if db_ok else dict(down)
    parts["checkout_root"] = _timed(checkout_root)
    parts["dagster"] = _timed(dagster) if db_ok else dict(down)
    parts["runs"] = _timed(runs) if db_ok else dict(down)
    parts["guardrails"] = _timed(guardrails) if db_ok else dict(down)
    parts["configuration"] = configuration_checks(settings, state.get("services") if db_ok else None)
    parts["llm_runtime"] = llm_runtime(settings)
    status = "ok" if all(p["ok"] for p in parts.values()) else "degraded"
    return {"status": status, **parts}


def llm_runtime(settings: Settings) -> dict:
    """The configured OpenAI-compatible server (abilities and /ask): reachable, the model listed by its
    GET /models, latency; `not_configured` (and ok) when no model is set."""
    if settings.llm_provider != "openai" or not settings.llm_model:
        return {"ok": True, "status": "not_configured"}
    started = time.perf_counter()
    try:
        from repo_scoping_pipelines.ask.llm import list_models

        models = list_models(settings)
    except Exception as exc:  # down, refusing, not allowed by egress: report it, never raise
        return {"ok": False, "status": "unreachable", "model": settings.llm_model,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
                "error": redact(f"{type(exc).__name__}: {exc}")[:300]}
    listed = settings.llm_model in models
    return {"ok": listed, "status": "reachable" if listed else "model_not_listed", "model": settings.llm_model,
            "model_listed": listed, "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            **({} if listed else {"error": f"the server does not list {settings.llm_model!r} at GET /models"})}


# dagster-daemon beats every 30 s: two missed beats (and a little slack) and it counts as down.
DAEMON_HEARTBEAT_TOLERANCE_S = 75.0


def daemon_liveness(heartbeats: dict) -> dict:
    """{"alive", "heartbeat_age_s", "daemons"} from the instance's daemon heartbeats (none: never ran).

    Informational: the read API and in-process refreshes work without a daemon, so a dead daemon does
    not degrade the report; `repo-scoping status` and the deployment's probes act on it.
    """
    if not heartbeats:
        return {"alive": False, "heartbeat_age_s": None, "daemons": []}
    age = round(time.time() - max(h.timestamp for h in heartbeats.values()), 1)
    return {"alive": age <= DAEMON_HEARTBEAT_TOLERANCE_S, "heartbeat_age_s": age, "daemons": sorted(heartbeats)}


def last_runs(instance) -> dict:
    """The latest materialization of every asset (when, which partition, run, rows) and the latest runs."""
    from repo_scoping_pipelines.definitions import defs
    from repo_scoping_pipelines.operations.runs import count_by_status

    keys = sorted(defs.resolve_all_asset_keys(), key=lambda k: k.to_user_string())
    # One asset-records read for every asset (the latest materialization of each is in its entry).
    latest_of = {r.asset_entry.asset_key: r.asset_entry.last_materialization
                 for r in instance.get_asset_records(keys)}
    assets: dict[str, dict | None] = {}
    for key in keys:
        record = latest_of.get(key)
        if record is None:
            assets[key.to_user_string()] = None
            continue
        materialization = record.asset_materialization
        rows = materialization.metadata.get("dagster/row_count") if materialization else None
        assets[key.to_user_string()] = {
            "at": record.timestamp, "run_id": record.run_id,
            "partition": materialization.partition if materialization else None,
            "rows": getattr(rows, "value", None)}
    latest = [{"run_id": r.dagster_run.run_id, "job": r.dagster_run.job_name,
               "status": r.dagster_run.status.value, "partition": r.dagster_run.tags.get("dagster/partition"),
               "updated_at": r.update_timestamp.isoformat()} for r in instance.get_run_records(limit=5)]
    counts = count_by_status(instance)  # queued, started, success, failure, canceled
    return {"assets": assets, "latest_runs": latest, "counts": counts}


PLACEHOLDERS = {"changeme", "change-me", "change_me", "placeholder", "secret", "password", "token", "xxx", "xxxx",
                "todo", "example", "test", "dummy", "default", "admin", "none", "null", "replace-me", "your-token",
                "your_token", "your-api-key", "sk-xxx", "unused"}


def _placeholder(value: str) -> bool:
    lowered = value.strip().lower()
    return (lowered in PLACEHOLDERS or lowered.startswith(("<", "your", "changeme", "replace"))
            or len(set(lowered)) <= 2)


def configuration_checks(settings: Settings, services=None) -> dict:
    """Placeholder secrets, plain-http or disallowed remotes: each issue names the variable or repository."""
    from urllib.parse import urlsplit

    from repo_scoping_pipelines.safety.egress import LOCAL_HOSTS, EgressError, check_url

    issues: list[dict] = []
    secrets = {"REPO_SCOPING_API_TOKEN": settings.api_token, "REPO_SCOPING_OPENAI_API_KEY": settings.openai_api_key,
               "REPO_SCOPING_GITHUB_TOKEN": settings.github_token,
               "REPO_SCOPING_REDMINE_API_KEY": settings.redmine_api_key,
               "REPO_SCOPING_MILVUS_TOKEN": settings.milvus_token}
    for variable, secret in secrets.items():
        if secret is not None and _placeholder(secret.get_secret_value()):
            issues.append({"check": "placeholder_secret", "variable": variable,
                           "message": f"{variable} looks like a placeholder; set a real secret"})
    if settings.api_token is not None and not _placeholder(settings.api_token.get_secret_value()) \
            and len(settings.api_token.get_secret_value()) < 16:
        issues.append({"check": "weak_secret", "variable": "REPO_SCOPING_API_TOKEN",
                       "message": "REPO_SCOPING_API_TOKEN is shorter than 16 characters"})
    if settings.database_url is not None:
        from sqlalchemy.engine import make_url

        try:
            password = make_url(settings.database_url.get_secret_value()).password
        except Exception:
            password = None
        if password and _placeholder(password):
            issues.append({"check": "placeholder_secret", "variable": "REPO_SCOPING_DATABASE_URL",
                           "message": "the database password looks like a placeholder"})
    for variable, url in (("REPO_SCOPING_REDMINE_URL", settings.redmine_url),
                          ("REPO_SCOPING_LLM_BASE_URL", settings.llm_base_url)):
        if url:
            try:
                check_url(url, settings, variable)
            except EgressError as exc:
                issues.append({"check": "remote", "variable": variable, "message": str(exc)})
    if services is not None:
        from repo_scoping_pipelines.storage import catalog

        try:
            for repo in catalog.list_repositories(services.engine):
                parts = urlsplit(repo.source) if "://" in repo.source else None
                if parts and parts.scheme == "http" and (parts.hostname or "") not in LOCAL_HOSTS:
                    issues.append({"check": "non_https_remote", "repository": repo.name,
                                   "message": f"repository {repo.name!r} is fetched over plain http"})
        except Exception:  # reported by the database part already
            pass
    return {"ok": not issues, "issues": issues}
