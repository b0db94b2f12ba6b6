"""Change coupling across repositories (issue 16): the history it is computed from, and its rows, replaced
whole in one transaction (cross_repository_coupling)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .db import fetch_tuples
from .tables import cross_repository_coupling, history_commit_files, history_commits, repositories

# A Postgres pre-filter for subjects that may name an issue key (insight/cross_coupling.py decides):
# a Jira-style key, a `#N` (qualified `owner/repo#N`, or bare: the repository's own) or a URL.
MAY_NAME_A_KEY = r"[A-Z][A-Z0-9_]{1,19}-[1-9]|#[1-9]|https?://"


def keyed_history(engine: Engine) -> list[tuple]:
    """(repository_id, sha, subject, path, old_path) of every stored commit whose subject may name an issue
    key, and every rename (to follow files to their names at the head); newest commit first per repository."""
    c, f = history_commits, history_commit_files
    query = (sa.select(f.c.repository_id, f.c.sha, c.c.subject, f.c.path, f.c.old_path)
             .join(c, sa.and_(c.c.repository_id == f.c.repository_id, c.c.sha == f.c.sha))
             .where(sa.or_(c.c.subject.op("~")(MAY_NAME_A_KEY), f.c.old_path.is_not(None)))
             .order_by(f.c.repository_id, c.c.committed_at.desc(), f.c.sha))
    with engine.connect() as conn:
        return fetch_tuples(conn, query)  # plain tuples: every repository's history


def repository_names(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(repositories.c.id, repositories.c.name)).all())


def replace_cross_coupling(engine: Engine, rows: list[dict]) -> None:
    """Make the stored pairs exactly `rows` (repository_a_id < repository_b_id)."""
    with engine.begin() as conn:
        conn.execute(sa.delete(cross_repository_coupling))
        for start in range(0, len(rows), 5000):
            conn.execute(sa.insert(cross_repository_coupling), rows[start:start + 5000])


def list_cross_coupling(engine: Engine, repository_id: int, path: str | None = None, limit: int = 50) -> list[dict]:
    """The pairs with a file of `repository_id`, oriented so that side a is that repository, strongest first."""
    t = cross_repository_coupling
    ra, rb = repositories.alias("ra"), repositories.alias("rb")
    mine_a = t.c.repository_a_id == repository_id

    def side(mine, theirs):
        return sa.case((mine_a, mine), else_=theirs)

    query = (sa.select(side(ra.c.name, rb.c.name).label("repository_a"), side(t.c.path_a, t.c.path_b).label("path_a"),
                       side(rb.c.name, ra.c.name).label("repository_b"), side(t.c.path_b, t.c.path_a).label("path_b"),
                       t.c.shared_revisions,
                       side(t.c.revisions_a, t.c.revisions_b).label("revisions_a"),
                       side(t.c.revisions_b, t.c.revisions_a).label("revisions_b"),
                       t.c.degree, t.c.shared_keys)
             .join(ra, ra.c.id == t.c.repository_a_id).join(rb, rb.c.id == t.c.repository_b_id)
             .where(sa.or_(mine_a, t.c.repository_b_id == repository_id)))
    if path:
        query = query.where(sa.or_(sa.and_(mine_a, t.c.path_a == path),
                                   sa.and_(t.c.repository_b_id == repository_id, t.c.path_b == path)))
    query = query.order_by(t.c.degree.desc(), t.c.shared_revisions.desc(), sa.literal_column("repository_b"),
                           sa.literal_column("path_a"), sa.literal_column("path_b")).limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def cross_coupling_counts(engine: Engine) -> dict[str, int]:
    """Stored pairs, and pairs that break the invariants: 0 < degree <= 1, shared <= either file's
    revisions, each pair once (repository_a_id < repository_b_id), at least one shared key listed."""
    t = cross_repository_coupling
    with engine.connect() as conn:
        pairs = conn.scalar(sa.select(sa.func.count()).select_from(t))
        bad = conn.scalar(sa.select(sa.func.count()).select_from(t).where(sa.or_(
            t.c.degree <= 0, t.c.degree > 1, t.c.shared_revisions > sa.func.least(t.c.revisions_a, t.c.revisions_b),
            t.c.repository_a_id >= t.c.repository_b_id, sa.func.jsonb_array_length(t.c.shared_keys) == 0)))
        repos = conn.scalar(sa.select(sa.func.count()).select_from(
            sa.union(sa.select(t.c.repository_a_id), sa.select(t.c.repository_b_id)).subquery()))
    return {"cross_pairs": int(pairs or 0), "cross_rows_invalid": int(bad or 0), "coupled_repositories": int(repos or 0)}
