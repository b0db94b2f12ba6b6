"""GET /metrics/prometheus and the middleware that counts and times every request by route template."""

from __future__ import annotations

import os
import time

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from ..operations.telemetry import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    REGISTRY,
    DagsterRunsCollector,
    StoredFiguresCollector,
)
from ..services import open_services

router = APIRouter()
# prometheus-client's multiprocess mode: set before the worker processes start, each writes its
# counters under this folder and a scrape of any of them sums them all (`repo-scoping serve --workers`).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class PrometheusMiddleware:
    """Pure ASGI middleware: label by the matched route template (/repositories/{name}), never the raw path,
    so label cardinality stays bounded whatever clients send."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def _send(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(method, template, str(status["code"])).inc()
            HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - started)


def _dagster_instance(app: FastAPI):
    from .runs import dagster_instance_of

    return dagster_instance_of(app.state)


def install_prometheus(app: FastAPI) -> None:
    app.add_middleware(PrometheusMiddleware)
    local = CollectorRegistry(auto_describe=False)
    local.register(StoredFiguresCollector(lambda: open_services(app.state.settings).engine))
    local.register(DagsterRunsCollector(lambda: _dagster_instance(app)))
    app.state.prometheus_registry = local


@router.get("/metrics/prometheus", summary="Prometheus metrics (text exposition format)",
            response_class=Response,
            responses={200: {"description": "Prometheus text exposition format",
                             "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}})
def prometheus_metrics(request: Request) -> Response:
    if os.environ.get(MULTIPROC_ENV):  # several API worker processes: report all of them, summed
        everyone = CollectorRegistry()
        multiprocess.MultiProcessCollector(everyone)
        body = generate_latest(everyone)
    else:
        body = generate_latest(REGISTRY)
    local = getattr(request.app.state, "prometheus_registry", None)
    if local is not None:
        body += generate_latest(local)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
