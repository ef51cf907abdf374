"""Who is expected to report, who has, and the data's as-of time — by region.

A hospital is expected for a month when it is open then (opened on or before,
closed after). It has reported when it has a current monthly revision.
Counts roll up the reporting hierarchy (``region_ancestors``), so a county-level
city the province administers directly counts under the province, not under
the prefecture whose territory surrounds it.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.indicators import restrict

_CHILDREN = sa.text(f"""
WITH kids AS (
    SELECT adcode, name, level FROM regions WHERE parent_adcode = :parent
), expected AS (
    SELECT a.ancestor_adcode AS code, h.hospital_code, h.tier
    FROM hospitals h
    JOIN region_ancestors a ON a.adcode = h.adcode
    WHERE a.ancestor_adcode IN (SELECT adcode FROM kids)
      AND {restrict.open_at('h', 'CAST(:period AS date)')}
)
SELECT k.adcode AS code, k.name, k.level,
       count(e.hospital_code) AS hospitals_expected,
       count(e.hospital_code) FILTER (WHERE e.tier = '三级') AS tertiary,
       count(e.hospital_code) FILTER (WHERE e.tier = '二级') AS secondary,
       count(m.hospital_code) AS hospitals_reporting
FROM kids k
LEFT JOIN expected e ON e.code = k.adcode
LEFT JOIN monthly_values m
       ON m.hospital_code = e.hospital_code AND m.period = CAST(:period AS date) AND m.is_current
GROUP BY k.adcode, k.name, k.level
ORDER BY k.adcode
""")


def root_code(engine: Engine) -> str:
    """The adcode of the region this database serves: its province, or 100000 for a national instance."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT adcode FROM regions WHERE parent_adcode IS NULL")).scalar_one()


def latest_period(engine: Engine) -> str | None:
    """The most recent month ('YYYY-MM') with any current monthly value."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT to_char(max(period), 'YYYY-MM') FROM monthly_values WHERE is_current"
        )).scalar()


def data_as_of(engine: Engine) -> datetime | None:
    """When the latest accepted submission finished: the "data as of" stamp."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT max(coalesce(finished_at, received_at)) FROM submissions WHERE status = 'accepted'"
        )).scalar()


def data_version(engine: Engine) -> int:
    """The data version: bumped by every accepted file, so a cache keyed on it never serves stale values."""
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT version FROM data_state")).scalar_one()


def children_summary(engine: Engine, parent: str, period: str) -> pd.DataFrame:
    """Hospitals expected and reporting for *period* in each direct child region of *parent*.

    Columns: code, name, level, hospitals_expected, tertiary, secondary,
    hospitals_reporting, reporting_rate (a fraction; NaN where none expected).
    """
    with engine.connect() as conn:
        frame = pd.read_sql_query(_CHILDREN, conn, params={"parent": parent, "period": f"{period}-01"})
    frame["reporting_rate"] = frame["hospitals_reporting"] / frame["hospitals_expected"].where(
        frame["hospitals_expected"] > 0
    )
    return frame
