"""Users: one role and one org unit each; passwords stored only as argon2 hashes.

The org unit is checked against the role (:mod:`opsmon.access.roles`): a
hospital user belongs to a hospital, a supervisor to a prefecture or county,
an administrator to the province. Every change is written to the audit log in
the same transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from opsmon.access import audit, roles

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


class UserError(ValueError):
    """A user change that cannot be made; the message says why."""


@dataclass(frozen=True)
class User:
    """A signed-in (or looked-up) user. ``scope`` is what every read and upload is limited to."""

    username: str
    role: str
    display_name: str | None
    region_adcode: str | None
    hospital_code: str | None
    disabled: bool
    password_hash: str

    @property
    def scope(self) -> str:
        """The org unit: a region adcode or a hospital code."""
        return (self.hospital_code or self.region_adcode or "").strip()

    @property
    def permissions(self) -> roles.Role:
        return roles.get(self.role)

    @property
    def session_token(self) -> str:
        """Changes when the password, role, unit or status changes: older sessions stop working."""
        raw = "|".join([self.username, self.role, self.scope, str(self.disabled), self.password_hash])
        return hashlib.sha256(raw.encode()).hexdigest()[:24]


USER_COLUMNS = "username, role, display_name, region_adcode, hospital_code, disabled, password_hash"


def hash_password(password: str) -> str:
    """An argon2id hash of *password*."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether *password* matches *password_hash* (a dummy check when there is no hash, for even timing)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("opsmon: no such user")


def check_password(username: str, password: str) -> None:
    """Refuse passwords that are too short or are the user name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() == username.lower():
        raise UserError("password must not be the user name")


def get_user(engine: Engine, username: str) -> User | None:
    """The user *username*, or None."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(f"SELECT {USER_COLUMNS} FROM users WHERE username = :u"), {"u": username}).first()
    return User(*row) if row else None


def _unit(conn: sa.Connection, role: roles.Role, unit: str) -> dict[str, str | None]:
    unit = unit.strip().upper()
    if len(unit) == 18:
        found = conn.execute(sa.text("SELECT 'hospital', false FROM hospitals WHERE hospital_code = :u"), {"u": unit})
    else:
        found = conn.execute(sa.text("SELECT level, parent_adcode IS NULL FROM regions WHERE adcode = :u"),
                             {"u": unit})
    level, is_root = found.first() or (None, False)
    if level is None:
        raise UserError(f"unknown org unit {unit!r}: give a region adcode or a registered hospital code")
    if level not in role.units:
        raise UserError(f"a {role.id} user belongs to a {' or '.join(role.units)}, not a {level} ({unit})")
    if role.admin and not is_root:
        # Administration (users, locks, the audit log) is database-wide: only at the top of the hierarchy.
        raise UserError(f"a {role.id} user belongs to the top of the hierarchy, not a {level} ({unit})")
    return {"region_adcode": None if level == "hospital" else unit,
            "hospital_code": unit if level == "hospital" else None}


def add_user(engine: Engine, username: str, password: str, role: str, unit: str, *,
             display_name: str | None = None, by: str | None = None) -> User:
    """Create a user; ``UserError`` if the name is taken, the unit does not fit the role, or the password is weak."""
    try:
        r = roles.get(role)
    except ValueError as e:
        raise UserError(str(e)) from None
    check_password(username, password)
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM users WHERE username = :u"), {"u": username}).first():
            raise UserError(f"user {username!r} already exists")
        params = {"username": username, "role": role, "display_name": display_name,
                  "password_hash": hash_password(password), **_unit(conn, r, unit)}
        try:
            conn.execute(sa.text(
                "INSERT INTO users (username, role, display_name, region_adcode, hospital_code, password_hash) "
                "VALUES (:username, :role, :display_name, :region_adcode, :hospital_code, :password_hash)"), params)
        except sa.exc.IntegrityError as e:
            if getattr(e.orig, "sqlstate", None) == "23505":  # a concurrent add of the same name
                raise UserError(f"user {username!r} already exists") from e
            raise UserError(f"user name {username!r} is not allowed (2–64 letters, digits, _ . @ -)") from e
        audit.record(conn, "user.add", username=by, object=username,
                     details={"role": role, "unit": params["region_adcode"] or params["hospital_code"]})
    return get_user(engine, username)  # type: ignore[return-value]


def set_password(engine: Engine, username: str, password: str, *, by: str | None = None) -> None:
    """Replace *username*'s password (their other sessions end)."""
    check_password(username, password)
    with engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE users SET password_hash = :h, updated_at = now() WHERE username = :u"),
                            {"h": hash_password(password), "u": username}).rowcount
        if not done:
            raise UserError(f"no user {username!r}")
        conn.execute(sa.text("DELETE FROM user_sessions WHERE username = :u"), {"u": username})
        audit.record(conn, "user.passwd", username=by, object=username)


def set_disabled(engine: Engine, username: str, disabled: bool = True, *, by: str | None = None) -> None:
    """Disable (or re-enable) *username*; a disabled user cannot sign in and their sessions end."""
    with engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE users SET disabled = :d, updated_at = now() WHERE username = :u"),
                            {"d": disabled, "u": username}).rowcount
        if not done:
            raise UserError(f"no user {username!r}")
        if disabled:
            conn.execute(sa.text("DELETE FROM user_sessions WHERE username = :u"), {"u": username})
        audit.record(conn, "user.disable" if disabled else "user.enable", username=by, object=username)


def list_users(engine: Engine) -> pd.DataFrame:
    """Every user: username, display_name, role, unit, unit_name, disabled, last_login_at (no hashes)."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT u.username, u.display_name, u.role, coalesce(u.hospital_code, u.region_adcode) AS unit, "
            "coalesce(h.name, r.name) AS unit_name, u.disabled, u.last_login_at "
            "FROM users u LEFT JOIN hospitals h USING (hospital_code) "
            "LEFT JOIN regions r ON r.adcode = u.region_adcode ORDER BY u.username"), conn)


def touch_login(conn: sa.Connection, username: str, at: datetime | None = None) -> None:
    """Remember a successful sign-in."""
    conn.execute(sa.text("UPDATE users SET last_login_at = coalesce(:at, now()) WHERE username = :u"),
                 {"u": username, "at": at})


def open_session(engine: Engine, username: str, address: str | None = None) -> str:
    """A new session id for *username* (kept server-side, so it can be ended)."""
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO user_sessions (session_id, username, address) VALUES (:s, :u, :a)"),
                     {"s": session_id, "u": username, "a": address})
    return session_id


def session_user(engine: Engine, session_id: str) -> User | None:
    """The user of a live session, or None (ended, unknown, or the user is disabled)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            f"SELECT {', '.join('u.' + c.strip() for c in USER_COLUMNS.split(','))} FROM user_sessions s "
            "JOIN users u USING (username) WHERE s.session_id = :s AND NOT u.disabled"), {"s": session_id}).first()
    return User(*row) if row else None


def close_session(engine: Engine, session_id: str) -> None:
    """End a session."""
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM user_sessions WHERE session_id = :s"), {"s": session_id})
