"""Exports stage: repository_sbom (CycloneDX) and repository_openapi (discovered routes), per repository,
rebuilt from the observed facts and stored in export_documents."""

import dagster as dg

from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource

from ._metadata import preview
from ._skip import Gate, code_version
from .facts import observed_facts
from .metrics import file_ownership


@dg.asset(
    partitions_def=repositories,
    deps=[observed_facts],
    group_name="exports",
    kinds={"python", "postgres"},
    code_version=code_version("exports"),
    check_specs=[dg.AssetCheckSpec("sbom_lists_dependency_facts", asset="repository_sbom",
                                   description="One SBOM component per stored dependency fact, no more, no less; "
                                               "every locked_dependency fact cited by a component.")],
)
def repository_sbom(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """A CycloneDX 1.6 JSON SBOM of the repository's declared and locked dependencies (package URLs, pinned
    and locked versions, scopes, the manifest and lockfile path and line as evidence), generated with the CycloneDX Python library; served
    at /repositories/{name}/sbom and by `repo-scoping export sbom NAME`."""
    gate = Gate(context)
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    name = context.partition_key
    from repo_scoping_pipelines.exports.pipeline import write_export  # cyclonedx: imported when it runs

    written = write_export(services.engine, name, "sbom")
    bom = written.document.as_json()
    components = bom.get("components", [])
    cited = sorted(p["value"] for c in components for p in c.get("properties", [])
                   if p["name"] == "repo-scoping:fact-id")
    expected = sorted(f["fact_id"] for f in written.source.facts if f["kind"] == "dependency")
    locks_cited = {p["value"] for c in components for p in c.get("properties", [])
                   if p["name"] == "repo-scoping:lock-fact-id"}
    locks = {f["fact_id"] for f in written.source.facts if f["kind"] == "locked_dependency"}
    shown = [(c.get("purl") or c["name"], c.get("version") or "", c.get("scope") or "",
              next((o["location"] for o in (c.get("evidence") or {}).get("occurrences", [])), ""))
             for c in components[:20]]
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(components),
            "commit": written.document.commit or "",
            "spec_version": bom.get("specVersion", ""),
            "content_hash": written.document.content_hash,
            "bytes": len(written.document.content.encode()),
            "unknown": dg.MetadataValue.json([p["value"] for p in bom["metadata"].get("properties", [])
                                              if p["name"] == "repo-scoping:unknown"]),
            **preview(["component", "version", "scope", "manifest"], shown),
        },
        check_results=[dg.AssetCheckResult(
            check_name="sbom_lists_dependency_facts", passed=cited == expected and locks_cited == locks,
            metadata={"components": len(cited), "dependency_facts": len(expected),
                      "missing": len(set(expected) - set(cited)), "extra": len(set(cited) - set(expected)),
                      "locked_dependency_facts": len(locks), "locks_missing": len(locks - locks_cited),
                      "locks_extra": len(locks_cited - locks)})],
    ), changed=written.changed)


@dg.asset(
    partitions_def=repositories,
    deps=[observed_facts],
    group_name="exports",
    kinds={"python", "postgres"},
    code_version=code_version("exports"),
    check_specs=[dg.AssetCheckSpec("openapi_paths_match_routes", asset="repository_openapi",
                                   description="The document's paths are exactly the stored route facts' paths "
                                               "(normalised to OpenAPI templates; Django include() mounts aside).")],
)
def repository_openapi(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """An OpenAPI 3.1 document of the HTTP routes discovered in code (method, path, path parameters, the
    evidence path:line in each operation); served at /repositories/{name}/openapi.json."""
    gate = Gate(context)
    if gate.skipped:
        return gate.result()
    services = repo_scoping.services()
    name = context.partition_key
    from repo_scoping_pipelines.exports.openapi import OPERATIONS, http_routes, normalise_path
    from repo_scoping_pipelines.exports.pipeline import write_export

    written = write_export(services.engine, name, "openapi")
    document = written.document.as_json()
    paths = document.get("paths", {})
    routes = http_routes(written.source.facts)
    expected = {normalise_path(f["value"].get("path", ""))[0] for f in routes}
    operations = [(method.upper(), path) for path, item in paths.items() for method in item
                  if method in OPERATIONS]
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(operations),
            "commit": written.document.commit or "",
            "paths": len(paths),
            "content_hash": written.document.content_hash,
            "unknown": dg.MetadataValue.json(document["info"].get("x-repo-scoping", {}).get("unknown", [])),
            **preview(["method", "path"], operations[:20]),
        },
        check_results=[dg.AssetCheckResult(
            check_name="openapi_paths_match_routes", passed=set(paths) == expected,
            metadata={"paths": len(paths), "route_paths": len(expected),
                      "missing": len(expected - set(paths)), "extra": len(set(paths) - expected)})],
    ), changed=written.changed)


