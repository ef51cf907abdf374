"""The one query API: catalogue entries → one SQL statement → a long frame.

For every requested indicator the statement computes, per hospital, a numerator,
a denominator (and for growth the year-earlier pair), whether the hospital
contributes and whether it "reports" for that indicator — all from the
materialised aggregates of :mod:`opsmon.indicators.aggregate`
(:mod:`opsmon.indicators.hospital_values`). Region rows sum those over the
hospitals below them through ``region_ancestors`` (so 梅河口市 counts under the
province, not under 通化市) and only then divide: a parent's value is always the
ratio of its children's sums. Unfiltered region queries of catalogue entries read
those sums ready-made from the refresh (:mod:`opsmon.indicators.region_sums`);
everything else sums hospitals at query time — the same numbers either way. At prefecture level a county-level
city the province administers directly is a unit of its own
(:func:`~opsmon.indicators.restrict.at_level`), so the prefecture rows add up to
the province.

Result columns (:data:`COLUMNS`): ``level, code, name, parent_code, indicator,
period ('YYYY-MM'), span, value, numerator, denominator, reporting, expected,
approx``.
``value`` is a fraction for percentages (0.4907), yuan for money, etc. (the
catalogue's unit). For growth indicators ``numerator`` is this span's base value,
``denominator`` the same span a year earlier, and ``value`` their ratio minus 1.
``reporting`` counts the hospitals that contribute to the value (for programme
status: those that have reported progress; for counts: those that reported the
month); ``expected`` counts the open hospitals of the indicator's population.
``approx`` (bool) marks a 近似 value: for a hospital, its value uses the v1
stand-in of the catalogue entry because it lacks an optional field of the
official definition (:class:`~opsmon.indicators.catalogue.Approximation`); for
a region, at least one contributing hospital's value does. An entry without an
approximation, and a value no hospital contributes to, is never 近似.

The hospitals behind a value are those open in the period (the span's last
month) that pass the filters and the scope; a hospital closed since does not
count, even for months it was open. Programme and count indicators are as of
the period whatever the span; the ``span`` column says which span a value
covers (the deficit counts cover the last 12 months by definition: span ``year``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.indicators import aggregate, catalogue, hospital_values, region_sums, restrict
from opsmon.indicators.catalogue import Indicator

LEVELS: tuple[str, ...] = ("nation", "province", "prefecture", "county", "hospital")  # "nation": national instance
COLUMNS: list[str] = ["level", "code", "name", "parent_code", "indicator", "period", "span", "value",
                      "numerator", "denominator", "reporting", "expected", "approx"]
# What the ``ids`` argument accepts: an id, an entry, a list of either, or None for all.
IndicatorIds = str | Indicator | Iterable[str | Indicator] | None


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


def _meta(indicators: Sequence[Indicator], span: str) -> str:
    """``meta (ix, kind, factor, has_den, span, indicator, stored_span)``: how each value is finished."""
    rows = ", ".join(
        f"({ix}, '{ind.kind}', CAST({ind.factor!r} AS numeric), {str(ind.is_ratio).lower()}, "
        f"'{ind.span or span}', '{ind.id}', '{region_sums.stored_span(ind, span)}')"
        for ix, ind in enumerate(indicators)
    )
    return f"meta (ix, kind, factor, has_den, span, indicator, stored_span) AS (VALUES {rows})"


# The one place a value is finished from its sums: a (level, code, name, parent_code, period, ix,
# num, den, pnum, pden, reporting, expected, n_approx) row per unit → the result's columns.
_THIS = "CASE WHEN k.has_den THEN a.num / NULLIF(a.den, 0) ELSE a.num END"
_PRIOR = "CASE WHEN k.has_den THEN a.pnum / NULLIF(a.pden, 0) ELSE a.pnum END"
FINISH = f"""
SELECT a.level, a.code, a.name, a.parent_code, a.ix, to_char(a.period, 'YYYY-MM') AS period, k.span,
       CAST(CASE k.kind WHEN 'growth' THEN ({_THIS}) / NULLIF({_PRIOR}, 0) - 1
                        WHEN 'ratio' THEN a.num / NULLIF(a.den, 0) * k.factor
                        WHEN 'count' THEN coalesce(a.num, 0) * k.factor
                        ELSE a.num * k.factor END AS float8) AS value,
       CAST(CASE k.kind WHEN 'growth' THEN {_THIS} WHEN 'count' THEN coalesce(a.num, 0) ELSE a.num END
            AS float8) AS numerator,
       CAST(CASE k.kind WHEN 'growth' THEN {_PRIOR} ELSE a.den END AS float8) AS denominator,
       a.reporting, a.expected, coalesce(a.n_approx, 0) > 0 AS approx
