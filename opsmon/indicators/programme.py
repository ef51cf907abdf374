"""Operations-management programme status: the latest progress row on or before a month, if recent.

A hospital's status for a period is its latest current progress revision whose
period is on or before it (``spec/submission-format.md`` §2) — *if that report is
at most :data:`STALE_MONTHS` months (two quarters) old* (``spec/indicators.md``,
"Stale progress"). An older report makes the hospital 进展未更新 (*stale*): it
stays in every programme indicator's denominator and counts in no numerator,
exactly like a hospital that never reported progress (*missing*), and both are
listed by name (:func:`outdated`) and counted per region (:func:`unit_counts`).
``pilot_projects_year`` is a count for the report's own year, so it is read only
from a row of the same calendar year (0 otherwise).

Two progress fields the catalogue does not report — ``ops_department`` and
``internal_control_review`` — are shares in the 进展情况表 here (:data:`EXTRAS`).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.indicators import catalogue, restrict
from opsmon.indicators.catalogue import Indicator

PROGRAMME_IDS: tuple[str, ...] = tuple(i.id for i in catalogue.CATALOGUE if i.group == "programme")
# A report older than this many months (two quarters) no longer gives the hospital a status.
STALE_MONTHS = 6

# Collected in every progress report, reported by no catalogue indicator: shown beside the programme
# indicators in the 进展情况表. Populations follow the documents that require them: the operations
# department with the operations committee (国卫财务发〔2020〕27号, 二级及以上公立医院); the internal
# control review for every public hospital (《公立医院内部控制管理办法》国卫财务发〔2020〕31号).
EXTRAS: tuple[Indicator, ...] = (
    Indicator("ops_department_share", "设立运营管理部门医院占比", "Hospitals with an operations department",
              "programme", "ratio", "status", "CASE WHEN ops_department THEN 1 ELSE 0 END", "1",
              population=catalogue.SECONDARY_PLUS, direction="up", source="国卫财务发〔2020〕27号"),
    Indicator("internal_control_review_share", "开展内部控制评价医院占比",
              "Hospitals with an internal control review", "programme", "ratio", "status",
              "CASE WHEN internal_control_review THEN 1 ELSE 0 END", "1", direction="up",
              source="国卫财务发〔2020〕31号"),
)
catalogue.check(EXTRAS)


def status_as_of_sql(hospital: str, period: str, alias: str = "pg") -> str:
    """A ``LEFT JOIN LATERAL`` giving *alias*.<progress fields> as of the date expression *period*.

    *hospital* and *period* are SQL expressions of the outer query; the lookup uses
    the ``(hospital_code, period) WHERE is_current`` index. The hospital's latest
    report on or before *period* gives its status when it is at most
    :data:`STALE_MONTHS` months old; for an older one *alias*.hospital_code,
    *alias*.period and every progress field are NULL — the hospital has no status,
    as if it had never reported — and *alias*.stale is true. *alias*.report_period
    is the latest report's period either way; both are NULL when there is none.
    """
    fresh = f"pv.period >= CAST({period} - interval '{STALE_MONTHS} months' AS date)"
    masked = ", ".join(f"CASE WHEN l.fresh THEN l.{c} END AS {c}" for c in ("hospital_code", "period",
                                                                             *catalogue.PROGRESS_FIELDS))
    cols = ", ".join(f"pv.{c}" for c in catalogue.PROGRESS_FIELDS)
    return (
        f"LEFT JOIN LATERAL (SELECT {masked}, l.period AS report_period, NOT l.fresh AS stale "
        f"FROM (SELECT pv.hospital_code, pv.period, {cols}, {fresh} AS fresh FROM progress_values pv "
        f"WHERE pv.hospital_code = {hospital} AND pv.is_current AND pv.period <= {period} "
        f"ORDER BY pv.period DESC LIMIT 1) l) {alias} ON true"
    )


def pilot_projects_sql(alias: str, period: str) -> str:
    """This year's pilot projects from the status row *alias* as of *period* (0 for an earlier year's row)."""
    return (f"CASE WHEN date_trunc('year', {alias}.period) = date_trunc('year', {period}) "
            f"THEN {alias}.pilot_projects_year ELSE 0 END")


def _status_sql(where: str) -> str:
    """One row per open hospital (alias ``h``, condition *where*) with its status as of ``:p``."""
    attributes = ", ".join(f"h.{a}" for a in catalogue.HOSPITAL_ATTRIBUTES if a != "tier")
    fields = ", ".join(f"pg.{c}" for c in catalogue.PROGRESS_FIELDS if c != "pilot_projects_year")
    return (
        f"SELECT h.hospital_code, h.name, CAST(h.adcode AS text) AS adcode, h.tier, {attributes}, "
        f"to_char(pg.report_period, 'YYYY-MM') AS status_period, coalesce(pg.stale, false) AS stale, "
        f"pg.report_period IS NULL AS missing, CAST(pg.hospital_code IS NOT NULL AS int) AS has_progress, "
        f"{fields}, {pilot_projects_sql('pg', 'CAST(:p AS date)')} AS pilot_projects_year "
        f"FROM hospitals h {status_as_of_sql('h.hospital_code', 'CAST(:p AS date)')} "
        f"WHERE {restrict.open_at('h', 'CAST(:p AS date)')} AND {where}"
    )


def status(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
           hospital: str | None = None, outdated_only: bool = False) -> pd.DataFrame:
    """Each open hospital's programme status as of *period* ('YYYY-MM').

    Columns: hospital_code, name, adcode, tier, the registry attributes, status_period
    ('YYYY-MM' of the hospital's latest report on or before *period*, None when it
    never reported progress), ``stale`` (that report is older than
    :data:`STALE_MONTHS` months: 进展未更新), ``missing`` (no report at all),
    ``has_progress`` (1 when the hospital has a status) and the progress fields —
    NULL unless the hospital has a status. *outdated_only*: only the stale and
    missing hospitals. *region* and *scope* restrict the hospitals as in
    :func:`opsmon.indicators.query.query`; *hospital*: that hospital alone.
    """
    where, params = restrict.hospitals("h", region=region, scope=scope, hospital=hospital)
    sql = f"SELECT * FROM ({_status_sql(where)}) s"
    if outdated_only:
        sql += " WHERE s.stale OR s.missing"
    with engine.connect() as conn:
        frame = pd.read_sql_query(sa.text(sql + " ORDER BY s.adcode, s.hospital_code"), conn,
                                  params={**params, "p": periods.to_date(period)})
    frame["status_period"] = frame["status_period"].astype(object).where(frame["status_period"].notna(), None)
    return frame


def outdated(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None) -> pd.DataFrame:
    """The hospitals without a current status as of *period*: stale (进展未更新) or missing (未报送进展).

    Columns: hospital_code, name, adcode, tier, status_period (the stale report's
    month, None when missing), stale, missing — stale hospitals first, then by region and code.
    """
    frame = status(engine, period, region=region, scope=scope, outdated_only=True)
    columns = ["hospital_code", "name", "adcode", "tier", "status_period", "stale", "missing"]
    return frame.sort_values(["missing", "adcode", "hospital_code"], kind="stable")[columns].reset_index(drop=True)


def _in(ind: Indicator, expression: str | None) -> str:
    return catalogue.qualify(expression, lambda token: f"s.{token}") if expression else "true"


def unit_counts(engine: Engine, period: str, *, region: str | None = None,
                scope: str | None = None) -> pd.DataFrame:
    """Per region directly under *region*, then *region* itself: whose status is current, stale or missing.

    The rows are those of :func:`opsmon.indicators.export.progress_table` (the
    county-level cities a province administers directly stand beside its
    prefectures). Columns: code, name, hospitals (open ones), current, stale,
    missing, outdated (stale + missing); per programme ratio indicator
    ``<id>__stale``, the stale hospitals of its population; per entry of
    :data:`EXTRAS` its value, ``<id>__numerator`` and ``<id>__denominator``.
    Children in code order, the total last; empty for a hospital scope.
    """
    from opsmon.indicators.query import LEVELS, level_of  # query → aggregate → this module
    from opsmon.indicators.reporting import root_code

    parent = restrict.check_region(region) or root_code(engine)
    level = level_of(engine, parent)
    if level in ("county", "hospital"):
        child = "hospital"  # nothing to group by below a county: the total alone
    else:
        child = LEVELS[LEVELS.index(level) + 1]
    hospital_where, params = restrict.hospitals("h", region=parent, scope=scope)
    region_where, region_params = restrict.regions("u", region=parent, scope=scope)
    ratios = [catalogue.get(i) for i in PROGRAMME_IDS if catalogue.get(i).kind == "ratio"]
    # Counted per county first (one pass over the hospitals), then the counties' counts summed up to
    # each unit: the hospitals are not joined to every unit above them (nationally 12 000 × 2).
    # MATERIALIZED: counted once — the planner, guessing a few hundred open hospitals, would count
    # them again for every unit.
    counts = {"hospitals": "count(*)", "current": "count(*) FILTER (WHERE s.has_progress = 1)",
              "stale": "count(*) FILTER (WHERE s.stale)", "missing": "count(*) FILTER (WHERE s.missing)",
              "outdated": "count(*) FILTER (WHERE s.has_progress = 0)"}
    counts |= {f"{ind.id}__stale": f"count(*) FILTER (WHERE s.stale AND {_in(ind, ind.population)})"
               for ind in ratios}
    sums = {}
    for ind in EXTRAS:
        pop = _in(ind, ind.population)
        sums |= {f"{ind.id}__numerator": f"sum(CASE WHEN {pop} THEN coalesce({_in(ind, ind.numerator)}, 0) END)",
                 f"{ind.id}__denominator": f"sum(CASE WHEN {pop} THEN {_in(ind, ind.denominator)} END)"}
    per_county = ", ".join(f"{expr} AS {name}" for name, expr in (counts | sums).items())
    rolled = ", ".join([*(f"CAST(coalesce(sum(c.{name}), 0) AS bigint) AS {name}" for name in counts),
                        *(f"sum(c.{name}) AS {name}" for name in sums)])
    sql = f"""
