"""/repositories/{name}/sbom (CycloneDX 1.6 JSON) and /repositories/{name}/openapi.json (OpenAPI 3.1 of the
discovered routes), built from the latest snapshot's facts on each request."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ..exports import pipeline
from ..exports.sbom import MEDIA_TYPE as SBOM_MEDIA_TYPE
from ..exports.timeline import InvalidSince
from ..services import Services
from .deps import services
from .errors import ApiError
from .models import error_responses

router = APIRouter()


# The documents are standard formats with many optional parts: these models name the parts a client
# relies on and allow the rest (extra="allow"), so /openapi.json types every object without restating
# the CycloneDX and OpenAPI schemas.
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class SbomProperty(_Open):
    name: str
    value: str


class SbomOccurrence(_Open):
    location: str = Field(description="The manifest path")
    line: int | None = None


class SbomEvidence(_Open):
    occurrences: list[SbomOccurrence] = []


class SbomComponent(_Open):
    type: str
    name: str
    bom_ref: str | None = Field(None, alias="bom-ref")
    group: str | None = None
    version: str | None = Field(None, description="Only where the manifest pins one exact version")
    purl: str | None = Field(None, description="Package URL (absent where the ecosystem has no purl type)")
    scope: str | None = Field(None, description="required, optional or excluded (development and build tools)")
    properties: list[SbomProperty] = []
    evidence: SbomEvidence | None = None


class SbomTools(_Open):
    components: list[SbomComponent] = []


class SbomMetadata(_Open):
    timestamp: str | None = None
    component: SbomComponent | None = None
    tools: SbomTools | None = None
    properties: list[SbomProperty] = Field([], description="repository, commit, the manifests read, and "
                                                           "`repo-scoping:unknown` for what was not observed")


class SbomDependency(_Open):
    ref: str
    depends_on: list[str] = Field([], alias="dependsOn")


class CycloneDxSbom(_Open):
    """A CycloneDX 1.6 JSON BOM (https://cyclonedx.org/docs/1.6/json/)."""

    schema_: str | None = Field(None, alias="$schema")
    bom_format: str = Field(alias="bomFormat")
    spec_version: str = Field(alias="specVersion")
    serial_number: str | None = Field(None, alias="serialNumber")
    version: int
    metadata: SbomMetadata
    components: list[SbomComponent] = []
    dependencies: list[SbomDependency] = []


class DiscoveredParameterSchema(_Open):
    type: str | None = None
    format: str | None = None
    pattern: str | None = None


class DiscoveredParameter(_Open):
    name: str
    in_: str = Field(alias="in")
    required: bool
    schema_: DiscoveredParameterSchema | None = Field(None, alias="schema")


class DiscoveredOperation(_Open):
    summary: str | None = None
    description: str | None = Field(None, description="The evidence: path:line, framework and handler")
    tags: list[str] = []


class DiscoveredPathItem(_Open):
    description: str | None = None
    parameters: list[DiscoveredParameter] = []
    get: DiscoveredOperation | None = None
    put: DiscoveredOperation | None = None
    post: DiscoveredOperation | None = None
    delete: DiscoveredOperation | None = None
    options: DiscoveredOperation | None = None
    head: DiscoveredOperation | None = None
    patch: DiscoveredOperation | None = None
    trace: DiscoveredOperation | None = None


class DiscoveredApiInfo(_Open):
    title: str
    version: str = Field(description="The commit the routes were read at ('unknown' before any snapshot)")
    description: str | None = None


class DiscoveredApi(_Open):
    """An OpenAPI 3.1 document of the routes discovered in a repository's code."""

    openapi: str
    info: DiscoveredApiInfo
    paths: dict[str, DiscoveredPathItem] = {}


def _document_response(model: type[BaseModel], media_type: str, description: str) -> dict:
    ref = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    content = {"application/json": ref}
    if media_type != "application/json":
        content[media_type] = ref
    return {200: {"model": model, "description": description, "content": content}}


@router.get("/repositories/{name}/sbom", summary="CycloneDX 1.6 SBOM of the observed manifests",
            response_model=None,
            responses={**_document_response(CycloneDxSbom, SBOM_MEDIA_TYPE, "The SBOM (CycloneDX 1.6 JSON)"),
                       **error_responses(404, 503)})
def repository_sbom(name: str, svc: Services = Depends(services)) -> Response:
    """One component per declared dependency (package URL, version where pinned, scope, the manifest path
    and line as evidence). A repository without manifests gets a valid BOM without components that says
    its dependencies are unknown."""
    document = pipeline.document(svc.reader, name, "sbom")
    return Response(content=document.content, media_type=document.media_type)


@router.get("/repositories/{name}/openapi.json", summary="OpenAPI 3.1 of the HTTP routes discovered in code",
            response_model=None,
            responses={**_document_response(DiscoveredApi, "application/json", "The OpenAPI 3.1 document"),
                       **error_responses(404, 503)})
def repository_openapi(name: str, svc: Services = Depends(services)) -> Response:
    """Paths and methods of the route facts, path parameters normalised to `{name}`, the evidence
    (path:line) in each operation's description. Without routes: a valid document with no paths."""
    document = pipeline.document(svc.reader, name, "openapi")
    return Response(content=document.content, media_type=document.media_type)


class YamlResponse(Response):
    media_type = "text/yaml"


# A YAML stream of several documents: documented as the list of its documents (one entity each).
_ENTITY_STREAM = {"type": "array", "items": {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
                                             "properties": {"apiVersion": {"type": "string"},
                                                            "kind": {"type": "string", "enum": ["Component", "API"]},
                                                            "metadata": {"type": "object", "required": ["name"]},
                                                            "spec": {"type": "object"}}}}


@router.get("/repositories/{name}/catalog-info.yaml", summary="Backstage catalog entities (Component, API)",
            response_class=YamlResponse,
            responses={200: {"description": "Multi-document YAML: the repository's Component and, where routes "
                                            "were discovered, its API entity (Backstage catalog-info.yaml)",
                             "content": {"text/yaml": {"schema": _ENTITY_STREAM}}},
                       **error_responses(404, 503)})
def repository_catalog_info(name: str, svc: Services = Depends(services)) -> Response:
    """Component type, lifecycle, owner, tags, dependsOn and consumesApis from observed facts (what is not
    observed is said in a `repo-scoping.dev/...-unknown` annotation), approved abilities as an annotation,
    and an API entity whose definition is /openapi.json."""
    document = pipeline.document(svc.reader, name, "backstage")
    return Response(content=document.content, media_type=document.media_type)


class AbilityInSnapshot(BaseModel):
    key: str
    name: str
    category: str
    status: str = Field(description="Review status when the snapshot was recorded: pending | approved | rejected")
    candidate_id: str
    locations: list[str] = Field(description="Where its evidence is (path:line or path:start-end)")


class ChangedAbility(AbilityInSnapshot):
    evidence_added: list[str]
    evidence_removed: list[str]


class AbilityChange(BaseModel):
    from_commit: str
    to_commit: str
    seen_at: datetime = Field(description="When the later snapshot's candidates were recorded")
    gained: list[AbilityInSnapshot]
    lost: list[AbilityInSnapshot]
    changed: list[ChangedAbility] = Field(description="In both snapshots, with its evidence moved")


class AbilitySnapshot(BaseModel):
    commit: str
    seen_at: datetime
    candidates: int


class AbilityChanges(BaseModel):
    repository: str
    since: str | None
    snapshots: list[AbilitySnapshot] = Field(description="The recorded snapshots, oldest first")
    changes: list[AbilityChange]


@router.get("/repositories/{name}/abilities/changes", response_model=AbilityChanges,
            summary="Abilities gained, lost and changed between consecutive snapshots",
            responses=error_responses(400, 404, 503))
def repository_ability_changes(
        name: str,
        since: str | None = Query(None, max_length=64, description="A snapshot commit (SHA or a prefix of 4+) "
                                                                   "or an ISO-8601 time with a zone"),
        svc: Services = Depends(services)) -> AbilityChanges:
    """Each recorded snapshot of the ability candidates compared with the one before it, by ability key."""
    try:
        return AbilityChanges(**pipeline.repository_ability_changes(svc.reader, name, since))
    except InvalidSince as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


class SharedItems(BaseModel):
    abilities: list[str]
    frameworks: list[str]
    dependencies: list[str] = Field(description="ecosystem:name")


class SimilarRepository(BaseModel):
    repository: str
    score: float = Field(description="Mean of the Jaccard indices in `scores`")
    scores: dict[str, float] = Field(description="Jaccard index per aspect (aspects empty on both sides left out)")
    shared: SharedItems = Field(description="The reason: what the two repositories share")


class SimilarRepositories(BaseModel):
    repository: str
    method: str
    similar: list[SimilarRepository]


@router.get("/repositories/{name}/similar", response_model=SimilarRepositories,
            summary="Other repositories ranked by shared abilities, frameworks and dependencies",
            responses=error_responses(404, 503))
def repository_similar(name: str, limit: int = Query(10, ge=1, le=100),
                       svc: Services = Depends(services)) -> SimilarRepositories:
    """Approved abilities, frameworks and declared dependencies compared by Jaccard index; repositories that
    share nothing are left out."""
    return SimilarRepositories(**pipeline.similar_repositories(svc.reader, name, limit))
