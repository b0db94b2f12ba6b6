"""/metrics/hotspots, /metrics/coupling (change_insight), /metrics/knowledge and /metrics/codeowners
(knowledge_risk), issue 16."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from ..services import Services
from ..storage import catalog
from ..storage import cross_coupling as cross_store
from ..storage import insight as store
from .deps import services
from .errors import ApiError
from .models import CodeownersResponse, CouplingResponse, HotspotsResponse, KnowledgeResponse, error_responses

router = APIRouter()


@router.get("/metrics/hotspots", summary="Files that change often and are complex, ranked",
            response_model=HotspotsResponse, responses=error_responses(400, 404, 503))
def metrics_hotspots(repository: str = Query(..., min_length=1, max_length=100),
                     window: Literal["30d", "90d", "365d", "all"] = "90d",
                     limit: int = Query(50, ge=1, le=1000), svc: Services = Depends(services)) -> dict:
    """score = revisions x complexity. Revisions: non-merge commits of the default branch that touched
    the file (renames followed) in the window ending at the newest commit; complexity: the file's
    cyclomatic complexity at the head (functions + decision points, from its syntax tree); trend
    compares with the window before."""
    repo = catalog.get_repository(svc.reader, repository)
    return {"repository": repo.name, "window": window,
            "hotspots": store.list_hotspots(svc.reader, repo.id, window, limit)}


@router.get("/metrics/coupling", summary="Pairs of files that change in the same commits",
            response_model=CouplingResponse, responses=error_responses(400, 404, 503))
def metrics_coupling(repository: str = Query(..., min_length=1, max_length=100),
                     path: str | None = Query(None, max_length=4096, description="Only pairs with this file"),
                     scope: Literal["within", "cross"] = Query(
                         "within", description="within: pairs of this repository's files (change_insight); "
                                               "cross: this repository's files paired with other repositories' "
                                               "files through shared issue keys (cross_repository_coupling)"),
                     limit: int = Query(50, ge=1, le=1000), svc: Services = Depends(services)) -> dict:
    """degree = shared commits / average commits of the two files (code-maat), over commits of at most
    REPO_SCOPING_INSIGHT_COUPLING_MAX_CHANGESET files, pairs above the configured minimums.

    scope=cross: a change set is every file of one repository changed by the commits whose subject names
    one issue key (Jira-style `PAY-123`, or a qualified `owner/repo#123`; a bare `#123` is per repository
    and never couples repositories); revisions and shared revisions count issue keys, with the same
    minimums and maximum change-set size. Side a is always `repository`."""
    repo = catalog.get_repository(svc.reader, repository)
    if scope == "cross":
        return {"repository": repo.name, "scope": "cross",
                "pairs": cross_store.list_cross_coupling(svc.reader, repo.id, path, limit)}
    return {"repository": repo.name, "scope": "within",
            "pairs": store.list_coupling(svc.reader, repo.id, path, limit)}


@router.get("/metrics/knowledge", summary="Knowledge risk of a file or folder: active share, islands, bus factor",
            response_model=KnowledgeResponse, responses=error_responses(400, 404, 503))
def metrics_knowledge(repository: str = Query(..., min_length=1, max_length=100),
                      path: str = Query("", max_length=4096, description="A file or a folder; empty = the repository"),
                      person: str | None = Query(None, max_length=320,
                                                 description="An author (e-mail): what their leaving would orphan"),
                      svc: Services = Depends(services)) -> dict:
    """From git blame at the head: lines by active authors (a commit within REPO_SCOPING_INSIGHT_ACTIVE_DAYS),
    knowledge islands (one active author holds >= REPO_SCOPING_INSIGHT_ISLAND_SHARE of a file's lines) and the
    bus factor: how many active authors must leave before half of the lines have no active author."""
    repo = catalog.get_repository(svc.reader, repository)
    path = path.strip("/")
    row = store.knowledge_of(svc.reader, repo.id, path)
    if row is None:
        raise ApiError(404, "not_found", f"no knowledge of path {path!r} in {repo.name} (not a file or folder at "
                                         "the head, or knowledge_risk has not run)")
    out = {"repository": repo.name, "path": path, **row, "islands_list": store.islands_under(svc.reader, repo.id, path)}
    if person is not None:
        who = store.knowledge_person(svc.reader, repo.id, person.strip())
        if who is None:
            raise ApiError(404, "not_found", f"no author {person!r} holds lines in {repo.name}")
        out["person"] = who
    return out


@router.get("/metrics/codeowners", summary="CODEOWNERS rules compared with who actually wrote the code",
            response_model=CodeownersResponse, responses=error_responses(400, 404, 503))
def metrics_codeowners(repository: str = Query(..., min_length=1, max_length=100),
                       svc: Services = Depends(services)) -> dict:
    """Per rule of the CODEOWNERS file that applies (the last matching rule governs a file; GitLab: per
    section): the files it governs at the head, the declared owners, the authors of those lines (git blame)
    and the share written by a declared owner. `@login` owners are matched through the people registry;
    teams and roles are `unresolved`. Flags: owner_inactive, undeclared_top_author, no_files. Without a
    CODEOWNERS file `codeowners` is null and no owner is invented."""
    repo = catalog.get_repository(svc.reader, repository)
    summary, rules = store.codeowners_drift_of(svc.reader, repo.id)
    if summary is None:
        return {"repository": repo.name, "codeowners": None, "rules": [],
                "message": f"not compared yet: knowledge_risk has not run for {repo.name}"}
    if summary["codeowners_file"] is None:
        from ..facts.codeowners import LOCATIONS

        return {"repository": repo.name, "codeowners": None, "rules": [],
                "message": f"no CODEOWNERS file found in {repo.name} (looked for {', '.join(LOCATIONS)})"}
    body = {k: v for k, v in summary.items() if k not in ("codeowners_file", "section_files")}
    body["computed_at"] = summary["computed_at"].isoformat()
    return {"repository": repo.name, "codeowners": {"file": summary["codeowners_file"], **body}, "message": None,
            "rules": rules}