WITH s AS ({_status_sql(hospital_where)}),
c AS MATERIALIZED (SELECT CAST(s.adcode AS char(6)) AS adcode, {per_county} FROM s GROUP BY s.adcode),
units AS (
    SELECT u.adcode, u.name, u.adcode = :parent AS is_total FROM regions u
    WHERE (u.adcode = :parent OR (u.parent_adcode = :parent AND {restrict.at_level('u', ':child')}))
      AND {region_where}
)
SELECT CAST(units.adcode AS text) AS code, units.name, units.is_total, {rolled}
FROM units LEFT JOIN (region_ancestors a JOIN c ON c.adcode = a.adcode) ON a.ancestor_adcode = units.adcode
GROUP BY units.adcode, units.name, units.is_total
ORDER BY units.is_total, units.adcode
"""
    with engine.connect() as conn:
        frame = pd.read_sql_query(sa.text(sql), conn, params={
            **params, **region_params, "p": periods.to_date(period), "parent": parent, "child": child})
    for ind in EXTRAS:
        num, den = frame[f"{ind.id}__numerator"].astype(float), frame[f"{ind.id}__denominator"].astype(float)
        frame[f"{ind.id}__numerator"], frame[f"{ind.id}__denominator"] = num, den
        frame[ind.id] = num / den.where(den > 0)
    return frame.drop(columns="is_total")
