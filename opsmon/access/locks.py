"""Period locks: once a month is reviewed, the province locks it and uploads to it are refused.

Ingest checks the lock inside the storing transaction
(:func:`opsmon.ingest.store.check_locks`) and names who locked the period and when.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.access import audit
from opsmon.periods import to_date


def lock(engine: Engine, period: str, *, by: str, reason: str | None = None, address: str | None = None) -> bool:
    """Lock *period* ('YYYY-MM'); False if it was already locked."""
    first = to_date(period)
    with engine.begin() as conn:
        done = conn.execute(sa.text(
            "INSERT INTO period_locks (period, locked_by, reason) VALUES (:p, :by, :r) ON CONFLICT DO NOTHING"),
            {"p": first, "by": by, "r": reason}).rowcount
        if done:
            audit.record(conn, "period.lock", username=by, address=address, object=period,
                         details={"reason": reason} if reason else {})
    return bool(done)


def unlock(engine: Engine, period: str, *, by: str, address: str | None = None) -> bool:
    """Unlock *period*; False if it was not locked."""
    first = to_date(period)
    with engine.begin() as conn:
        done = conn.execute(sa.text("DELETE FROM period_locks WHERE period = :p"), {"p": first}).rowcount
        if done:
            audit.record(conn, "period.unlock", username=by, address=address, object=period)
    return bool(done)


def list_locks(engine: Engine) -> pd.DataFrame:
    """Locked periods, newest first: period ('YYYY-MM'), locked_by, locked_at, reason."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT to_char(period, 'YYYY-MM') AS period, locked_by, locked_at, reason "
            "FROM period_locks ORDER BY period DESC"), conn)
