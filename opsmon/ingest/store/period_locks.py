"""The check that no period of a file is locked, and the problem it reports when one is."""

from __future__ import annotations

import sqlalchemy as sa

from opsmon.ingest.problems import Problem, make_problem
from opsmon.periods import configured_tz


class PeriodLocked(Exception):
    """A period in the file is locked; carries the problems to report."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems[0].message_en)
        self.problems = problems


def check_locks(conn: sa.Connection, periods: list[str]) -> None:
    """Raise :class:`PeriodLocked` when any of *periods* ('YYYY-MM') is locked.

    Holds a SHARE lock on ``period_locks`` until the storing transaction ends: a lock
    being taken meanwhile waits for this upload to finish, so no upload lands in a
    period locked while it was being stored.
    """
    conn.execute(sa.text("LOCK TABLE period_locks IN SHARE MODE"))
    rows = conn.execute(
        sa.text(
            "SELECT to_char(period, 'YYYY-MM') AS period, locked_by, "
            "to_char(locked_at AT TIME ZONE :tz, 'YYYY-MM-DD HH24:MI') AS locked_at "
            "FROM period_locks WHERE to_char(period, 'YYYY-MM') = ANY(:p) ORDER BY period"
        ),
        {"p": periods, "tz": str(configured_tz(conn))},
    ).all()
    if rows:
        raise PeriodLocked([make_problem("period_locked", column="period", value=r.period, period=r.period,
                                         locked_by=r.locked_by, locked_at=r.locked_at) for r in rows])
