"""Hotspots and change coupling rows (issue 16): replaced whole per repository, in one transaction."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .db import fetch_tuples
from .tables import (
    codeowners_rules,
    codeowners_summary,
    fact_file_state,
    file_coupling,
    file_hotspots,
    history_commit_files,
    history_commits,
    knowledge_paths,
    knowledge_people,
    line_authors,
)


def history_changes(engine: Engine, repository_id: int) -> list[tuple]:
    """One (sha, path, old_path, authored_at as epoch seconds) per (commit, file) of the stored history,
    newest commit first; plain tuples fetched at once (a long history has hundreds of thousands, and
    pandas converts epoch numbers far faster than datetime objects)."""
    query = (sa.select(history_commit_files.c.sha, history_commit_files.c.path, history_commit_files.c.old_path,
                       sa.cast(sa.extract("epoch", history_commits.c.authored_at), sa.Float))
             .join(history_commits, sa.and_(history_commits.c.repository_id == history_commit_files.c.repository_id,
                                            history_commits.c.sha == history_commit_files.c.sha))
             .where(history_commit_files.c.repository_id == repository_id)
             .order_by(history_commits.c.committed_at.desc(), history_commits.c.sha))
    with engine.connect() as conn:
        return fetch_tuples(conn, query)


def replace_insight(engine: Engine, repository_id: int, hotspots: list[dict], coupling: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(file_hotspots).where(file_hotspots.c.repository_id == repository_id))
        conn.execute(sa.delete(file_coupling).where(file_coupling.c.repository_id == repository_id))
        if hotspots:
            conn.execute(sa.insert(file_hotspots), [{"repository_id": repository_id, **r} for r in hotspots])
        if coupling:
            conn.execute(sa.insert(file_coupling), [{"repository_id": repository_id, **r} for r in coupling])


def list_hotspots(engine: Engine, repository_id: int, window: str, limit: int = 50) -> list[dict]:
    query = (sa.select(file_hotspots.c.path, file_hotspots.c.revisions, file_hotspots.c.complexity,
                       file_hotspots.c.score, file_hotspots.c.rank, file_hotspots.c.previous_revisions,
                       file_hotspots.c.trend)
             .where(file_hotspots.c.repository_id == repository_id, file_hotspots.c.window == window)
             .order_by(file_hotspots.c.rank).limit(limit))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def list_coupling(engine: Engine, repository_id: int, path: str | None = None, limit: int = 50) -> list[dict]:
    query = sa.select(file_coupling.c.path_a, file_coupling.c.path_b, file_coupling.c.shared_revisions,
                      file_coupling.c.revisions_a, file_coupling.c.revisions_b, file_coupling.c.degree
                      ).where(file_coupling.c.repository_id == repository_id)
    if path:
        query = query.where(sa.or_(file_coupling.c.path_a == path, file_coupling.c.path_b == path))
    query = query.order_by(file_coupling.c.degree.desc(), file_coupling.c.shared_revisions.desc(),
                           file_coupling.c.path_a, file_coupling.c.path_b).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def insight_counts(engine: Engine, repository_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        hot = conn.scalar(sa.select(sa.func.count()).select_from(file_hotspots)
                          .where(file_hotspots.c.repository_id == repository_id))
        pairs = conn.scalar(sa.select(sa.func.count()).select_from(file_coupling)
                            .where(file_coupling.c.repository_id == repository_id))
        bad = conn.scalar(sa.select(sa.func.count()).select_from(file_coupling).where(
            file_coupling.c.repository_id == repository_id,
            sa.or_(file_coupling.c.degree <= 0, file_coupling.c.degree > 1,
                   file_coupling.c.shared_revisions > sa.func.least(file_coupling.c.revisions_a,
                                                                    file_coupling.c.revisions_b))))
    return {"hotspot_rows": int(hot or 0), "coupled_pairs": int(pairs or 0), "coupling_rows_invalid": int(bad or 0)}


# --- knowledge risk ---------------------------------------------------------------------------------------

def blamed_hashes(engine: Engine, repository_id: int) -> dict[str, str]:
    """path -> content hash of the blob its stored line authorship was computed from."""
    query = (sa.select(line_authors.c.path, sa.func.min(line_authors.c.content_hash))
             .where(line_authors.c.repository_id == repository_id).group_by(line_authors.c.path))
    with engine.connect() as conn:
        return dict(conn.execute(query).all())


def replace_line_authors(engine: Engine, repository_id: int, removed: list[str], rows: list[dict]) -> None:
    """Drop the authorship of `removed` paths and of every path in `rows`, then insert `rows`."""
    paths = sorted(set(removed) | {r["path"] for r in rows})
    with engine.begin() as conn:
        for start in range(0, len(paths), 1000):
            conn.execute(sa.delete(line_authors).where(line_authors.c.repository_id == repository_id,
                                                       line_authors.c.path.in_(paths[start:start + 1000])))
        if rows:
            conn.execute(sa.insert(line_authors), [{"repository_id": repository_id, **r} for r in rows])


def line_author_rows(engine: Engine, repository_id: int) -> list[dict]:
    query = sa.select(line_authors.c.path, line_authors.c.author, line_authors.c.author_name,
                      line_authors.c.lines).where(line_authors.c.repository_id == repository_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def active_authors(engine: Engine, repository_id: int, since) -> list[tuple[str, str]]:
    """(e-mail, name) of authors with a stored commit authored after `since`."""
    query = (sa.select(history_commits.c.author_email, history_commits.c.author_name).distinct()
             .where(history_commits.c.repository_id == repository_id, history_commits.c.authored_at > since))
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query).all()]


def replace_knowledge(engine: Engine, repository_id: int, paths: list[dict], people: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(knowledge_paths).where(knowledge_paths.c.repository_id == repository_id))
        conn.execute(sa.delete(knowledge_people).where(knowledge_people.c.repository_id == repository_id))
        if paths:
            conn.execute(sa.insert(knowledge_paths), [{"repository_id": repository_id, **r} for r in paths])
        if people:
            conn.execute(sa.insert(knowledge_people), [{"repository_id": repository_id, **r} for r in people])


_PATH_COLUMNS = [c for c in knowledge_paths.c if c.name != "repository_id"]
_PEOPLE_COLUMNS = [c for c in knowledge_people.c if c.name != "repository_id"]


def knowledge_of(engine: Engine, repository_id: int, path: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(*_PATH_COLUMNS).where(knowledge_paths.c.repository_id == repository_id,
                                                           knowledge_paths.c.path == path)).mappings().first()
    return dict(row) if row else None


def islands_under(engine: Engine, repository_id: int, path: str, limit: int = 100) -> list[dict]:
    query = sa.select(*_PATH_COLUMNS).where(knowledge_paths.c.repository_id == repository_id,
                                            knowledge_paths.c.is_island.is_(True))
    if path:
        query = query.where(sa.or_(knowledge_paths.c.path == path, knowledge_paths.c.path.startswith(path + "/")))
    query = query.order_by(knowledge_paths.c.lines.desc(), knowledge_paths.c.path).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def knowledge_person(engine: Engine, repository_id: int, author: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(*_PEOPLE_COLUMNS).where(knowledge_people.c.repository_id == repository_id,
                                                             knowledge_people.c.author == author)).mappings().first()
    return dict(row) if row else None


def knowledge_counts(engine: Engine, repository_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.scalar(sa.select(sa.func.count()).select_from(knowledge_paths)
                           .where(knowledge_paths.c.repository_id == repository_id))
        bad = conn.scalar(sa.select(sa.func.count()).select_from(knowledge_paths).where(
            knowledge_paths.c.repository_id == repository_id,
            sa.or_(knowledge_paths.c.active_lines > knowledge_paths.c.lines, knowledge_paths.c.bus_factor < 0,
                   knowledge_paths.c.active_share < 0, knowledge_paths.c.active_share > 1)))
    return {"knowledge_rows": int(rows or 0), "knowledge_rows_invalid": int(bad or 0)}


# --- CODEOWNERS compared with the line authors (codeowners_drift, written by knowledge_risk) -----------

def extraction_warnings(engine: Engine, repository_id: int, path: str) -> list[str]:
    """The warnings of one file's stored fact extraction (a CODEOWNERS file's malformed lines)."""
    with engine.connect() as conn:
        extraction = conn.scalar(sa.select(fact_file_state.c.extraction).where(
            fact_file_state.c.repository_id == repository_id, fact_file_state.c.path == path))
    return [str(w) for w in (extraction or {}).get("warnings", [])]


def replace_codeowners_drift(engine: Engine, repository_id: int, summary: dict, rules: list[dict]) -> None:
    """Make the stored comparison of a repository exactly `summary` and `rules` (one transaction)."""
    with engine.begin() as conn:
        conn.execute(sa.delete(codeowners_rules).where(codeowners_rules.c.repository_id == repository_id))
        conn.execute(sa.delete(codeowners_summary).where(codeowners_summary.c.repository_id == repository_id))
        conn.execute(sa.insert(codeowners_summary), [{"repository_id": repository_id, **summary}])
        if rules:
            conn.execute(sa.insert(codeowners_rules), [{"repository_id": repository_id, **r} for r in rules])


def codeowners_drift_of(engine: Engine, repository_id: int) -> tuple[dict | None, list[dict]]:
    """(summary or None when knowledge_risk has not compared yet, rules in file order)."""
    with engine.connect() as conn:
        summary = conn.execute(sa.select(*[c for c in codeowners_summary.c if c.name != "repository_id"])
                               .where(codeowners_summary.c.repository_id == repository_id)).mappings().first()
        rules = conn.execute(sa.select(*[c for c in codeowners_rules.c if c.name != "repository_id"])
                             .where(codeowners_rules.c.repository_id == repository_id)
                             .order_by(codeowners_rules.c.rule_order)).mappings().all()
    return (dict(summary) if summary else None), [dict(r) for r in rules]


def codeowners_counts(engine: Engine, repository_id: int) -> dict[str, int]:
    """Stored rows, and whether every governed file is counted once: governed + unowned = files; in each
    section the rules' files (disjoint: the last matching rule wins) add up to what the section governs,
    and no section governs more files than are governed at all."""
    summary, rules = codeowners_drift_of(engine, repository_id)
    if summary is None:
        return {"codeowners_rules": 0, "codeowners_count_errors": 0}
    errors = int(summary["governed_files"] + summary["unowned_files"] != summary["files"])
    per_section: dict[str, int] = {}
    for rule in rules:
        per_section[rule["section"] or ""] = per_section.get(rule["section"] or "", 0) + rule["files"]
    stored = {k: int(v) for k, v in (summary["section_files"] or {}).items()}
    errors += sum(1 for k in set(per_section) | set(stored) if per_section.get(k, 0) != stored.get(k, 0))
    errors += sum(1 for n in per_section.values() if n > summary["governed_files"])
    if len(per_section) == 1:  # one section (GitHub): each governed file belongs to exactly one rule
        errors += int(sum(per_section.values()) != summary["governed_files"])
    return {"codeowners_rules": len(rules), "codeowners_count_errors": errors}
