"""Abilities stage: ability_candidates (per repository) and ability_registry (approved, all repositories)."""


import dagster as dg

from repo_scoping_pipelines.abilities.pipeline import make_candidates, publish_registry
from repo_scoping_pipelines.partitions import repositories
from repo_scoping_pipelines.resources import RepoScopingResource
from repo_scoping_pipelines.storage import abilities as ability_store

from ._metadata import preview
from ._skip import Gate, code_version
from .content import content_chunks
from .facts import observed_facts


def evidence_problems(engine, rows: list[dict]) -> dict[str, int]:
    """Candidates without evidence, and cited chunk / fact ids that are not stored."""
    chunk_ids = {e["chunk_id"] for r in rows for e in r["evidence"] if e.get("type") == "chunk"}
    fact_ids = {e["fact_id"] for r in rows for e in r["evidence"] if e.get("type") == "fact"}
    present_chunks = ability_store.chunk_ids_present(engine, chunk_ids)
    present_facts = ability_store.fact_ids_present(engine, fact_ids)
    return {"without_evidence": sum(1 for r in rows if not r["evidence"]),
            "missing_chunks": len(chunk_ids - present_chunks),
            "missing_facts": len(fact_ids - present_facts)}


@dg.asset(
    partitions_def=repositories,
    deps=[observed_facts, content_chunks],
    group_name="abilities",
    kinds={"python", "openai", "postgres"},
    pool="llm",
    code_version=code_version("abilities"),
    check_specs=[dg.AssetCheckSpec("candidates_cite_evidence", asset="ability_candidates",
                                   description="Every candidate cites facts or chunks, and every cited id is stored.")],
)
def ability_candidates(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """What the repository can do: candidates from rules over observed facts and (when
    REPO_SCOPING_LLM_PROVIDER=openai) grounded LLM claims, each with its evidence and a stable key
    that keeps its review across snapshots. An LLM failure is recorded; the rules' candidates stand."""
    services = repo_scoping.services()
    settings = services.settings
    gate = Gate(context, inputs={"llm": f"{settings.llm_provider or ''}:{settings.llm_model or ''}"})
    # A failed LLM call is retried by the next refresh even when nothing else changed.
    if gate.skipped and gate.previous_value("llm_status") != "failed":
        return gate.result()
    name = context.partition_key
    result = make_candidates(services, name, run_id=context.run_id)
    if result.llm.status == "failed":
        context.log.warning(f"{name}: LLM candidates skipped: {result.llm.error}")
    problems = evidence_problems(services.engine, result.rows)
    shown = [(r["name"], r["category"], r["source"], r["confidence"], len(r["evidence"])) for r in result.rows]
    changed = bool(result.write.added or result.write.updated or result.write.retired or result.write.revived)
    return gate.finish(dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(result.rows),
            "commit": result.commit or "",
            "rule_candidates": result.rule_count,
            "llm_candidates": len(result.llm.candidates),
            "llm_status": result.llm.status,
            "llm_error": result.llm.error or "",
            "llm_calls": result.llm.calls,
            "prompt_tokens": result.llm.prompt_tokens,
            "completion_tokens": result.llm.completion_tokens,
            "added": result.write.added,
            "updated": result.write.updated,
            "unchanged": result.write.unchanged,
            "retired": result.write.retired,
            "guardrails": dg.MetadataValue.json(result.guardrails),
            **{f"guardrail_{k}": v for k, v in result.guardrails.items()},
            "facts": result.facts,
            "seconds": round(result.seconds, 3),
            **preview(["ability", "category", "source", "confidence", "evidence"], shown),
        },
        check_results=[dg.AssetCheckResult(check_name="candidates_cite_evidence",
                                            passed=not any(problems.values()), metadata=problems)],
    ), changed=changed)


@dg.asset(
    deps=[ability_candidates],
    group_name="abilities",
    kinds={"postgres"},
    check_specs=[dg.AssetCheckSpec("registry_only_approved", asset="ability_registry",
                                   description="The registry holds exactly the approved, current candidates.")],
)
def ability_registry(context: dg.AssetExecutionContext, repo_scoping: RepoScopingResource) -> dg.MaterializeResult:
    """The approved ability map across repositories: every candidate whose newest review approved it
    and that the latest snapshot still shows. Rebuilt when review decisions arrive (sensor)."""
    services = repo_scoping.services()
    result = publish_registry(services.engine)
    approved = ability_store.search_abilities(services.engine, None, limit=20)
    mismatches = ability_store.registry_mismatches(services.engine)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.total,
            "added": result.added,
            "removed": result.removed,
            "changed": bool(result.added or result.removed),
            "by_repository": dg.MetadataValue.json(result.by_repository),
            **preview(
                ["repository", "ability", "category", "approved by"],
                [(a["repository"], a["name"], a["category"], a["approved_by"] or "") for a in approved]),
        },
        check_results=[dg.AssetCheckResult(check_name="registry_only_approved", passed=mismatches == 0,
                                            metadata={"mismatches": mismatches, "published": result.total})],
    )
