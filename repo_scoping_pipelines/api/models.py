"""The read API's response shapes: every JSON route declares one of these as its `response_model`, so
/openapi.json names each shape (a client can be generated from it) and FastAPI checks the answers.

Routes build plain dicts (in storage/* and the api modules); these models only describe them. Field
names and shapes are fixed by the contract (DESIGN.md, "Read API"): add fields, never rename or drop one.
A field that some answers leave out is optional here and the route sets `response_model_exclude_unset`,
so a key that was absent stays absent (rather than turning into `null`).

Routes whose lists run to thousands of items (facts, the import graph) answer through `unvalidated_json`:
FastAPI's check builds a model per item, which costs more than the query there (a 10,000-fact page took
600 ms instead of 260 ms). Their models still document them, and tests check those answers against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pydantic_core
from fastapi.responses import Response
from pydantic import BaseModel, Field

# --- errors -----------------------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="Machine-readable code: not_found, invalid_request, unauthorized, forbidden, "
                                  "conflict, too_large, rejected, database_unavailable, method_not_allowed, internal_error")
    message: str = Field(description="What went wrong, for a person")


class ErrorResponse(BaseModel):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail


_ERROR_DESCRIPTIONS = {
    400: "Bad input (a parameter out of range, of the wrong type, or holding a value that cannot be used)",
    401: "No bearer token, or a wrong one",
    403: "The bearer token's scope is too small for this route (scopes: read < review < admin)",
    404: "No such repository, candidate or record",
    409: "Conflicts with what is stored (e.g. a repository of that name is already registered)",
    413: "The upload is larger than allowed",
    503: "The database is unavailable; try again later",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the one error shape (api/errors.py)."""
    # The JSON content is named explicitly: on a text/event-stream route errors are still JSON.
    json_error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    return {status: {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status], "content": json_error}
            for status in statuses}


def unvalidated_json(body: Any) -> Response:
    """`body` as JSON (serialized as FastAPI would serialize a dict), skipping the response_model check."""
    return Response(content=pydantic_core.to_json(body), media_type="application/json")


# --- health -----------------------------------------------------------------------------------------------


class HealthPart(BaseModel):
    """One probed part. When the probe fails: ok false and `error`, and none of the part's details."""

    ok: bool
    latency_ms: float | None = Field(None, description="How long the probe took (absent when it was not run)")
    error: str | None = Field(None, description="Why the part is not ok (redacted, at most 300 characters)")


class DatabaseHealth(HealthPart):
    embedded: bool | None = Field(None, description="The embedded PostgreSQL started by the project")
    repositories: int | None = Field(None, description="Registered repositories")


class MilvusHealth(HealthPart):
    embedded: bool | None = Field(None, description="Milvus Lite in this process (no REPO_SCOPING_MILVUS_URI)")
    collections: int | None = None
    collection: str | None = Field(None, description="The collection searched")


class CheckoutRootHealth(HealthPart):
    path: str | None = None
    writable: bool | None = None
    free_gb: float | None = Field(None, description="Free disk space under the checkout root, GiB")


class DaemonLiveness(BaseModel):
    alive: bool = Field(description="A dagster-daemon heartbeat within the last 75 s")
    heartbeat_age_s: float | None = Field(description="Seconds since the newest heartbeat; null: never ran")
    daemons: list[str] = Field(description="Daemon types that have sent a heartbeat")


class DagsterHealth(HealthPart):
    partitions: int | None = Field(None, description="Dynamic partitions of `repositories`")
    daemon_heartbeats: dict[str, float] | None = Field(None, description="Daemon type -> last heartbeat "
                                                                         "(Unix time)")
    daemon: DaemonLiveness | None = None


class AssetMaterialization(BaseModel):
    at: float = Field(description="When (Unix time)")
    run_id: str
    partition: str | None
    rows: int | None = Field(description="dagster/row_count of the materialization, when reported")


class RunSummary(BaseModel):
    run_id: str
    job: str
    status: str = Field(description="Dagster run status, e.g. SUCCESS, FAILURE, STARTED")
    partition: str | None
    updated_at: str = Field(description="ISO 8601")


