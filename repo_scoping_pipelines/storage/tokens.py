"""API bearer tokens: created once, stored as their SHA-256 only, looked up by that digest.

Tokens are `secrets.token_urlsafe(32)` (256 random bits), so a fast unsalted digest is enough: there is
nothing to brute-force, unlike a password (argon2 and friends exist for low-entropy secrets and would
cost ~50 ms on every request). The digest is the lookup key, and the stored digest is compared once
more with hmac.compare_digest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Engine

from .tables import api_tokens

SCOPES = ("read", "review", "admin")  # each scope includes the ones before it
TOKEN_PREFIX = "rsp_"  # recognisable in a leaked config (and by secret scanners)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
# last_used_at is written at most this often per token, so reads do not turn into a write per request.
LAST_USED_RESOLUTION_S = 60


class TokenError(ValueError):
    """A token request was refused (bad name or scope, name taken, unknown name); the message says why."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a stored token's name, or `bootstrap` for REPO_SCOPING_API_TOKEN."""

    name: str
    scope: str
    # Whether last_used_at is older than LAST_USED_RESOLUTION_S (or unset): only then is it written.
    use_unrecorded: bool = False


# The token's last use is not recorded within LAST_USED_RESOLUTION_S (or never was).
_USE_UNRECORDED = sa.or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at
                         < sa.func.now() - sa.text(f"interval '{LAST_USED_RESOLUTION_S} seconds'"))


def scope_rank(scope: str) -> int:
    return SCOPES.index(scope)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check(name: str, scope: str) -> None:
    if scope not in SCOPES:
        raise TokenError(f"unknown scope {scope!r} (one of: {', '.join(SCOPES)})")
    if not NAME_RE.match(name or ""):
        raise TokenError(f"invalid token name {name!r}: 1-100 letters, digits, '.', '_', '@' or '-'")


def create_token(engine: Engine, name: str, scope: str) -> str:
    """Store a new token NAME with SCOPE and return it (the only time it is ever seen)."""
    _check(name, scope)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        inserted = conn.execute(
            insert(api_tokens).values(name=name, scope=scope, token_sha256=digest(token))
            .on_conflict_do_nothing(index_elements=["name"]).returning(api_tokens.c.name)).first()
    if inserted is None:
        raise TokenError(f"a token named {name!r} already exists: revoke it first or choose another name")
    return token


def list_tokens(engine: Engine) -> list[dict]:
    """Name, scope, created_at, last_used_at of every token; never the token or its digest."""
    with engine.connect() as conn:
        rows = conn.execute(sa.select(api_tokens.c.name, api_tokens.c.scope, api_tokens.c.created_at,
                                      api_tokens.c.last_used_at).order_by(api_tokens.c.name)).mappings()
        return [dict(r) for r in rows]


def revoke_token(engine: Engine, name: str) -> None:
    """Delete token NAME; TokenError when there is none (a typo should not look like success)."""
    with engine.begin() as conn:
        gone = conn.execute(sa.delete(api_tokens).where(api_tokens.c.name == name)).rowcount
    if not gone:
        raise TokenError(f"no token named {name!r}")


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The stored token matching `token`, or None. Does not touch last_used_at (see mark_used)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    wanted = digest(token)
    unrecorded = _USE_UNRECORDED
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_tokens.c.name, api_tokens.c.scope, api_tokens.c.token_sha256,
                                     unrecorded.label("unrecorded"))
                           .where(api_tokens.c.token_sha256 == wanted)).first()
    if row is None or not hmac.compare_digest(row.token_sha256, wanted):
        return None
    return Principal(row.name, row.scope, use_unrecorded=bool(row.unrecorded))


def mark_used(engine: Engine, name: str) -> None:
    """Record that token NAME was used just now (at most once a minute per token)."""
    with engine.begin() as conn:
        conn.execute(sa.update(api_tokens).where(api_tokens.c.name == name)
                     .where(_USE_UNRECORDED)
                     .values(last_used_at=sa.func.now()))
