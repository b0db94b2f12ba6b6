"""Prometheus metrics (prometheus-client), in one registry of our own.

In-process instruments (requests, search latency, runs) are updated where the work happens;
figures that live in Postgres (guardrail counters, stored rows per asset) are read at scrape
time by a collector, cached briefly, so every process reports the same numbers.
"""

from __future__ import annotations

import threading
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

REGISTRY = CollectorRegistry(auto_describe=True)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("repo_scoping_http_requests_total", "API requests by route template, method and status",
                        ["method", "route", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("repo_scoping_http_request_duration_seconds", "API request latency by route template",
                         ["method", "route"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
SEARCH_LATENCY = Histogram("repo_scoping_search_duration_seconds", "Search latency by mode and backend",
                           ["mode", "backend"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
SEARCH_FALLBACKS = Counter("repo_scoping_search_fallbacks_total",
                           "Searches served by Postgres keyword search because Milvus failed", registry=REGISTRY)
SEARCH_CACHE = Counter("repo_scoping_search_cache_total",
                       "Milvus searches answered from this process's search cache (hit) or not (miss)",
                       ["outcome"], registry=REGISTRY)
RUNS = Counter("repo_scoping_refresh_runs_total", "Refresh runs in this process by outcome", ["outcome"],
               registry=REGISTRY)
RUN_DURATION = Histogram("repo_scoping_refresh_run_duration_seconds", "Refresh run duration",
                         buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600), registry=REGISTRY)
MATERIALIZED_ROWS = Counter("repo_scoping_materialized_rows_total",
                            "Rows reported by materializations in this process, by asset", ["asset"],
                            registry=REGISTRY)
# /ask (issue 14): answers by mode and outcome, time to the sources event and to the first answer text,
# LLM tokens spent on answers.
ASKS = Counter("repo_scoping_asks_total", "Questions answered by /ask and `repo-scoping ask`, by mode and outcome",
               ["mode", "outcome"], registry=REGISTRY)
ASK_SOURCES_LATENCY = Histogram("repo_scoping_ask_sources_seconds", "Time from the question to its numbered sources",
                                ["mode"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
ASK_FIRST_TOKEN = Histogram("repo_scoping_ask_first_token_seconds", "Time from the question to the first answer text",
                            ["mode"], buckets=_LATENCY_BUCKETS, registry=REGISTRY)
ASK_TOKENS = Counter("repo_scoping_ask_llm_tokens_total", "LLM tokens spent on answers, by kind (prompt, completion)",
                     ["kind"], registry=REGISTRY)


def record_run(success: bool, seconds: float, rows: dict[str, object]) -> None:
    RUNS.labels("success" if success else "failure").inc()
    RUN_DURATION.observe(seconds)
    for asset, count in rows.items():
        if isinstance(count, (int, float)) and count >= 0:
            MATERIALIZED_ROWS.labels(asset).inc(count)


class _Recent:
    """The last result of `compute`, reused for `ttl_s` seconds: scrapers ask every few seconds, and
    the figures come from queries. A failed computation is not kept."""

    def __init__(self, ttl_s: float = 15.0) -> None:
        self.ttl_s = ttl_s
        self._at, self._value = 0.0, None
        self._lock = threading.Lock()

    def get(self, compute):
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl_s:
                self._value, self._at = compute(), time.monotonic()
            return self._value


class StoredFiguresCollector:
    """Guardrail counters and stored rows per asset table, read from Postgres at scrape time."""

    def __init__(self, engine_factory) -> None:
        self._engine_factory = engine_factory
        self._recent = _Recent()

    def _figures(self) -> tuple[dict, dict]:
        from repo_scoping_pipelines.storage.operations import guardrail_counts, table_row_counts

        engine = self._engine_factory()
        return guardrail_counts(engine), table_row_counts(engine)

    def collect(self):
        try:
            guardrails, rows = self._recent.get(self._figures)
        except Exception:  # the database is down: /metrics still answers, without these families
            up = GaugeMetricFamily("repo_scoping_database_up", "Whether Postgres answered the last scrape")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("repo_scoping_database_up", "Whether Postgres answered the last scrape")
        up.add_metric([], 1)
        yield up
        family = GaugeMetricFamily("repo_scoping_guardrail_events", "Guardrail events stored, by counter",
                                   labels=["counter"])
        for counter, count in sorted(guardrails.items()):
            family.add_metric([counter], count)
        yield family
        stored = GaugeMetricFamily("repo_scoping_stored_rows", "Rows stored per table of the project's schema",
                                   labels=["table"])
        for table, count in sorted(rows.items()):
            stored.add_metric([table], count)
        yield stored


class DagsterRunsCollector:
    """Refresh runs and materialized partitions read from the Dagster instance at scrape time, so an
    API scraped while the daemon does the runs reports them (the in-process counters above only see
    runs of this process)."""

    RECENT_RUNS = 500  # the duration summary covers the latest finished refresh runs

    def __init__(self, instance_factory) -> None:
        self._instance_factory = instance_factory
        self._recent = _Recent()

    def _families(self) -> list:
        import dagster as dg
        from prometheus_client.core import SummaryMetricFamily

        from repo_scoping_pipelines.operations.runs import FINISHED, REFRESH_JOB, count_by_status

        instance = self._instance_factory()
        runs = GaugeMetricFamily("repo_scoping_dagster_refresh_runs",
                                 "Refresh runs recorded in the Dagster instance (any process, daemon included), "
                                 "by status", labels=["status"])
        for status, count in count_by_status(instance, REFRESH_JOB).items():
            runs.add_metric([status], count)
        durations = [r.end_time - r.start_time for r in instance.get_run_records(
            dg.RunsFilter(job_name=REFRESH_JOB, statuses=list(FINISHED)), limit=self.RECENT_RUNS)
            if r.start_time and r.end_time]
        duration = SummaryMetricFamily("repo_scoping_dagster_refresh_run_seconds",
                                       f"Duration of the latest {self.RECENT_RUNS} finished refresh runs",
                                       count_value=len(durations), sum_value=round(sum(durations), 3))
        partitions = GaugeMetricFamily("repo_scoping_dagster_materialized_partitions",
                                       "Partitions with at least one materialization, by asset", labels=["asset"])
        from repo_scoping_pipelines.definitions import defs

        job = defs.resolve_job_def(REFRESH_JOB)
        for key in sorted(job.asset_layer.selected_asset_keys, key=lambda k: k.to_user_string()):
            count = len(instance.event_log_storage.get_materialized_partitions(key))
            partitions.add_metric([key.to_user_string()], count)
        return [runs, duration, partitions]

    def collect(self):
        try:
            families = self._recent.get(self._families)
        except Exception:  # instance storage down: the scrape still answers, without these families
            return
        yield from families