class RunsHealth(HealthPart):
    assets: dict[str, AssetMaterialization | None] | None = Field(
        None, description="Asset key -> its latest materialization (null: never materialized)")
    latest_runs: list[RunSummary] | None = Field(None, description="The five newest runs")
    counts: dict[str, int] | None = Field(None, description="Runs by status: queued, started, success, failure, "
                                                             "canceled")


class AbilityRun(BaseModel):
    """The newest ability_candidates run of a repository."""

    repository: str
    run_id: str
    snapshot_commit: str | None
    rule_candidates: int
    llm_candidates: int
    llm_status: str = Field(description="disabled, called, cached or failed")
    llm_error: str | None
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    guardrails: dict[str, int] = Field(description="Guardrail counter -> events in that run")
    finished_at: str = Field(description="ISO 8601")


class GuardrailsHealth(HealthPart):
    counters: dict[str, int] | None = Field(None, description="prompt_injection, ungrounded_claim, "
                                                              "schema_violation, unsafe_content (totals)")
    ability_runs: list[AbilityRun] | None = None


class ConfigurationIssue(BaseModel):
    check: str = Field(description="placeholder_secret, weak_secret, remote or non_https_remote")
    variable: str | None = Field(None, description="The environment variable concerned")
    repository: str | None = Field(None, description="The repository concerned")
    message: str


class ConfigurationHealth(BaseModel):
    ok: bool
    issues: list[ConfigurationIssue]


class LlmRuntimeHealth(BaseModel):
    """The OpenAI-compatible model server: `not_configured` when no model is set."""

    ok: bool
    status: Literal["not_configured", "reachable", "unreachable", "model_not_listed"]
    model: str | None = None
    model_listed: bool | None = None
    latency_ms: float | None = None
    error: str | None = None


class HealthReport(BaseModel):
    """`status` is degraded when any part is not ok. Always answered with 200."""

    status: Literal["ok", "degraded"]
    database: DatabaseHealth
    milvus: MilvusHealth
    checkout_root: CheckoutRootHealth
    dagster: DagsterHealth
    runs: RunsHealth
    guardrails: GuardrailsHealth
    configuration: ConfigurationHealth
    llm_runtime: LlmRuntimeHealth | None = None


# --- repositories -----------------------------------------------------------------------------------------


class SnapshotSummary(BaseModel):
    commit: str = Field(description="Commit SHA of the latest snapshot")
    files: int = Field(description="Files inventoried")
    bytes: int = Field(description="Their total size")
    taken_at: str = Field(description="ISO 8601")


class RepositorySummary(BaseModel):
    name: str
    source_kind: str = Field(description="git_url, local_path or zip")
    default_branch: str | None
    registered_at: str = Field(description="ISO 8601")
    snapshot: SnapshotSummary | None = Field(description="The latest snapshot; null before the first refresh")


class RepositoryDetail(RepositorySummary):
    languages: dict[str, int] = Field(description="Language -> lines (not vendored, generated or documentation)")
    chunks: dict[str, int] = Field(description="Chunk kind -> chunks")


class RepositoryList(BaseModel):
    repositories: list[RepositorySummary]


# --- search -----------------------------------------------------------------------------------------------


class SearchRef(BaseModel):
    kind: Literal["pull_request", "issue"]
    number: int | None = Field(None, description="The pull request's number")
    id: int | None = Field(None, description="The issue's id")
    url: str | None = None


class SearchResult(BaseModel):
    repository: str
    path: str
    start_line: int = Field(description="1-based, inclusive")
    end_line: int = Field(description="1-based, inclusive")
    kind: str = Field(description="Chunk kind, e.g. function, class, module, section, pull_request, issue")
    symbol: str | None = Field(description="Qualified symbol of a code chunk, e.g. Class.method")
    score: float = Field(description="Relevance; higher is better (comparable within one answer only)")
    chunk_id: str
    snippet: str = Field(description="The chunk's first lines")
    file_class: str | None = Field(None, description="code, tests, docs, config, pull_request or issue (the `kind` "
                                                     "filter's values)")
    language: str | None = Field(None, description="The file's language as the inventory detected it")
    ref: SearchRef | None = Field(None, description="PR and issue hits only: the number or id, and the URL")