@dg.asset(
    partitions_def=repositories,
    deps=[observed_facts, file_ownership],
    group_name="exports",
    kinds={"python", "postgres"},
    code_version=code_version("exports"),
    check_specs=[dg.AssetCheckSpec("backstage_entities_are_valid", asset="backstage_entities",
                                   description="Every entity has a Backstage-valid name and tags, a Component "
                                               "spec with type, lifecycle and owner, and an API where routes were "
                                               "discovered.")],
)
def backstage_entities(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """Backstage catalog-info.yaml of the repository (its Component and, where routes were discovered, its
    API entity), from the observed facts, CODEOWNERS or history ownership, and the approved abilities;
    served at /repositories/{name}/catalog-info.yaml and by `repo-scoping export backstage`."""
    import yaml

    from repo_scoping_pipelines.exports.backstage import MAX_NAME, NAME_RULE, TAG_RULE, build_catalog_info
    from repo_scoping_pipelines.exports.openapi import http_routes
    from repo_scoping_pipelines.exports.pipeline import (
        backstage_inputs,
        backstage_outside,
        outside_digest,
        store_export,
    )

    services = repo_scoping.services()
    name = context.partition_key
    # What besides this repository's facts goes in: approved abilities, the top author, the package names
    # (dependsOn) and route facts (consumesApis) of the other repositories. A change to any of them re-runs
    # the asset; the facts load after.
    outside = backstage_outside(services.engine, name)
    gate = Gate(context, {"outside": outside_digest(outside, name)})
    if gate.skipped:
        return gate.result()
    inputs = backstage_inputs(services.engine, name, outside=outside)
    document = build_catalog_info(inputs)
    changed = store_export(services.engine, outside.repository_id, "backstage", document)
    entities = list(yaml.safe_load_all(document.content))
    problems = [e["metadata"]["name"] for e in entities
                if not NAME_RULE.match(e["metadata"]["name"]) or len(e["metadata"]["name"]) > MAX_NAME
                or any(not TAG_RULE.match(t) or len(t) > MAX_NAME for t in e["metadata"].get("tags", []))
                or not all(e["spec"].get(k) for k in ("type", "lifecycle", "owner"))]
    component = entities[0]["spec"]
    has_routes = bool(http_routes(inputs.facts))
    has_api = any(e["kind"] == "API" for e in entities)
    unknown = sorted(k.removeprefix("repo-scoping.dev/") for k in entities[0]["metadata"]["annotations"]
                     if k.endswith("-unknown"))
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(entities),
            "commit": document.commit or "",
            "type": component["type"], "lifecycle": component["lifecycle"], "owner": component["owner"],
            "depends_on": dg.MetadataValue.json(component.get("dependsOn", [])),
            "consumes_apis": dg.MetadataValue.json(component.get("consumesApis", [])),
            "unknown": dg.MetadataValue.json(unknown),
            "content_hash": document.content_hash,
        },
        check_results=[dg.AssetCheckResult(
            check_name="backstage_entities_are_valid", passed=not problems and has_api == has_routes,
            metadata={"entities": len(entities), "invalid": len(problems), "api": has_api, "routes": has_routes})],
    ), changed=changed)


@dg.asset(
    deps=["ability_candidates"],
    group_name="exports",
    kinds={"python", "postgres"},
)
def ability_changes_digest(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource
                           ) -> dg.MaterializeResult:
    """The week's ability changes across every repository (gained, lost, evidence moved), as markdown in
    the UI; written by the weekly_ability_digest schedule (Monday 06:00 UTC) for the 7 days before."""
    from datetime import UTC, datetime, timedelta

    from repo_scoping_pipelines.exports.pipeline import ability_digest
    from repo_scoping_pipelines.exports.timeline import digest_markdown

    services = repo_scoping.services()
    scheduled = context.run.tags.get("dagster/scheduled_execution_time")
    end = datetime.fromisoformat(scheduled) if scheduled else datetime.now(UTC)
    since = end - timedelta(days=7)
    digest = ability_digest(services.engine, since)
    counts = {label: sum(len(e[label]) for e in digest) for label in ("gained", "lost", "changed")}
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(digest), "since": since.isoformat(timespec="seconds"),
        "repositories_changed": len(digest), **counts,
        "digest": dg.MetadataValue.md(digest_markdown(digest, since)),
    })
