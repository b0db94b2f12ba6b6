"""/repositories/{name}/facts and /repositories/{name}/graph."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from ..facts import KINDS
from ..services import Services
from ..storage import catalog
from ..storage import facts as fact_store
from .deps import services
from .errors import ApiError
from .models import FactList, Graph, error_responses, unvalidated_json

router = APIRouter()


@router.get("/repositories/{name}/facts", summary="Observed facts with evidence (path, line)",
            response_model=FactList, responses=error_responses(400, 404, 503))
def repository_facts(
    name: str,
    kind: str | None = Query(None, max_length=40, description=f"One of: {', '.join(KINDS)}"),
    limit: int = Query(1000, ge=1, le=10000),
    offset: int = Query(0, ge=0),
    svc: Services = Depends(services),
) -> Response:
    """Facts of the latest snapshot: kind, subject, value, evidence {path, line}, confidence, commit."""
    repo = catalog.get_repository(svc.reader, name)
    if kind is not None and kind not in KINDS:
        raise ApiError(400, "invalid_request", f"kind: unknown fact kind {kind!r} (known: {', '.join(KINDS)})")
    rows, total = fact_store.list_facts(svc.reader, repo.id, kind, limit=limit, offset=offset)
    return unvalidated_json({  # up to 10,000 facts: see models.unvalidated_json
        "repository": name,
        "total": total,
        "facts": [{"kind": r["kind"], "subject": r["subject"], "value": r["value"],
                   "evidence": {"path": r["path"], "line": r["line"]}, "confidence": r["confidence"],
                   "commit": r["commit_sha"]} for r in rows],
    })


@router.get("/repositories/{name}/graph", summary="Import graph: modules and import edges",
            response_model=Graph, responses=error_responses(400, 404, 503))
def repository_graph(
    name: str,
    internal_only: bool = Query(False, description="Leave out external and standard-library packages"),
    svc: Services = Depends(services),
) -> Response:
    """Nodes (language, lines, in/out degree, PageRank and rank) and edges (internal, external or stdlib,
    with the importing file and line as evidence)."""
    repo = catalog.get_repository(svc.reader, name)
    nodes, edges = fact_store.load_graph(svc.reader, repo.id)
    if internal_only:
        nodes = [n for n in nodes if n["internal"]]
        edges = [e for e in edges if e["kind"] == "internal"]
    snapshot = catalog.latest_snapshot(svc.reader, repo.id)
    return unvalidated_json({  # every module and import of the repository: see models.unvalidated_json
        "repository": name,
        "commit": snapshot["commit_sha"] if snapshot else None,
        "nodes": [{"id": n["node_id"], "name": n["name"], "path": n["path"], "language": n["language"],
                   "kind": n["kind"], "internal": n["internal"], "lines": n["lines"], "files": n["files"],
                   "in_degree": n["in_degree"], "out_degree": n["out_degree"], "pagerank": n["pagerank"],
                   "rank": n["rank"]} for n in nodes],
        "edges": [{"source": e["source"], "target": e["target"], "kind": e["kind"], "count": e["count"],
                   "evidence": {"path": e["path"], "line": e["line"]}} for e in edges],
    })