class SearchFacets(BaseModel):
    kind: dict[str, int] = Field(description="Candidates per file class")
    language: dict[str, int] = Field(description="Candidates per language")
    repository: dict[str, int] = Field(description="Candidates per repository")


class SearchResponse(BaseModel):
    results: list[SearchResult]
    facets: SearchFacets = Field(description="Counts over the candidates the filters let through (the ranked pool, "
                                             "not only the results returned)")
    fallback: str | None = Field(None, description="Only when Milvus could not answer: how the results were "
                                                   "found (postgres_keyword)")
    notice: str | None = Field(None, description="Only with `fallback`: why")


# --- facts and the import graph ---------------------------------------------------------------------------


class Evidence(BaseModel):
    path: str
    line: int = Field(description="1-based")


class Fact(BaseModel):
    kind: str = Field(description="Fact kind, e.g. language, dependency, framework, route, entrypoint")
    subject: str = Field(description="What the fact is about, e.g. `POST /items` or a package name")
    value: Any = Field(description="The fact's JSON payload; its keys depend on `kind`")
    evidence: Evidence
    confidence: float = Field(description="0 to 1")
    commit: str = Field(description="Commit SHA of the snapshot the fact was observed in")


class FactList(BaseModel):
    repository: str
    total: int = Field(description="Facts matching the filter (before limit and offset)")
    facts: list[Fact]


class GraphNode(BaseModel):
    id: str
    name: str
    path: str | None = Field(description="The module's file or the package's folder; null for external packages")
    language: str | None
    kind: str = Field(description="module, package, external or stdlib")
    internal: bool
    lines: int
    files: int
    in_degree: int
    out_degree: int
    pagerank: float
    rank: int | None = Field(description="1 = most central internal module; null for external packages")


class GraphEdge(BaseModel):
    source: str = Field(description="Id of the importing node")
    target: str = Field(description="Id of the imported node")
    kind: str = Field(description="internal, external or stdlib")
    count: int = Field(description="Import statements between the two")
    evidence: Evidence = Field(description="The first importing file and line")


class Graph(BaseModel):
    repository: str
    commit: str | None = Field(description="Commit SHA of the latest snapshot")
    nodes: list[GraphNode]
    edges: list[GraphEdge]


# --- abilities --------------------------------------------------------------------------------------------


class FactEvidence(BaseModel):
    type: Literal["fact"]
    fact_id: str
    kind: str
    subject: str
    path: str
    line: int


class ChunkEvidence(BaseModel):
    type: Literal["chunk"]
    chunk_id: str
    path: str
    start_line: int
    end_line: int
    quote: str | None = Field(None, description="The words quoted from the chunk (LLM candidates)")


AbilityEvidence = Annotated[FactEvidence | ChunkEvidence, Field(discriminator="type")]


class Candidate(BaseModel):
    candidate_id: str = Field(description="Stable across snapshots (the same key keeps its id and its review)")
    key: str = Field(description="Stable within a repository, e.g. http_api or datastore:postgresql")
    name: str
    category: str
    description: str
    evidence: list[AbilityEvidence]
    confidence: float
    source: str = Field(description="rules or llm")
    status: str = Field(description="pending, approved, rejected, or retired (not in the latest snapshot)")
    review_status: str = Field(description="The newest review decision: pending, approved or rejected")
    snapshot_commit: str | None
    created_at: str = Field(description="ISO 8601")
    updated_at: str = Field(description="ISO 8601")
    reviewed_at: str | None = Field(description="ISO 8601")


class CandidateList(BaseModel):
    repository: str
    candidates: list[Candidate]


class RepositoryCandidate(Candidate):
    repository: str


class ReviewDecision(BaseModel):
    id: int
    candidate_id: str
    decision: Literal["approve", "reject"]
    reviewer: str
    note: str | None
    created_at: str = Field(description="ISO 8601")


class CandidateDetail(RepositoryCandidate):
    reviews: list[ReviewDecision] = Field(description="Every decision, oldest first")


class ReviewResult(BaseModel):
    review: ReviewDecision
    candidate: RepositoryCandidate = Field(description="The candidate after the decision")
    next: str = Field(description="What publishes the decision")


