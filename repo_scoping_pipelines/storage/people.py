"""People registry and pull-request metrics in Postgres: the inputs read as pandas frames, the registry
replaced in one transaction, manual decisions, PR details (reviews, files, commits) and the per-author
PR windows; plus the ad-hoc reads behind since/until and person= on the metrics routes."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .tables import (
    SCHEMA,
    author_daily,
    people,
    person_decisions,
    person_identities,
    person_suggestions,
    pr_author_window,
    pull_request_commits,
    pull_request_details,
    pull_request_files,
    pull_request_reviews,
    pull_requests,
)


def _frame(conn: sa.Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    result = conn.execute(sa.text(sql), params or {})
    return pd.DataFrame(result.all(), columns=list(result.keys()))


# -- registry inputs ---------------------------------------------------------------------------------

def registry_inputs(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every identity seen, across repositories: git authors, GitHub logins, commit linkage, Redmine users."""
    s = SCHEMA
    with engine.connect() as conn:
        return {
            "git": _frame(conn, f"SELECT author_email AS email, author_name AS name, count(*) AS commits "
                                f"FROM {s}.history_commits GROUP BY 1, 2"),
            "github": _frame(conn, f"""
                SELECT login, count(*) AS seen FROM (
                  SELECT author_login AS login FROM {s}.pull_requests
                  UNION ALL SELECT reviewer_login FROM {s}.pull_request_reviews
                  UNION ALL SELECT author_login FROM {s}.pull_request_commits) x GROUP BY 1"""),
            # The login GitHub attributes a commit to, with the .mailmap-resolved e-mail when the commit
            # is in the stored history, else the e-mail GitHub shows (squash-merged branches).
            "linkage": _frame(conn, f"""
                SELECT DISTINCT coalesce(h.author_email, c.author_email) AS email, c.author_login AS login,
                       coalesce(h.author_name, c.author_name) AS name
                FROM {s}.pull_request_commits c
                LEFT JOIN {s}.history_commits h ON h.repository_id = c.repository_id AND h.sha = c.sha
                WHERE c.author_login IS NOT NULL"""),
            "redmine": _frame(conn, f"""
                SELECT name, count(*) AS seen FROM (
                  SELECT author AS name FROM {s}.tracker_issues
                  UNION ALL SELECT assigned_to FROM {s}.tracker_issues) x
                WHERE name IS NOT NULL GROUP BY 1"""),
        }


def decisions(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(person_decisions.c.action, person_decisions.c.identity_a,
                                      person_decisions.c.identity_b).order_by(person_decisions.c.id)).all()
    return [tuple(r) for r in rows]


def add_decision(engine: Engine, action: str, identity_a: str, identity_b: str | None, *,
                 decided_by: str | None, note: str | None) -> int:
    with engine.begin() as conn:
        return conn.execute(insert(person_decisions).values(
            action=action, identity_a=identity_a, identity_b=identity_b, decided_by=decided_by, note=note)
            .returning(person_decisions.c.id)).scalar_one()


def replace_registry(engine: Engine, identities: pd.DataFrame, people_rows: pd.DataFrame,
                     suggestions: pd.DataFrame) -> dict[str, int]:
    """Replace people, identities and suggestions together (one transaction, one writer at a time).

    Returns how many identities changed person since the last computation.
    """
    with engine.begin() as conn:
        conn.execute(sa.text(f"LOCK TABLE {SCHEMA}.person_identities IN EXCLUSIVE MODE"))
        before = dict(conn.execute(sa.select(person_identities.c.identity, person_identities.c.person_id)).all())
        for table in (person_suggestions, person_identities, people):
            conn.execute(sa.delete(table))
        for table, frame in ((people, people_rows), (person_identities, identities),
                             (person_suggestions, suggestions)):
            rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
            for start in range(0, len(rows), 2000):
                conn.execute(insert(table), rows[start:start + 2000])
    after = dict(zip(identities["identity"], identities["person_id"], strict=True))
    moved = sum(1 for k, v in after.items() if k in before and before[k] != v)
    return {"moved": moved, "new": sum(1 for k in after if k not in before)}


def known_identities(engine: Engine, keys: list[str]) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.select(person_identities.c.identity)
                                .where(person_identities.c.identity.in_(keys))).scalars())


def list_people(engine: Engine, q: str | None = None, limit: int = 100) -> list[dict]:
    stmt = sa.select(people).order_by(people.c.display_name, people.c.person_id).limit(limit)
    if q:
        pattern = f"%{q}%"
        sub = sa.select(person_identities.c.person_id).where(person_identities.c.value.ilike(pattern)
                                                             | person_identities.c.display_name.ilike(pattern))
        stmt = stmt.where(people.c.person_id.in_(sub) | people.c.display_name.ilike(pattern))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def suggestions_of(engine: Engine, keys: list[str] | None = None, limit: int = 100) -> list[dict]:
    stmt = sa.select(person_suggestions).order_by(person_suggestions.c.confidence.desc(),
                                                  person_suggestions.c.identity_a).limit(limit)
    if keys is not None:
        stmt = stmt.where(person_suggestions.c.identity_a.in_(keys) | person_suggestions.c.identity_b.in_(keys))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def person_of(engine: Engine, person_or_identity: str) -> str | None:
    """The person id for a person id or an identity key; None when unknown."""
    with engine.connect() as conn:
        if conn.execute(sa.select(people.c.person_id).where(people.c.person_id == person_or_identity)).first():
            return person_or_identity
        return conn.execute(sa.select(person_identities.c.person_id)
                            .where(person_identities.c.identity == person_or_identity)).scalar()


