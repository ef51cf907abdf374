"""The one query API: catalogue entries → one SQL statement → a long frame.

For every requested indicator the statement computes, per hospital, a numerator,
a denominator (and for growth the year-earlier pair), whether the hospital
contributes and whether it "reports" for that indicator — all from the
materialised aggregates of :mod:`opsmon.indicators.aggregate`. Region rows sum
those over the hospitals below them through ``region_ancestors`` (so 梅河口市 counts
under the province, not under 通化市) and only then divide: a parent's value is
always the ratio of its children's sums. At prefecture level a county-level
city the province administers directly is a unit of its own
(:func:`~opsmon.indicators.restrict.at_level`), so the prefecture rows add up to
the province.

Result columns (:data:`COLUMNS`): ``level, code, name, parent_code, indicator,
period ('YYYY-MM'), span, value, numerator, denominator, reporting, expected``.
``value`` is a fraction for percentages (0.4907), yuan for money, etc. (the
catalogue's unit). For growth indicators ``numerator`` is this span's base value,
``denominator`` the same span a year earlier, and ``value`` their ratio minus 1.
``reporting`` counts the hospitals that contribute to the value (for programme
status: those that have reported progress; for counts: those that reported the
month); ``expected`` counts the open hospitals of the indicator's population.

The hospitals behind a value are those open in the period (the span's last
month) that pass the filters and the scope; a hospital closed since does not
count, even for months it was open. Programme and count indicators are as of
the period whatever the span; the ``span`` column says which span a value
covers (the deficit counts are year-to-date by definition).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.indicators import aggregate, catalogue, periods, restrict
from opsmon.indicators.catalogue import Indicator

LEVELS: tuple[str, ...] = ("nation", "province", "prefecture", "county", "hospital")  # "nation": national instance
COLUMNS: list[str] = ["level", "code", "name", "parent_code", "indicator", "period", "span", "value",
                      "numerator", "denominator", "reporting", "expected"]
# What the ``ids`` argument accepts: an id, an entry, a list of either, or None for all.
IndicatorIds = str | Indicator | Iterable[str | Indicator] | None


class _Renderer:
    """Qualifies the field codes of catalogue expressions with the aliases that hold them."""

    def __init__(self, span: str):
        self.span = span
        self.flow_aliases: set[str] = set()

    def flow_alias(self, ind: Indicator) -> str:
        alias = f"f_{ind.span or self.span}"
        self.flow_aliases.add(alias)
        return alias

    def render(self, expression: str, ind: Indicator, prefix: str = "") -> str:
        """*expression* with its field codes qualified; *prefix* picks the growth sums (g_, gp_)."""
        def resolve(token: str) -> str:
            if token in catalogue.HOSPITAL_ATTRIBUTES:
                return f"pop.{token}"
            if token in catalogue.FLOW_FIELDS:
                if prefix and token not in aggregate.GROWTH_FLOWS:
                    raise ValueError(f"{ind.id}: year-earlier sums of {token} are not materialised; "
                                     "add the growth indicator to the catalogue")
                return f"{self.flow_alias(ind)}.{prefix}{token}"
            if token in catalogue.POINT_FIELDS:
                return f"p.{token}"
            raise ValueError(f"{ind.id}: unknown field {token!r}")

        return catalogue.qualify(expression, resolve)

    def row(self, ix: int, ind: Indicator) -> str:
        """One ``VALUES`` row: (ix, in_pop, contrib, rep, num, den, pnum, pden)."""
        in_pop = self.render(ind.population, ind) if ind.population else "true"
        num = self.render(ind.numerator, ind, "g_" if ind.kind == "growth" else "")
        den = self.render(ind.denominator, ind, "g_" if ind.kind == "growth" else "") if ind.denominator else None
        pnum = pden = None
        if ind.basis == "flow":
            alias = self.flow_alias(ind)
            contrib = (f"coalesce({alias}.g_months, 0) > 0" if ind.kind == "growth"
                       else f"{alias}.hospital_code IS NOT NULL")
            rep = contrib
            if ind.kind == "growth":
                pnum = self.render(ind.numerator, ind, "gp_")
                pden = self.render(ind.denominator, ind, "gp_") if ind.denominator else None
        elif ind.basis == "stock":
            contrib = rep = "coalesce(p.reported, 0) = 1"
        else:  # status, roster: every hospital of the population counts; missing means 0
            contrib = "true"
            rep = "coalesce(p.has_progress, 0) = 1" if ind.basis == "status" else "coalesce(p.reported, 0) = 1"
            num = f"coalesce({num}, 0)"
            den = f"coalesce({den}, 0)" if den else None

        def value(expr: str | None) -> str:
            return f"CAST(CASE WHEN {contrib} THEN ({expr}) END AS numeric)" if expr else "CAST(NULL AS numeric)"

        return (f"({ix}, {in_pop}, {contrib}, {rep}, {value(num)}, {value(den)}, "
                f"{value(pnum)}, {value(pden)})")


def _indicators(ids: IndicatorIds) -> list[Indicator]:
    if ids is None:
        return list(catalogue.CATALOGUE)
    if isinstance(ids, (str, Indicator)):
        ids = [ids]
    found = [i if isinstance(i, Indicator) else catalogue.get(i) for i in ids]
    if not found:
        raise ValueError("no indicator requested")
    catalogue.check(tuple({i.id: i for i in found}.values()))  # ad-hoc entries are checked like the catalogue
    return found


def _sql(indicators: Sequence[Indicator], level: str, span: str, hospital_where: str, region_where: str) -> str:
    renderer = _Renderer(span)
    rows = ",\n        ".join(renderer.row(ix, ind) for ix, ind in enumerate(indicators))
    meta = ", ".join(
        f"({ix}, '{ind.kind}', CAST({ind.factor!r} AS numeric), {str(ind.is_ratio).lower()}, "
        f"'{ind.span or span}')"
        for ix, ind in enumerate(indicators)
    )
    span_joins = "\n    ".join(
        f"LEFT JOIN ind_span {alias} ON {alias}.hospital_code = pop.hospital_code "
        f"AND {alias}.period = pop.period AND {alias}.span = '{alias[2:]}'"
        for alias in sorted(renderer.flow_aliases)
    )
    attributes = ", ".join(f"h.{a}" for a in catalogue.HOSPITAL_ATTRIBUTES)
    if level == "hospital":
        agg = """
    SELECT 'hospital' AS level, hv.hospital_code AS code, hv.name, CAST(hv.adcode AS text) AS parent_code,
           hv.period, hv.ix, hv.num, hv.den, hv.pnum, hv.pden, CAST(hv.rep AS int) AS reporting, 1 AS expected
    FROM hv"""
    else:
        agg = f"""
    SELECT CAST(:level AS text) AS level, CAST(r.adcode AS text) AS code, r.name, CAST(r.parent_adcode AS text) AS parent_code,
           per.period, k.ix, sum(hv.num) AS num, sum(hv.den) AS den, sum(hv.pnum) AS pnum, sum(hv.pden) AS pden,
           CAST(count(*) FILTER (WHERE hv.rep) AS int) AS reporting,
           CAST(count(hv.hospital_code) AS int) AS expected
    FROM regions r CROSS JOIN per CROSS JOIN meta k
    LEFT JOIN (region_ancestors a JOIN hv ON hv.adcode = a.adcode)
           ON a.ancestor_adcode = r.adcode AND hv.period = per.period AND hv.ix = k.ix
    WHERE {restrict.at_level('r', ':level')} AND {region_where}
    GROUP BY r.adcode, r.name, r.parent_adcode, per.period, k.ix"""
    this = "CASE WHEN k.has_den THEN a.num / NULLIF(a.den, 0) ELSE a.num END"
    prior = "CASE WHEN k.has_den THEN a.pnum / NULLIF(a.pden, 0) ELSE a.pnum END"
    return f"""