class Ability(BaseModel):
    """An approved, current candidate as published in the registry."""

    candidate_id: str
    repository: str
    key: str
    name: str
    category: str
    description: str
    evidence: list[AbilityEvidence]
    confidence: float
    source: str = Field(description="rules or llm")
    approved_by: str | None
    approval_note: str | None
    approved_at: str | None = Field(description="ISO 8601")


class RepositoryAbilities(BaseModel):
    repository: str
    abilities: list[Ability]


class AbilitySearch(BaseModel):
    query: str | None
    abilities: list[Ability]
    repositories: list[str] = Field(description="Repositories of the abilities found, sorted")


# --- uploads ----------------------------------------------------------------------------------------------


class UploadResult(BaseModel):
    name: str
    source_kind: str = Field(description="zip")
    archive_sha256: str = Field(description="SHA-256 of the kept archive")
    bytes: int
    run_id: str | None = Field(description="The refresh run queued for it (null when no daemon would run it)")
    next: str = Field(description="What refreshes it")


# --- metrics ----------------------------------------------------------------------------------------------


class AuthorMetrics(BaseModel):
    author_email: str = Field(description="Resolved through .mailmap")
    author_name: str
    commits: int = Field(description="Non-merge commits reachable from the default branch head")
    lines_added: int = Field(description="From numstat; binary files count 0")
    lines_deleted: int
    files_touched: int
    active_days: int


class PersonMetrics(AuthorMetrics):
    """by=person: one person's e-mails counted together (files and days once)."""

    author_email: str = Field(description="The person's most recent e-mail")
    author_name: str = Field(description="The person's name in the people registry")
    person_id: str | None = Field(description="null: an e-mail the people registry does not know")
    emails: list[str] = Field(description="The e-mails counted together (lowercased)")


class AuthorsResponse(BaseModel):
    repository: str
    window: Literal["7d", "30d", "90d", "all"]
    by: Literal["email", "person"] = "email"
    since: str | None = Field(None, description="With since/until: the inclusive UTC days the authors are of "
                                                "(the window is then not used)")
    until: str | None = None
    # left_to_right: a person row (it has every AuthorMetrics field too) keeps its person fields.
    authors: list[Annotated[PersonMetrics | AuthorMetrics, Field(union_mode="left_to_right")]]


class OwnershipShare(BaseModel):
    author_email: str
    author_name: str
    lines: int = Field(description="Changed lines (renames followed)")
    weighted_lines: float = Field(description="Changed lines weighted by recency (half-life)")
    commits: int
    share: float = Field(description="0 to 1: share by the chosen weighting (by commits for binary files)")
    last_changed_at: str | None = Field(description="ISO 8601")


class OwnershipResponse(BaseModel):
    repository: str
    path: str
    kind: Literal["file", "folder"]
    files: int
    weighting: Literal["lines", "recency"]
    owner: OwnershipShare = Field(description="The author with the largest share")
    authors: list[OwnershipShare]


class ShippedPullRequest(BaseModel):
    type: str = Field(description="Conventional-commit type: feat, fix, docs, ... or other")
    title: str
    ref: str = Field(description="#number")
    url: str | None
    author: str | None = Field(description="GitHub login")
    at: str = Field(description="When merged, ISO 8601")


class ShippedCommit(BaseModel):
    type: str = Field(description="Conventional-commit type: feat, fix, docs, ... or other")
    title: str = Field(description="The commit's subject")
    ref: str = Field(description="Abbreviated SHA")
    sha: str
    author: str
    author_email: str
    at: str = Field(description="When committed, ISO 8601")


class ShippedGroup(BaseModel):
    type: str
    count: int
    items: list[ShippedPullRequest | ShippedCommit]


class ShippedResponse(BaseModel):
    repository: str
    week: str = Field(description="ISO week, e.g. 2024-W03")
    week_start: str = Field(description="Monday, ISO 8601 date")
    week_end: str = Field(description="Sunday, ISO 8601 date")
    source: Literal["pull_requests", "commits"] | None = Field(description="Merged pull requests when GitHub is "
                                                                           "synced, else commits; null: none")
    total: int
    groups: list[ShippedGroup]


# --- people and pull-request metrics (issue 16) ----------------------------------------------------------


