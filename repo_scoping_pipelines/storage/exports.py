"""The latest generated export documents (SBOM, OpenAPI, ...) of each repository (export_documents)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .tables import export_documents


def store_document(engine: Engine, repository_id: int, kind: str, commit: str | None, media_type: str,
                   content: str, content_hash: str) -> bool:
    """Upsert the repository's document of this kind; True when its content changed (or is new)."""
    with engine.begin() as conn:
        previous = conn.execute(sa.select(export_documents.c.content_hash).where(
            export_documents.c.repository_id == repository_id, export_documents.c.kind == kind)).scalar()
        stmt = insert(export_documents).values(repository_id=repository_id, kind=kind, commit_sha=commit,
                                               media_type=media_type, content=content, content_hash=content_hash)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["repository_id", "kind"],
            set_={"commit_sha": stmt.excluded.commit_sha, "media_type": stmt.excluded.media_type,
                  "content": stmt.excluded.content, "content_hash": stmt.excluded.content_hash,
                  "generated_at": sa.func.now()}))
    return previous != content_hash


def load_document(engine: Engine, repository_id: int, kind: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(export_documents).where(
            export_documents.c.repository_id == repository_id, export_documents.c.kind == kind)).mappings().first()
    return dict(row) if row else None


def top_author(engine: Engine, repository_id: int) -> dict | None:
    """The author with the most surviving lines over all files (file_owners, from history), or None."""
    from .tables import file_owners

    with engine.connect() as conn:
        row = conn.execute(
            sa.select(file_owners.c.author_email.label("email"), sa.func.max(file_owners.c.author_name).label("name"),
                      sa.func.sum(file_owners.c.lines).label("lines"))
            .where(file_owners.c.repository_id == repository_id)
            .group_by(file_owners.c.author_email)
            .order_by(sa.func.sum(file_owners.c.lines).desc(), file_owners.c.author_email).limit(1)).mappings().first()
    return {"email": row["email"], "name": row["name"], "lines": int(row["lines"] or 0)} if row else None


def package_names(engine: Engine) -> dict[str, str]:
    """Declared package name (a manifest fact's value.name) -> repository name, over all repositories.
    A name declared by several repositories maps to the first by name (deterministic)."""
    from .tables import facts, repositories

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(facts.c.value["name"].astext.label("package"), repositories.c.name)
            .join(repositories, repositories.c.id == facts.c.repository_id)
            .where(facts.c.kind == "manifest").order_by(repositories.c.name, facts.c.path)).all()
    out: dict[str, str] = {}
    for package, repository in rows:
        if package:
            out.setdefault(package, repository)
    return out


def similarity_sets(engine: Engine) -> dict[str, dict[str, set[str]]]:
    """repository -> {"abilities": approved ability keys, "frameworks": framework names,
    "dependencies": "ecosystem:name" of declared dependencies}, for every registered repository."""
    from .tables import ability_registry, facts, repositories

    out: dict[str, dict[str, set[str]]] = {}
    with engine.connect() as conn:
        for (name,) in conn.execute(sa.select(repositories.c.name)):
            out[name] = {"abilities": set(), "frameworks": set(), "dependencies": set()}
        for name, key in conn.execute(sa.select(repositories.c.name, ability_registry.c.ability_key)
                                      .join(repositories, repositories.c.id == ability_registry.c.repository_id)):
            out[name]["abilities"].add(key)
        rows = conn.execute(sa.select(repositories.c.name, facts.c.kind, facts.c.subject,
                                      facts.c.value["ecosystem"].astext)
                            .join(repositories, repositories.c.id == facts.c.repository_id)
                            .where(facts.c.kind.in_(("framework", "dependency"))))
        for name, kind, subject, ecosystem in rows:
            if kind == "framework":
                out[name]["frameworks"].add(subject)
            else:
                out[name]["dependencies"].add(f"{ecosystem or 'unknown'}:{subject}")
    return out


def route_facts(engine: Engine) -> dict[str, list[dict]]:
    """Every registered repository's route facts (kind, subject, value, path, line), by repository name, in
    one query (consumesApis matches other repositories' client calls against them)."""
    from .tables import facts, repositories

    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(repositories.c.name.label("repository"), facts.c.kind, facts.c.subject, facts.c.value,
                      facts.c.path, facts.c.line)
            .join(repositories, repositories.c.id == facts.c.repository_id)
            .where(facts.c.kind == "route")
            .order_by(repositories.c.name, facts.c.path, facts.c.line, facts.c.subject)).mappings().all()
    out: dict[str, list[dict]] = {}
    for row in rows:
        fact = dict(row)
        out.setdefault(fact.pop("repository"), []).append(fact)
    return out
