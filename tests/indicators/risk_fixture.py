"""Hand-made hospitals for the risk-rule tests, inserted with plain SQL (no ingest code).

Each hospital lies in 南关区 (220102). Its months are rows of province_fixture.month(R, E,
**overrides) — R total revenue (default 1000), E total expense (default 900); every other
field a fixed share, stocks fixed (assets 10000, liabilities 4000, cash 1000, long-term
loans 1000…) unless overridden — all sent in one file received before any due date, so
report_missing stays quiet unless a test wants it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import province_fixture as fx

from opsmon.indicators import risk
from opsmon.ingest import uscc
from opsmon.periods import add_months, to_date, to_period

CST = timezone(timedelta(hours=8))
LATER = datetime(2027, 1, 1, tzinfo=CST)  # every month of the tests is past its due date


def months(start: str, n: int, **values) -> dict[str, dict]:
    """*n* consecutive months from *start*, each with *values*."""
    return {to_period(add_months(to_date(start), k)): dict(values) for k in range(n)}


class Builder:
    """Hospitals with month rows, inserted with plain SQL."""

    def __init__(self, engine, received_at: str = "2000-01-01 00:00:00+08"):
        self.engine = engine
        self.sub = fx.add_submission(engine, received_at)
        self.codes: dict[str, str] = {}

    def hospital(self, key: str, rows: dict[str, dict], received_at: str | None = None) -> str:
        code = uscc.make("220102", f"RK{len(self.codes):06d}")
        self.codes[key] = code
        fx.add_hospital(self.engine, code, "220102")
        sub = fx.add_submission(self.engine, received_at) if received_at else self.sub
        for period, values in rows.items():
            values = dict(values)
            r, e = values.pop("R", 1000), values.pop("E", 900)
            fx.add_month(self.engine, code, period, fx.month(r, e, **values), sub)
        return code

    def refresh(self, as_of: datetime = LATER) -> None:
        fx.bump(self.engine)
        risk.refresh_register(self.engine, as_of=as_of)

    def firings(self, rule: str, as_of: datetime = LATER) -> dict[tuple[str, str], str]:
        """{(hospital key, 'YYYY-MM'): level} of *rule*."""
        self.refresh(as_of)
        names = {code: key for key, code in self.codes.items()}
        rows = fx.execute(self.engine, "SELECT hospital_code, to_char(period, 'YYYY-MM') AS p, level "
                                       "FROM risk_firings WHERE rule = :r", r=rule)
        return {(names[r.hospital_code], r.p): r.level for r in rows}

    def all_firings(self, key: str, period: str) -> dict[str, str]:
        """{rule: level} of every rule firing for *key* in *period*."""
        self.refresh()
        rows = fx.execute(self.engine, "SELECT rule, level FROM risk_firings WHERE hospital_code = :h "
                                       "AND period = :p", h=self.codes[key], p=f"{period}-01")
        return {r.rule: r.level for r in rows}

    def detail(self, rule: str, key: str, period: str) -> dict:
        """The stored detail of *key*'s firing of *rule* in *period*."""
        self.refresh()
        return fx.execute(self.engine, "SELECT detail FROM risk_firings WHERE hospital_code = :h AND rule = :r "
                                       "AND period = :p", h=self.codes[key], r=rule, p=f"{period}-01").scalar_one()

    def episodes(self, rule: str, key: str) -> list[tuple]:
        """(first, last, resolved, months_firing, level, max_level) of *key*'s episodes, oldest first."""
        rows = risk.register(self.engine, hospital=self.codes[key])
        rows = rows[rows["rule"] == rule].sort_values("first_period")
        return [(r.first_period, r.last_period, None if pd.isna(r.resolved_period) else r.resolved_period,
                 r.months_firing, r.level, r.max_level) for r in rows.itertuples()]
