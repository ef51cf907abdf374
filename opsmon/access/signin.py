"""Signing in: password check, rate limiting, a slowdown, and the audit trail of every attempt.

Failed attempts are audit-log rows (``signin.failure``). An attempt is refused
(``blocked_until``) without checking its password, so guessing gains nothing, when

* its name *from its address* has :data:`MAX_PER_NAME_AND_ADDRESS` failures within
  :data:`WINDOW` — that (name, address) pair only: the same name from another address is
  not blocked, so a stranger cannot lock someone else's account;
* its address has :data:`MAX_PER_ADDRESS` failures within :data:`WINDOW`, whatever the names;
* its address has :data:`MAX_IN_FLIGHT_PER_ADDRESS` checks in flight (see below);

until the oldest of those failures leaves the window. Against guessing one account
from many addresses there is a slowdown instead of a lockout: once a name has
:data:`SLOWDOWN_AFTER` failures within the window, from any addresses, each further
attempt waits :func:`slowdown` seconds before its password is checked — the right
password still signs in. A name's failures count only since its last successful
sign-in or its last ``user.unlock`` (:func:`unlock`, ``opsmon users unlock``).
Counting in the database makes all this hold across all server processes.

Names are counted by a keyed hash (:func:`name_key`: HMAC-SHA256 of the normalised name
with a random per-database salt kept in ``settings``), stored in the row's ``details``
as ``name_key`` for every attempt. So a name that does not exist is counted and answered
exactly like one that does (no user enumeration), yet is never stored in clear (it may
be a mistyped password); the rows of existing users also keep their ``username``.

An attempt is logged as a failure ("checking") before its password is checked.
For the name, a check in flight counts as a failure (simultaneous guesses at
one password all count). For an address it does not: many people behind one
office NAT signing in at the same moment are not guessing — the address has its
own, higher cap of :data:`MAX_IN_FLIGHT_PER_ADDRESS` checks at once instead. A
check unresolved after :data:`CHECK_TIMEOUT` (its process died) is a failure.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.access import audit, users
from opsmon.access.users import User

WINDOW = timedelta(minutes=15)
MAX_PER_NAME_AND_ADDRESS = 5
MAX_PER_ADDRESS = 20
MAX_IN_FLIGHT_PER_ADDRESS = 50
CHECK_TIMEOUT = timedelta(minutes=1)  # a password check takes well under a second (plus the slowdown)
SLOWDOWN_AFTER = 10  # a name's failures within WINDOW (any addresses) from which each attempt waits
SLOWDOWN_STEP = 0.5  # seconds more for each failure from SLOWDOWN_AFTER on
SLOWDOWN_MAX = 5.0  # seconds at most
SALT_SETTING = "signin_name_salt"  # the settings key of name_key's salt, created on first use

sleep = time.sleep  # how the slowdown waits (tests replace it)

# A name's failures count since its last success or unlock (both rows carry its name_key).
_SINCE_RESET = ("at > coalesce((SELECT max(at) FROM audit_log WHERE action IN ('signin.success', 'user.unlock') "
                "AND details->>'name_key' = :k), '-infinity')")


@dataclass(frozen=True)
class SignIn:
    """The outcome: *user* when signed in; else *blocked_until* when rate-limited, or a wrong password."""

    user: User | None
    blocked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def normalise(name: str | None) -> str:
    """The name as counted: NFKC (full-width letters typed with a Chinese IME are the plain ones), trimmed."""
    return unicodedata.normalize("NFKC", name or "").strip()


def _salt(conn: sa.Connection) -> bytes:
    """This database's random salt for :func:`name_key`; the first caller creates it (concurrent ones agree)."""
    query = sa.text("SELECT value #>> '{}' FROM settings WHERE key = :k")
    salt = conn.execute(query, {"k": SALT_SETTING}).scalar()
    if salt is None:
        conn.execute(sa.text("INSERT INTO settings (key, value) VALUES (:k, to_jsonb(CAST(:v AS text))) "
                             "ON CONFLICT (key) DO NOTHING"), {"k": SALT_SETTING, "v": secrets.token_hex(32)})
        salt = conn.execute(query, {"k": SALT_SETTING}).scalar_one()
    return salt.encode()


def name_key(conn: sa.Connection, name: str | None) -> str:
    """The keyed hash (hex) a name is counted by: the same for a name that exists and one that does not."""
    return hmac.new(_salt(conn), normalise(name).encode(), hashlib.sha256).hexdigest()


