"""Signing in: password check, rate limiting, and the audit trail of every attempt.

Failed attempts are audit-log rows (``signin.failure``); an account with
:data:`MAX_PER_ACCOUNT` failures, or an address with :data:`MAX_PER_ADDRESS`,
within :data:`WINDOW` is refused until the oldest of them leaves the window —
without checking the password, so guessing gains nothing. Counting in the
database makes the limit hold across all server processes.

An attempt is logged as a failure ("checking") before its password is checked.
For the account, a check in flight counts as a failure (simultaneous guesses at
one password all count). For an address it does not: many people behind one
office NAT signing in at the same moment are not guessing — the address has its
own, higher cap of :data:`MAX_IN_FLIGHT_PER_ADDRESS` checks at once instead. A
check unresolved after :data:`CHECK_TIMEOUT` (its process died) is a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.access import audit, users
from opsmon.access.users import User

WINDOW = timedelta(minutes=15)
MAX_PER_ACCOUNT = 5
MAX_PER_ADDRESS = 20
MAX_IN_FLIGHT_PER_ADDRESS = 50
CHECK_TIMEOUT = timedelta(minutes=1)  # a password check takes well under a second


@dataclass(frozen=True)
class SignIn:
    """The outcome: *user* when signed in; else *blocked_until* when rate-limited, or a wrong password."""

    user: User | None
    blocked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def blocked_until(conn: sa.Connection, username: str, address: str | None) -> datetime | None:
    """When the account or address may try again, if it is over its limit now; else None.

    An account's failures count only since its last successful sign-in.
    """
    in_flight = ("details->>'reason' = 'checking' AND at > now() - CAST(:timeout AS interval)")
    # (column, its value, which failure rows count, limit, how long the limit-th most recent one blocks)
    limits = [
        ("username", username, "AND at > coalesce((SELECT max(at) FROM audit_log WHERE action = 'signin.success' "
                               "AND username = :v), '-infinity')", MAX_PER_ACCOUNT, WINDOW),
        ("address", address, f"AND NOT ({in_flight})", MAX_PER_ADDRESS, WINDOW),
        ("address", address, f"AND {in_flight}", MAX_IN_FLIGHT_PER_ADDRESS, CHECK_TIMEOUT),
    ]
    found: list[datetime] = []
    for column, value, which, limit, lasts in limits:
        if not value:
            continue
        # The limit-th most recent counted failure in the window: blocked until it ages out.
        at = conn.execute(sa.text(
            f"SELECT at FROM audit_log WHERE action = 'signin.failure' AND {column} = :v "
            f"AND at > now() - CAST(:window AS interval) {which} ORDER BY at DESC OFFSET :k LIMIT 1"
        ), {"v": value, "window": lasts, "timeout": CHECK_TIMEOUT, "k": limit - 1}).scalar()
        if at is not None:
            found.append(at + lasts)
    return max(found) if found else None


def sign_in(engine: Engine, username: str, password: str, address: str | None) -> SignIn:
    """Check *username*/*password* from *address*; every attempt lands in the audit log.

    The attempt is written as a failure *before* the (slow) password check, under
    a lock per account and per address, so simultaneous guesses all count against
    the limit; a good password then turns the entry into ``signin.success``.
    """
    username = (username or "").strip()
    user = users.get_user(engine, username) if username else None
    # Attempts at names that do not exist are logged without the name (it may be a mistyped password).
    logged_name = user.username if user else None
    with engine.begin() as conn:
        for key in (f"signin:user:{logged_name}" if logged_name else None, f"signin:addr:{address}"):
            if key:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
        until = blocked_until(conn, logged_name or "", address)
        if until is not None:
            audit.record(conn, "signin.blocked", username=logged_name, address=address,
                         details={"until": until.isoformat()})
            return SignIn(None, until)
        attempt = conn.execute(sa.text(
            "INSERT INTO audit_log (username, address, action, details) "
            "VALUES (:u, :a, 'signin.failure', '{\"reason\": \"checking\"}') RETURNING audit_id"),
            {"u": logged_name, "a": address}).scalar_one()
    good = users.verify_password(user.password_hash if user else None, password or "")
    with engine.begin() as conn:
        if good and user is not None and not user.disabled:
            conn.execute(sa.text("UPDATE audit_log SET action = 'signin.success', details = '{}' "
                                 "WHERE audit_id = :id"), {"id": attempt})
            users.touch_login(conn, user.username)
            return SignIn(user)
        reason = "disabled" if (good and user and user.disabled) else "unknown user" if user is None else "password"
        conn.execute(sa.text("UPDATE audit_log SET details = jsonb_build_object('reason', CAST(:r AS text)) "
                             "WHERE audit_id = :id"), {"id": attempt, "r": reason})
    return SignIn(None)