WITH per AS (SELECT CAST(x AS date) AS period FROM unnest(CAST(:periods AS text[])) x),
meta (ix, kind, factor, has_den, span) AS (VALUES {meta}),
pop AS (
    SELECT h.hospital_code, h.name, h.adcode, {attributes}, per.period
    FROM hospitals h CROSS JOIN per
    WHERE {restrict.open_at('h', 'per.period')} AND {hospital_where}
),
hv AS (
    SELECT pop.hospital_code, pop.name, pop.adcode, pop.period, v.ix, v.rep, v.num, v.den, v.pnum, v.pden
    FROM pop
    LEFT JOIN ind_month p ON p.hospital_code = pop.hospital_code AND p.period = pop.period
    {span_joins}
    CROSS JOIN LATERAL (VALUES
        {rows}
    ) v(ix, in_pop, contrib, rep, num, den, pnum, pden)
    WHERE v.in_pop
),
a AS ({agg}
)
SELECT a.level, a.code, a.name, a.parent_code, a.ix, to_char(a.period, 'YYYY-MM') AS period, k.span,
       CAST(CASE k.kind WHEN 'growth' THEN ({this}) / NULLIF({prior}, 0) - 1
                        WHEN 'ratio' THEN a.num / NULLIF(a.den, 0) * k.factor
                        WHEN 'count' THEN coalesce(a.num, 0) * k.factor
                        ELSE a.num * k.factor END AS float8) AS value,
       CAST(CASE k.kind WHEN 'growth' THEN {this} WHEN 'count' THEN coalesce(a.num, 0) ELSE a.num END
            AS float8) AS numerator,
       CAST(CASE k.kind WHEN 'growth' THEN {prior} ELSE a.den END AS float8) AS denominator,
       a.reporting, a.expected