def person(engine: Engine, person_id: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(people).where(people.c.person_id == person_id)).mappings().first()
        if row is None:
            return None
        ids = conn.execute(sa.select(person_identities).where(person_identities.c.person_id == person_id)
                           .order_by(person_identities.c.kind, person_identities.c.identity)).mappings().all()
    return {**dict(row), "identity_list": [dict(i) for i in ids]}


def registry_totals(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {"people": conn.execute(sa.select(sa.func.count()).select_from(people)).scalar_one(),
                "identities": conn.execute(sa.select(sa.func.count()).select_from(person_identities)).scalar_one(),
                "orphans": conn.execute(sa.select(sa.func.count()).select_from(person_identities).where(
                    person_identities.c.person_id.not_in(sa.select(people.c.person_id)))).scalar_one()}


# -- pull-request details ------------------------------------------------------------------------------

def pending_details(engine: Engine, repository_id: int) -> list[tuple[int, datetime]]:
    """PRs whose reviews/files/commits were never fetched, or were fetched for an older version."""
    d = pull_request_details
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(pull_requests.c.number, pull_requests.c.updated_at)
            .select_from(pull_requests.outerjoin(d, sa.and_(d.c.repository_id == pull_requests.c.repository_id,
                                                            d.c.number == pull_requests.c.number)))
            .where(pull_requests.c.repository_id == repository_id,
                   sa.or_(d.c.number.is_(None), d.c.pr_updated_at < pull_requests.c.updated_at))
            .order_by(pull_requests.c.number)).all()
    return [(int(n), u) for n, u in rows]


def store_details(engine: Engine, repository_id: int, number: int, updated_at: datetime, reviews: list[dict],
                  files: list[dict], commits: list[dict]) -> None:
    """Replace one PR's reviews, files and commits, and mark the version fetched (one transaction)."""
    key = {"repository_id": repository_id, "number": number}
    with engine.begin() as conn:
        for table, rows in ((pull_request_reviews, reviews), (pull_request_files, files),
                            (pull_request_commits, commits)):
            conn.execute(sa.delete(table).where(table.c.repository_id == repository_id, table.c.number == number))
            if rows:
                conn.execute(insert(table).on_conflict_do_nothing(), [{**key, **r} for r in rows])
        values = {"pr_updated_at": updated_at, "reviews": len(reviews), "files": len(files),
                  "additions": sum(f["additions"] for f in files), "deletions": sum(f["deletions"] for f in files),
                  "commits": len(commits), "fetched_at": sa.func.now()}
        conn.execute(insert(pull_request_details).values(**key, **values)
                     .on_conflict_do_update(index_elements=["repository_id", "number"], set_=values))


def detail_totals(engine: Engine, repository_id: int) -> dict[str, int]:
    d = pull_request_details
    with engine.connect() as conn:
        row = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(d.c.reviews), 0),
                                     sa.func.coalesce(sa.func.sum(d.c.files), 0))
                           .where(d.c.repository_id == repository_id)).one()
    return {"prs_with_details": int(row[0]), "reviews": int(row[1]), "files": int(row[2])}


def pr_inputs(engine: Engine, repository_id: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    s, p = SCHEMA, {"rid": repository_id}
    with engine.connect() as conn:
        prs = _frame(conn, f"SELECT number, author_login, created_at, merged_at FROM {s}.pull_requests "
                           "WHERE repository_id = :rid", p)
        reviews = _frame(conn, f"SELECT number, reviewer_login, state, submitted_at FROM {s}.pull_request_reviews "
                               "WHERE repository_id = :rid", p)
        sizes = _frame(conn, f"SELECT number, files, additions + deletions AS lines FROM {s}.pull_request_details "
                             "WHERE repository_id = :rid", p)
    return prs, reviews, sizes


def replace_pr_windows(engine: Engine, repository_id: int, windows: dict[str, list[dict]], as_of: datetime) -> int:
    n = 0
    with engine.begin() as conn:
        conn.execute(sa.delete(pr_author_window).where(pr_author_window.c.repository_id == repository_id))
        for window, rows in windows.items():
            if rows:
                conn.execute(insert(pr_author_window), [{**r, "repository_id": repository_id, "window": window,
                                                         "as_of": as_of} for r in rows])
                n += len(rows)
    return n


def pr_window_rows(engine: Engine, repository_id: int, window: str, logins: list[str] | None = None) -> list[dict]:
    t = pr_author_window
    cols = [c for c in t.c if c.name not in ("repository_id", "window", "as_of")]
    stmt = (sa.select(*cols).where(t.c.repository_id == repository_id, t.c.window == window)
            .order_by(t.c.opened.desc(), t.c.merged.desc(), t.c.reviews_given.desc(), t.c.author_login))
    if logins is not None:
        stmt = stmt.where(t.c.author_login.in_(logins))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def pr_window_as_of(engine: Engine, repository_id: int) -> datetime | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.max(pr_author_window.c.as_of))
                            .where(pr_author_window.c.repository_id == repository_id)).scalar()