class PullRequestAuthorMetrics(BaseModel):
    author_login: str = Field(description="GitHub login (lowercased)")
    person_id: str | None = Field(description="The person the login belongs to (people registry), if known")
    person_name: str | None
    opened: int = Field(description="PRs created in the range")
    merged: int = Field(description="PRs merged in the range")
    reviews_given: int = Field(description="Reviews submitted in the range on other people's PRs (no drafts)")
    median_hours_to_first_review: float | None = Field(
        description="Over the PRs opened in the range: creation to the first review by someone else")
    median_hours_to_merge: float | None = Field(description="Over the PRs merged in the range: creation to merge")
    median_lines: float | None = Field(description="Additions + deletions of the PRs opened, from their files")
    median_files: float | None


class PullRequestMetricsResponse(BaseModel):
    repository: str
    window: Literal["7d", "30d", "90d", "all"] | None = Field(description="null when since/until were given")
    since: str | None = Field(description="ISO 8601 date, inclusive (UTC days)")
    until: str | None = Field(description="ISO 8601 date, inclusive (UTC days)")
    as_of: str | None = Field(description="When the stored windows were computed (author_prs_window)")
    authors: list[PullRequestAuthorMetrics]


class DailyAuthorRow(BaseModel):
    day: str = Field(description="UTC day of the author date, ISO 8601")
    author_email: str = Field(description="Resolved through .mailmap")
    author_name: str
    person_id: str | None
    commits: int
    lines_added: int
    lines_deleted: int
    files_touched: int


class DailyTotals(BaseModel):
    commits: int
    lines_added: int
    lines_deleted: int


class DailyAuthorsResponse(BaseModel):
    repository: str
    since: str
    until: str
    author: str | None = Field(description="The author asked for (e-mail, github:LOGIN, person id)")
    person_id: str | None
    days: list[DailyAuthorRow]
    totals: DailyTotals


class PersonSummary(BaseModel):
    person_id: str
    display_name: str
    primary_email: str | None
    github_login: str | None
    identities: int


class PersonIdentity(BaseModel):
    identity: str = Field(description="kind:value, e.g. email:a@b.example, github:login")
    kind: Literal["email", "github", "redmine", "git-name"]
    value: str
    display_name: str
    reason: str = Field(description="Why it belongs to this person: own identity, exact e-mail, github noreply "
                                    "address, github commit author, manual merge")
    confidence: float
    linked_to: str | None = Field(description="The identity of the link that put it here")
    seen: int = Field(description="Commits (git identities) or PRs, reviews and commits (GitHub logins) seen")


class PersonSuggestion(BaseModel):
    identity_a: str
    identity_b: str
    reason: str = Field(description="same name, similar name, name equals login: never applied by itself")
    confidence: float


class PeopleResponse(BaseModel):
    people: list[PersonSummary]
    suggestions: list[PersonSuggestion] | None = Field(None, description="With suggestions=true: possible links "
                                                                         "waiting for a decision")


class PersonDetail(PersonSummary):
    identity_list: list[PersonIdentity]
    suggestions: list[PersonSuggestion] = Field(description="Possible links of its identities waiting for a "
                                                            "person (`repo-scoping people merge`)")


class PeopleDecision(BaseModel):
    action: Literal["merge", "split"]
    identities: list[str] = Field(description="The identities decided on, as kind:value")
    people: list[PersonDetail] = Field(description="The people those identities belong to now")



# --- ask (issue 14) ---------------------------------------------------------------------------------------


class AskRequest(BaseModel):
    model_config = {"extra": "forbid"}

    question: str = Field(min_length=1, max_length=4000, description="The question, in plain language")
    repository: str | None = Field(None, min_length=1, max_length=100, description="Limit retrieval to one repository")
    conversation_id: str | None = Field(None, min_length=1, max_length=64,
                                        description="Continue this conversation (its earlier turns are used)")
    stream: bool = Field(False, description="Answer as Server-Sent Events: sources, delta..., done | error")


class AskCitation(BaseModel):
    n: int = Field(description="The number the answer's [n] markers use")
    repository: str
    path: str
    start_line: int | None = Field(description="1-based, inclusive; null for a metrics row (ownership, shipped)")
    end_line: int | None
    commit: str | None = Field(description="The snapshot commit the source was read from")
    kind: str = Field(description="A chunk kind, or fact | ability | ownership | shipped | import")
    chunk_id: str | None = None
    ref: str | None = Field(None, description="Fact id, candidate id, week, ... of a non-chunk source")


class AskUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    llm_calls: int
    tool_calls: int
    model: str | None = None


class AskGuardrails(BaseModel):
    prompt_injection: int
    ungrounded_claim: int
    schema_violation: int
    unsafe_content: int


class AskResponse(BaseModel):
    """The answer; with `"stream": true` this is the `done` event's data."""

    answer: str = Field(description="Markdown with [n] markers that refer to citations[].n")
    citations: list[AskCitation]
    conversation_id: str
    mode: Literal["llm", "extractive"]
    usage: AskUsage
    guardrails: AskGuardrails


class ConversationTurn(BaseModel):
    turn: int
    question: str
    answer: str
    citations: list[AskCitation]
    mode: Literal["llm", "extractive"]
    usage: AskUsage
    guardrails: AskGuardrails
    created_at: str | None


class Conversation(BaseModel):
    conversation_id: str
    repository: str | None
    created_at: str
    updated_at: str
    turns: list[ConversationTurn]


class ConversationDeleted(BaseModel):
    conversation_id: str
    deleted: bool
    turns: int


# --- runs and refreshes (issue 15) ------------------------------------------------------------------------


class RunStatusCounts(BaseModel):
    queued: int = Field(description="QUEUED or NOT_STARTED")
    started: int = Field(description="STARTING, STARTED or CANCELING")
    success: int
    failure: int
    canceled: int


class RunListItem(BaseModel):
    run_id: str
    job: str
    repository: str | None = Field(description="The run's partition (a repository name for refresh runs)")
    status: Literal["queued", "started", "success", "failure", "canceled"]
    dagster_status: str = Field(description="Dagster's own status, e.g. QUEUED, STARTED, FAILURE")
    trigger: str = Field(description="api, manual, retry, sensor:<name>, schedule:<name> or backfill:<id>")
    full: bool = Field(description="A full refresh (re-extracts everything)")
    created_at: str | None = Field(description="ISO 8601")
    started_at: str | None = Field(description="ISO 8601")
    ended_at: str | None = Field(description="ISO 8601")
    duration_s: float | None


class RunList(BaseModel):
    runs: list[RunListItem]


class RunStep(BaseModel):
    step_key: str
    status: str = Field(description="success, failure, skipped, in_progress or started")
    started_at: str | None = Field(description="ISO 8601")
    ended_at: str | None = Field(description="ISO 8601")
    duration_s: float | None
    attempts: int


class RunMaterialization(BaseModel):
    asset: str
    partition: str | None
    step_key: str | None
    at: str = Field(description="ISO 8601")
    rows: int | None = Field(description="dagster/row_count, when reported")


class RunError(BaseModel):
    step_key: str | None = Field(description="The failed step; null: the run itself failed")
    message: str = Field(description="The root cause's last line (redacted)")


class RunDetail(RunListItem):
    steps: list[RunStep]
    materializations: list[RunMaterialization]
    error: RunError | None


class QueuedRun(BaseModel):
    run_id: str
    repository: str
    status: Literal["queued", "started", "success", "failure", "canceled"]
    existing: bool = Field(description="True: a run of this repository was already queued or running (no "
                                        "duplicate was made)")


class RefreshesResponse(BaseModel):
    runs: list[QueuedRun]


# --- insight: hotspots and change coupling (issue 16) ---------------------------------------------------


class Hotspot(BaseModel):
    path: str
    revisions: int
    complexity: int
    score: int
    rank: int
    previous_revisions: int | None = Field(None, description="Revisions in the window before (none for all)")
    trend: Literal["rising", "falling", "steady"] | None = None


class HotspotsResponse(BaseModel):
    repository: str
    window: str
    hotspots: list[Hotspot]


class CoupledPair(BaseModel):
    path_a: str
    path_b: str
    shared_revisions: int
    revisions_a: int
    revisions_b: int
    degree: float = Field(description="shared revisions / average revisions of the two files, 0..1")