FROM a JOIN meta k ON k.ix = a.ix
ORDER BY a.code, a.ix, a.period
"""
# (As text, cast per element: unnest of the date[] cast sent the pre-summed region queries into a
# plan 10× slower.)
_PERIODS = "per AS (SELECT CAST(x AS date) AS period FROM unnest(CAST(:periods AS text[])) x)"
_PERIOD_LIST = "CAST(CAST(:periods AS text[]) AS date[])"  # the same periods as an array
_REGION = ("CAST(:level AS text) AS level, CAST(r.adcode AS text) AS code, r.name, "
           "CAST(r.parent_adcode AS text) AS parent_code")


def _sql(indicators: Sequence[Indicator], level: str, span: str, hospital_where: str, region_where: str) -> str:
    """Sum the hospitals' values at query time (any level, filters, ad-hoc entries)."""
    if level == "hospital":
        agg = """
    SELECT 'hospital' AS level, hv.hospital_code AS code, hv.name, CAST(hv.adcode AS text) AS parent_code,
           hv.period, hv.ix, hv.num, hv.den, hv.pnum, hv.pden, CAST(hv.rep AS int) AS reporting, 1 AS expected,
           hv.approx AS n_approx
    FROM hv"""
    else:
        # Summed per county first, once (MATERIALIZED), then the counties' sums up to each region:
        # the hospitals' rows are not joined to every region above them — which, with filters that
        # leave the planner guessing, it did once per region and month (seconds nationally).
        agg = f"""
    SELECT {_REGION}, per.period, k.ix, sum(c.num) AS num, sum(c.den) AS den, sum(c.pnum) AS pnum,
           sum(c.pden) AS pden, CAST(coalesce(sum(c.reporting), 0) AS int) AS reporting,
           CAST(coalesce(sum(c.expected), 0) AS int) AS expected, CAST(coalesce(sum(c.n_approx), 0) AS int) AS n_approx
    FROM regions r CROSS JOIN per CROSS JOIN meta k
    LEFT JOIN (region_ancestors a JOIN c ON c.adcode = a.adcode)
           ON a.ancestor_adcode = r.adcode AND c.period = per.period AND c.ix = k.ix
    WHERE {restrict.at_level('r', ':level')} AND {region_where}
    GROUP BY r.adcode, r.name, r.parent_adcode, per.period, k.ix"""
    by_county = "" if level == "hospital" else """,
c AS MATERIALIZED (
    SELECT hv.adcode, hv.period, hv.ix, sum(hv.num) AS num, sum(hv.den) AS den, sum(hv.pnum) AS pnum,
           sum(hv.pden) AS pden, count(*) FILTER (WHERE hv.rep) AS reporting, count(*) AS expected,
           sum(hv.approx) AS n_approx
    FROM hv GROUP BY hv.adcode, hv.period, hv.ix
)"""
    return f"""
WITH {_PERIODS},
{_meta(indicators, span)},{hospital_values.ctes(indicators, span, hospital_where, period_list=_PERIOD_LIST)}{by_county},
a AS ({agg}
){FINISH}"""