FROM a JOIN meta k ON k.ix = a.ix
ORDER BY a.code, a.ix, a.period
"""


def fetch(engine: Engine, ids: IndicatorIds, level: str, period_list: Sequence[str | date], *, span: str = "month",
          region: str | None = None, filters: Mapping[str, Any] | None = None, scope: str | None = None,
          code: str | None = None, refresh: bool = True) -> pd.DataFrame:
    """:func:`query` over several periods at once (and optionally one *code*); the engine of both APIs."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    periods.check_span(span)
    indicators = _indicators(ids)
    dates = sorted({periods.to_date(p) for p in period_list})
    sc = restrict.parse_scope(scope)
    hospital_where, params = restrict.hospitals(
        "h", region=region, scope=sc, filters=filters, hospital=code if level == "hospital" else None)
    region_where, region_params = restrict.regions("r", region=region, scope=sc,
                                                   code=code if level != "hospital" else None)
    if refresh:
        aggregate.refresh(engine)
    sql = _sql(indicators, level, span, hospital_where, region_where)
    params = {**params, **region_params, "level": level, "periods": [d.isoformat() for d in dates]}
    with engine.connect() as conn:
        frame = pd.read_sql_query(sa.text(sql), conn, params=params)
    frame["level"] = level
    frame["indicator"] = [indicators[i].id for i in frame.pop("ix")]
    for column in ("value", "numerator", "denominator"):
        frame[column] = frame[column].astype("float64")
    for column in ("reporting", "expected"):
        frame[column] = frame[column].astype("int64")
    for column in ("code", "name", "parent_code", "period", "span"):
        frame[column] = frame[column].astype(object)
    return frame[COLUMNS].reset_index(drop=True)


def query(engine: Engine, ids: IndicatorIds, level: str, period: str | date, span: str = "month",
          region: str | None = None, filters: Mapping[str, Any] | None = None,
          scope: str | None = None) -> pd.DataFrame:
    """Indicator values for every unit of *level* for one *period* ('YYYY-MM').

    *ids*: catalogue ids (a string, a list, or None for the whole catalogue);
    an :class:`~opsmon.indicators.catalogue.Indicator` not in the catalogue is
    computed the same way (ad-hoc analysis).
    *level*: province, prefecture, county or hospital. *span*: month, quarter,
    ytd or year (see :mod:`opsmon.indicators.periods`). *region*: only that
    adcode and its descendants. *filters*: hospital attributes — tier, category,
    affiliation, authority (a value or a list), is_pilot, is_budget_managed
    (bool). *scope*: the adcode or hospital code the caller is limited to
    (:mod:`opsmon.indicators.restrict`). Returns the columns of :data:`COLUMNS`,
    one row per unit, indicator and period; units without data are present with
    a NaN value.
    """
    return fetch(engine, ids, level, [period], span=span, region=region, filters=filters, scope=scope)


def level_of(engine: Engine, code: str) -> str:
    """'hospital' for an 18-character code, else the region level of *code*."""
    if len(code) == 18:
        return "hospital"
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT level FROM regions WHERE adcode = :c"), {"c": code}).scalar()
    if found is None:
        raise ValueError(f"unknown region {code!r}")
    return found


def series(engine: Engine, id: str, code: str, start: str | date, end: str | date, span: str = "month",
           filters: Mapping[str, Any] | None = None, scope: str | None = None) -> pd.DataFrame:
    """Monthly values of indicator *id* for one region or hospital *code*, *start* to *end* inclusive.

    Same columns as :func:`query`, one row per month, oldest first. *span* gives
    e.g. the YTD value at every month.
    """
    level = level_of(engine, code)
    frame = fetch(engine, [id], level, periods.month_range(start, end), span=span, filters=filters,
                  scope=scope, code=code)
    return frame.sort_values("period").reset_index(drop=True)
