"""Operations-management programme status: the latest progress row on or before a month.

A hospital's status for a period is its latest current progress revision whose
period is on or before it (``spec/submission-format.md`` §2); a hospital that has
never reported progress has no status and counts as "not done" in the coverage
indicators. ``pilot_projects_year`` is a count for the report's own year, so it
is read only from a row of the same calendar year (0 otherwise).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.indicators import catalogue, restrict

PROGRAMME_IDS: tuple[str, ...] = tuple(i.id for i in catalogue.CATALOGUE if i.group == "programme")


def status_as_of_sql(hospital: str, period: str, alias: str = "pg") -> str:
    """A ``LEFT JOIN LATERAL`` giving *alias*.<progress fields> as of the date expression *period*.

    *hospital* and *period* are SQL expressions of the outer query; the lookup uses
    the ``(hospital_code, period) WHERE is_current`` index.
    """
    cols = ", ".join(f"pv.{c}" for c in catalogue.PROGRESS_FIELDS)
    return (
        f"LEFT JOIN LATERAL (SELECT pv.hospital_code, pv.period, {cols} FROM progress_values pv "
        f"WHERE pv.hospital_code = {hospital} AND pv.is_current AND pv.period <= {period} "
        f"ORDER BY pv.period DESC LIMIT 1) {alias} ON true"
    )


def pilot_projects_sql(alias: str, period: str) -> str:
    """This year's pilot projects from the status row *alias* as of *period* (0 for an earlier year's row)."""
    return (f"CASE WHEN date_trunc('year', {alias}.period) = date_trunc('year', {period}) "
            f"THEN {alias}.pilot_projects_year ELSE 0 END")


def status(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None) -> pd.DataFrame:
    """Each open hospital's programme status as of *period* ('YYYY-MM').

    Columns: hospital_code, name, adcode, tier, status_period ('YYYY-MM' of the row
    used, None when the hospital never reported progress) and the progress fields.
    *region* and *scope* restrict the hospitals as in :func:`opsmon.indicators.query`.
    """
    where, params = restrict.hospitals("h", region=region, scope=scope)
    fields = ", ".join(f"pg.{c}" for c in catalogue.PROGRESS_FIELDS if c != "pilot_projects_year")
    sql = sa.text(
        f"SELECT h.hospital_code, h.name, h.adcode, h.tier, to_char(pg.period, 'YYYY-MM') AS status_period, "
        f"{fields}, {pilot_projects_sql('pg', 'CAST(:p AS date)')} AS pilot_projects_year "
        f"FROM hospitals h {status_as_of_sql('h.hospital_code', 'CAST(:p AS date)')} "
        f"WHERE {restrict.open_at('h', 'CAST(:p AS date)')} AND {where} "
        f"ORDER BY h.adcode, h.hospital_code"
    )
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn, params={**params, "p": periods.to_date(period)})