class CrossCoupledPair(CoupledPair):
    """A CoupledPair across repositories, its revisions counted in issue keys rather than commits."""

    repository_a: str = Field(description="The repository asked about")
    repository_b: str = Field(description="Another repository")
    shared_revisions: int = Field(description="Issue keys both files changed under")
    revisions_a: int = Field(description="Issue keys file a changed under")
    shared_keys: list[str] = Field(description="The first few shared issue keys, sorted")


class CouplingResponse(BaseModel):
    repository: str
    scope: Literal["within", "cross"] = Field(
        "within", description="within: pairs of this repository's files (CoupledPair); cross: a file of this "
                              "repository and a file of another one, changed under the same issue keys "
                              "(CrossCoupledPair)")
    # left_to_right: a cross pair (it has every CoupledPair field too) is never read as a within pair.
    pairs: list[Annotated[CrossCoupledPair | CoupledPair, Field(union_mode="left_to_right")]]


class KnowledgePerson(BaseModel):
    author: str
    author_name: str
    active: bool
    lines: int = Field(description="Lines at the head last written by this author")
    files: int
    orphaned_files: int = Field(description="Files in which this author is the only active author")
    orphaned_lines: int


class KnowledgeRow(BaseModel):
    path: str
    kind: Literal["file", "folder"]
    files: int
    lines: int
    active_lines: int
    active_share: float
    bus_factor: int
    islands: int
    island_lines: int
    top_author: str
    top_author_name: str
    top_share: float
    is_island: bool


class KnowledgeResponse(KnowledgeRow):
    repository: str
    islands_list: list[KnowledgeRow] = Field(description="The knowledge islands at or under the path, largest first")
    person: KnowledgePerson | None = None


class CodeownersOwner(BaseModel):
    owner: str = Field(description="As written in CODEOWNERS")
    kind: Literal["email", "user", "team", "role"]
    resolved: bool = Field(description="False: the owner cannot be matched to git authors (`unresolved`: a team, "
                                       "a GitLab role, or a login the people registry does not know)")
    emails: list[str] = Field(description="The git e-mails the owner was matched by")
    active: bool | None = Field(description="A commit within the active window; null when unresolved")
    how: str = Field(description="How the owner was resolved, or why not")


class CodeownersAuthor(BaseModel):
    author: str
    author_name: str
    lines: int = Field(description="Governed lines at the head last written by this author")
    share: float
    active: bool
    declared: bool = Field(description="The author is one of the rule's declared owners")


class CodeownersRule(BaseModel):
    rule_order: int = Field(description="0-based rule index in the file: the last matching rule wins")
    codeowners_file: str
    line: int = Field(description="Evidence: the rule's line in codeowners_file")
    pattern: str
    section: str | None = Field(description="GitLab section; null outside sections")
    owners: list[str] = Field(description="Declared owners")
    owner_status: list[CodeownersOwner]
    files: int = Field(description="Files at the head this rule governs")
    lines: int
    declared_lines: int = Field(description="Governed lines last written by a resolved declared owner")
    declared_share: float | None = Field(description="declared_lines / lines; null when the rule governs no lines "
                                                     "or none of its owners resolves")
    top_authors: list[CodeownersAuthor]
    inactive_owners: list[str]
    unresolved_owners: list[str]
    owner_inactive: bool = Field(description="A resolved user owner has no commit in the active window")
    undeclared_top_author: bool | None = Field(description="The top active author is not a declared owner; null "
                                                           "when an unresolved owner could be that author")
    no_files: bool = Field(description="The rule governs no file at the head")


class CodeownersSummary(BaseModel):
    file: str = Field(description="The CODEOWNERS file that applies")
    syntax: Literal["github", "gitlab"]
    rules: int
    rules_with_drift: int
    files: int
    lines: int
    governed_files: int
    unowned_files: int = Field(description="Files no rule governs")
    unowned_lines: int
    warnings: list[str] = Field(description="Malformed lines of the file (ignored)")
    computed_at: str


class CodeownersResponse(BaseModel):
    repository: str
    codeowners: CodeownersSummary | None = Field(description="null: no CODEOWNERS file was found, or knowledge_risk "
                                                             "has not compared yet (see message)")
    message: str | None = None
    rules: list[CodeownersRule]