# -- reads behind since/until and person= ----------------------------------------------------------------

def daily_rows(engine: Engine, repository_id: int, since: date, until: date,
               emails: list[str] | None = None) -> list[dict]:
    """author_daily rows of days [since, until] (inclusive), optionally for some e-mails."""
    t = author_daily
    stmt = (sa.select(t.c.day, t.c.author_email, t.c.author_name, t.c.commits, t.c.lines_added, t.c.lines_deleted,
                      t.c.files_touched)
            .where(t.c.repository_id == repository_id, t.c.day >= since, t.c.day <= until)
            .order_by(t.c.day, t.c.author_email))
    if emails is not None:
        stmt = stmt.where(sa.func.lower(t.c.author_email).in_(emails))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def author_emails_known(engine: Engine, repository_id: int, email: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT 1 FROM {SCHEMA}.history_commits WHERE repository_id = :rid "
                                    "AND lower(author_email) = :e LIMIT 1"),
                            {"rid": repository_id, "e": email.lower()}).first() is not None


def authors_between(engine: Engine, repository_id: int, since: datetime | None, until: datetime | None, *,
                    by_person: bool = False) -> list[dict]:
    """Like author_window, for any range (since, until] of author dates, straight from the history; with
    `by_person`, one row per person of the registry (an e-mail it does not know stands alone): commits,
    lines, distinct files and days over all of that person's e-mails, counted once each."""
    s = SCHEMA
    where = ["c.repository_id = :rid"]
    if since is not None:
        where.append("c.authored_at > :since")
    if until is not None:
        where.append("c.authored_at <= :until")
    key = "who" if by_person else "author_email"
    person_columns = ("max(person_id) AS person_id, "
                      "array_agg(DISTINCT lower(author_email) ORDER BY lower(author_email)) AS emails,"
                      if by_person else "")
    # The person of each commit's e-mail (person_identities' key is `email:` + the lowercased address),
    # and the person's name as the registry shows it.
    commits_from = (f", coalesce(pi.person_id, 'email:' || lower(c.author_email)) AS who, pi.person_id "
                    f"FROM {s}.history_commits c LEFT JOIN {s}.person_identities pi "
                    f"ON pi.identity = 'email:' || lower(c.author_email)") if by_person else \
        f" FROM {s}.history_commits c"
    name, people_join = ("coalesce(p.display_name, per.author_name)",
                         f"LEFT JOIN {s}.people p ON p.person_id = per.person_id") if by_person else \
        ("per.author_name", "")
    sql = f"""
    WITH c AS (SELECT c.*{commits_from} WHERE {' AND '.join(where)}),
    per AS (SELECT {key}, count(*) AS commits, sum(lines_added) AS lines_added,
                   sum(lines_deleted) AS lines_deleted, count(DISTINCT author_day) AS active_days, {person_columns}
                   (array_agg(author_email ORDER BY authored_at DESC, sha))[1] AS latest_email,
                   (array_agg(author_name ORDER BY authored_at DESC, sha))[1] AS author_name
            FROM c GROUP BY {key}),
    touched AS (SELECT c.{key}, count(DISTINCT f.path) AS files_touched FROM c
                JOIN {s}.history_commit_files f ON f.repository_id = :rid AND f.sha = c.sha GROUP BY 1)
    SELECT per.*, {name} AS shown_name, coalesce(touched.files_touched, 0) AS files_touched
    FROM per LEFT JOIN touched USING ({key}) {people_join} ORDER BY per.commits DESC, per.latest_email"""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(sql), {"rid": repository_id, "since": since, "until": until}).mappings().all()
    out = []
    for r in rows:
        row = {"author_email": r["latest_email"], "author_name": r["shown_name"],
               **{k: int(r[k]) for k in ("commits", "lines_added", "lines_deleted", "files_touched", "active_days")}}
        if by_person:
            row.update(person_id=r["person_id"], emails=list(r["emails"]))
        out.append(row)
    return out


def person_map(engine: Engine, kind: str) -> dict[str, tuple[str, str]]:
    """identity value -> (person_id, person display name) for one kind of identity."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(person_identities.c.value, people.c.person_id, people.c.display_name)
                            .join(people, people.c.person_id == person_identities.c.person_id)
                            .where(person_identities.c.kind == kind)).all()
    return {v: (p, n) for v, p, n in rows}


def identities_of(engine: Engine, person_id: str, kind: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(person_identities.c.value).where(
            person_identities.c.person_id == person_id, person_identities.c.kind == kind)).scalars())
