"""API tokens: a bearer token acts as its user — the same role, the same scope.

A token is shown once, when it is made (``opsmon tokens add``, the 账号 page); only its
SHA-256 is stored. It stops working when it is revoked, after its ``expires_on`` day (China
time, :func:`opsmon.periods.today`), or when its user is disabled. Every change is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.access import audit
from opsmon.access.users import USER_COLUMNS, User, UserError

PREFIX = "opsmon_"  # makes a leaked token recognisable (secret scanners, logs)
MAX_LABEL = 100


@dataclass(frozen=True)
class Token:
    """A token's record (never the token itself)."""

    token_id: int
    username: str
    label: str
    expires_on: date | None


def token_hash(token: str) -> str:
    """The stored form of *token* (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def add_token(engine: Engine, username: str, *, label: str = "", expires_on: date | None = None,
              by: str | None = None) -> tuple[Token, str]:
    """Make a token for *username*; return its record and the token (shown once, stored only as a hash).

    ``UserError`` for an unknown or disabled user, a label over 100 characters, an expiry in the past.
    """
    label = (label or "").strip()
    if len(label) > MAX_LABEL:
        raise UserError(f"label must be at most {MAX_LABEL} characters")
    if expires_on is not None and expires_on < periods.today():
        raise UserError(f"expiry {expires_on.isoformat()} is in the past")
    secret = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        disabled = conn.execute(sa.text("SELECT disabled FROM users WHERE username = :u"), {"u": username}).scalar()
        if disabled is None:
            raise UserError(f"no user {username!r}")
        if disabled:
            raise UserError(f"user {username!r} is disabled")
        token_id = conn.execute(sa.text(
            "INSERT INTO api_tokens (username, label, token_hash, expires_on, created_by) "
            "VALUES (:u, :l, :h, :e, :b) RETURNING token_id"),
            {"u": username, "l": label, "h": token_hash(secret), "e": expires_on, "b": by}).scalar_one()
        audit.record(conn, "token.add", username=by, object=str(token_id),
                     details={"user": username, "label": label,
                              "expires_on": expires_on.isoformat() if expires_on else None})
    return Token(token_id, username, label, expires_on), secret


def list_tokens(engine: Engine, username: str | None = None) -> pd.DataFrame:
    """Tokens (all, or *username*'s), newest first: token_id, username, label, created_at, expires_on,
    last_used_at, status ('active', 'expired', 'revoked', 'user_disabled'). Never a hash."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT t.token_id, t.username, t.label, t.created_at, t.expires_on, t.last_used_at, t.revoked_at, "
            "CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked' WHEN u.disabled THEN 'user_disabled' "
            "     WHEN t.expires_on < :today THEN 'expired' ELSE 'active' END AS status "
            "FROM api_tokens t JOIN users u USING (username) "
            "WHERE :user IS NULL OR t.username = :user ORDER BY t.token_id DESC"),
            conn, params={"user": username, "today": periods.today()})


def revoke_token(engine: Engine, token_id: int, *, by: str | None = None, owner: str | None = None) -> bool:
    """Revoke token *token_id* (with *owner*: only if it is that user's). True if it was active.

    ``UserError`` when there is no such token (or it is not *owner*'s: the same answer).
    """
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "SELECT username, revoked_at IS NOT NULL FROM api_tokens WHERE token_id = :t "
            "AND (:owner IS NULL OR username = :owner)"), {"t": int(token_id), "owner": owner}).first()
        if row is None:
            raise UserError(f"no token {token_id}")
        if row[1]:
            return False
        conn.execute(sa.text("UPDATE api_tokens SET revoked_at = now(), revoked_by = :b WHERE token_id = :t"),
                     {"t": int(token_id), "b": by})
        audit.record(conn, "token.revoke", username=by, object=str(token_id), details={"user": row[0]})
    return True


def token_user(engine: Engine, token: str) -> tuple[Token, User] | None:
    """The token's record and its user, if *token* works now (not revoked, not expired, user enabled)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    user_columns = ", ".join("u." + c.strip() for c in USER_COLUMNS.split(","))
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            f"UPDATE api_tokens t SET last_used_at = now() FROM users u "
            "WHERE t.token_hash = :h AND u.username = t.username AND t.revoked_at IS NULL AND NOT u.disabled "
            "AND (t.expires_on IS NULL OR t.expires_on >= :today) "
            f"RETURNING t.token_id, t.label, t.expires_on, {user_columns}"),
            {"h": token_hash(token), "today": periods.today()}).first()
    if row is None:
        return None
    token_id, label, expires_on, *user = row
    found = User(*user)
    return Token(token_id, found.username, label, expires_on), found