def _presummed_sql(indicators: Sequence[Indicator], span: str, region_where: str) -> str:
    """Read the refresh's pre-summed region rows (:mod:`opsmon.indicators.region_sums`)."""
    sums = ", ".join(f"CASE WHEN s.n_{c} > 0 THEN s.{c} END AS {c}" for c in ("num", "den", "pnum", "pden"))
    return f"""
WITH {_PERIODS},
{_meta(indicators, span)},
a AS (
    SELECT {_REGION}, per.period, k.ix, {sums},
           coalesce(s.reporting, 0) AS reporting, coalesce(s.expected, 0) AS expected,
           coalesce(s.n_approx, 0) AS n_approx
    FROM regions r CROSS JOIN per CROSS JOIN meta k
    LEFT JOIN ind_region s ON s.adcode = r.adcode AND s.period = per.period
                          AND s.span = k.stored_span AND s.indicator = k.indicator
    WHERE {restrict.at_level('r', ':level')} AND {region_where}
){FINISH}"""


def needed_filters(indicators: Sequence[Indicator], filters: Mapping[str, Any] | None) -> dict[str, Any]:
    """*filters* without a tier filter every indicator's population already lies within.

    "三级 hospitals" on an indicator whose population is the 三级 hospitals keeps every
    hospital that counts: the numbers are the same without it, and an unfiltered
    query can read the pre-summed region rows (the targets by tier do this).
    """
    out = {k: v for k, v in (filters or {}).items() if v is not None}
    tier = out.get("tier")
    if tier is not None:
        wanted = {tier} if isinstance(tier, str) else set(tier)
        populations = [catalogue.population_tiers(ind) for ind in indicators]
        if all(p is not None and p <= wanted for p in populations):
            del out["tier"]
    return out


def _presummed(conn: sa.Connection, indicators: Sequence[Indicator], level: str, dates: Sequence[date],
               filters: Mapping[str, Any]) -> bool:
    """Whether the pre-summed region rows answer this query exactly.

    Region levels only, catalogue entries only (an ad-hoc entry has no rows), no
    hospital filter (*filters* as :func:`needed_filters` left them), and months the
    last build covered.
    """
    if level == "hospital" or filters:
        return False
    if any(catalogue.BY_ID.get(ind.id) != ind for ind in indicators):
        return False
    covered = aggregate.covered_months(conn)
    return covered is not None and covered[0] <= min(dates) and max(dates) <= covered[1]


def fetch(engine: Engine, ids: IndicatorIds, level: str, period_list: Sequence[str | date], *, span: str = "month",
          region: str | None = None, filters: Mapping[str, Any] | None = None, scope: str | None = None,
          code: str | None = None) -> pd.DataFrame:
    """:func:`query` over several periods at once (and optionally one *code*); the engine of both APIs."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    periods.check_span(span)
    indicators = _indicators(ids)
    dates = sorted({periods.to_date(p) for p in period_list})
    restrict.hospitals("h", filters=filters)  # a bad filter is refused even where it would be dropped
    filters = needed_filters(indicators, filters)
    sc = restrict.parse_scope(scope)
    hospital_where, params = restrict.hospitals(
        "h", region=region, scope=sc, filters=filters, hospital=code if level == "hospital" else None)
    region_where, region_params = restrict.regions("r", region=region, scope=sc,
                                                   code=code if level != "hospital" else None)
    params = {**params, **region_params, "level": level, "periods": [d.isoformat() for d in dates]}
    with engine.connect() as conn:
        if _presummed(conn, indicators, level, dates, filters):
            sql = _presummed_sql(indicators, span, region_where)
        else:
            sql = _sql(indicators, level, span, hospital_where, region_where)
        frame = pd.read_sql_query(sa.text(sql), conn, params=params)
    frame["level"] = level
    frame["indicator"] = [indicators[i].id for i in frame.pop("ix")]
    for column in ("value", "numerator", "denominator"):
        frame[column] = frame[column].astype("float64")
    for column in ("reporting", "expected"):
        frame[column] = frame[column].astype("int64")
    frame["approx"] = frame["approx"].astype(bool)
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
    ytd or year (see :mod:`opsmon.periods`). *region*: only that
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
