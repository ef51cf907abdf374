"""Helpers shared by the access tests (imported by name, as ``province_fixture`` is in tests/indicators)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

PASSWORD = "correct horse battery"  # long enough, not a user name
OTHER_PASSWORD = "another long passphrase"


def audit_rows(engine: Engine, action: str | None = None) -> list[sa.Row]:
    """Audit entries, oldest first (all, or those of one action); ``whole`` is the row as text."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT audit_id, at, username, address, action, object, details, CAST(a AS text) AS whole "
            "FROM audit_log a WHERE CAST(:action AS text) IS NULL OR action = :action ORDER BY audit_id"
        ), {"action": action}).all()


def backdate_failures(engine: Engine, n: int, age: str, *, username: str | None = None,
                      address: str | None = None, reason: str = "password") -> None:
    """Insert *n* ``signin.failure`` rows dated *age* ago (an SQL interval such as '14 minutes').

    Time travel for the rate-limit window, without sleeping. *reason* "checking": attempts
    whose password check is still running (or whose process died).
    """
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_log (at, username, address, action, details) "
            "SELECT now() - CAST(:age AS interval), :u, :a, 'signin.failure', jsonb_build_object('reason', :r) "
            "FROM generate_series(1, :n)"
        ), {"age": age, "u": username, "a": address, "n": n, "r": reason})