def blocked_until(conn: sa.Connection, key: str, address: str | None) -> datetime | None:
    """When the name (by its :func:`name_key`) from *address*, or the address, may try again; None if now.

    A name's failures count only since its last successful sign-in or unlock. Attempts
    without an address share one (name, no address) limit and have no address limit.
    """
    in_flight = "details->>'reason' = 'checking' AND at > now() - CAST(:timeout AS interval)"
    # (which failure rows count, limit, how long the limit-th most recent one blocks)
    limits = [(f"details->>'name_key' = :k AND address IS NOT DISTINCT FROM :a AND {_SINCE_RESET}",
               MAX_PER_NAME_AND_ADDRESS, WINDOW)]
    if address:
        limits += [(f"address = :a AND NOT ({in_flight})", MAX_PER_ADDRESS, WINDOW),
                   (f"address = :a AND {in_flight}", MAX_IN_FLIGHT_PER_ADDRESS, CHECK_TIMEOUT)]
    found: list[datetime] = []
    for which, limit, lasts in limits:
        # The limit-th most recent counted failure in the window: blocked until it ages out.
        at = conn.execute(sa.text(
            f"SELECT at FROM audit_log WHERE action = 'signin.failure' AND {which} "
            f"AND at > now() - CAST(:window AS interval) ORDER BY at DESC OFFSET :n LIMIT 1"
        ), {"k": key, "a": address, "window": lasts, "timeout": CHECK_TIMEOUT, "n": limit - 1}).scalar()
        if at is not None:
            found.append(at + lasts)
    return max(found) if found else None


def recent_failures(conn: sa.Connection, key: str) -> int:
    """The name's failures (checks in flight included) within the window since its last success or unlock,
    from any addresses."""
    return conn.execute(sa.text(
        f"SELECT count(*) FROM audit_log WHERE action = 'signin.failure' AND details->>'name_key' = :k "
        f"AND at > now() - CAST(:window AS interval) AND {_SINCE_RESET}"), {"k": key, "window": WINDOW}).scalar_one()


def slowdown(failures: int) -> float:
    """Seconds an attempt at a name with *failures* recent failures waits before its password is checked.

    None below :data:`SLOWDOWN_AFTER`; then :data:`SLOWDOWN_STEP` for each failure from it on,
    at most :data:`SLOWDOWN_MAX`.
    """
    if failures < SLOWDOWN_AFTER:
        return 0.0
    return min(SLOWDOWN_STEP * (failures - SLOWDOWN_AFTER + 1), SLOWDOWN_MAX)


def _lock(conn: sa.Connection, *keys: str | None) -> None:
    """Transaction-scoped advisory locks, always taken in the order given (name, then address)."""
    for key in keys:
        if key:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})


def sign_in(engine: Engine, username: str, password: str, address: str | None) -> SignIn:
    """Check *username*/*password* from *address*; every attempt lands in the audit log.

    The attempt is written as a failure *before* the (slow) password check, under
    a lock per name and per address, so simultaneous guesses all count against
    the limits; a good password then turns the entry into ``signin.success``.
    A name that does not exist goes through the same steps (a dummy password check).
    """
    username = (username or "").strip()
    user = users.get_user(engine, username) if username else None
    # Attempts at names that do not exist are logged without the name (it may be a mistyped password).
    logged_name = user.username if user else None
    with engine.begin() as conn:
        key = name_key(conn, username)
        _lock(conn, f"signin:name:{key}", f"signin:addr:{address}" if address else None)
        until = blocked_until(conn, key, address)
        if until is not None:
            audit.record(conn, "signin.blocked", username=logged_name, address=address,
                         details={"until": until.isoformat(), "name_key": key})
            return SignIn(None, until)
        delay = slowdown(recent_failures(conn, key))
        attempt = conn.execute(sa.text(
            "INSERT INTO audit_log (username, address, action, details) "
            "VALUES (:u, :a, 'signin.failure', jsonb_build_object('reason', 'checking', 'name_key', "
            "CAST(:k AS text))) RETURNING audit_id"),
            {"u": logged_name, "a": address, "k": key}).scalar_one()
    if delay:
        sleep(delay)  # no connection held meanwhile
    good = users.verify_password(user.password_hash if user else None, password or "")
    with engine.begin() as conn:
        if good and user is not None and not user.disabled:
            conn.execute(sa.text("UPDATE audit_log SET action = 'signin.success', "
                                 "details = jsonb_build_object('name_key', CAST(:k AS text)) "
                                 "WHERE audit_id = :id"), {"id": attempt, "k": key})
            users.touch_login(conn, user.username)
            return SignIn(user)
        reason = "disabled" if (good and user and user.disabled) else "unknown user" if user is None else "password"
        conn.execute(sa.text("UPDATE audit_log SET details = details || jsonb_build_object('reason', CAST(:r AS text)) "
                             "WHERE audit_id = :id"), {"id": attempt, "r": reason})
    return SignIn(None)


def unlock(engine: Engine, username: str, *, by: str | None = None) -> None:
    """Lift *username*'s sign-in limits: their failures so far stop counting for the (name, address)
    blocks and the slowdown (an address's own limit stays). ``UserError`` if there is no such user."""
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first() is None:
            raise users.UserError(f"no user {username!r}")
        key = name_key(conn, username)
        _lock(conn, f"signin:name:{key}")
        audit.record(conn, "user.unlock", username=by, object=username, details={"name_key": key})
