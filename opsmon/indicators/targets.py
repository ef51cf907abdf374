"""Targets (the ``targets`` table) against the indicators: current value, gap, projection, on track.

A target applies to a region when its ``scope_adcode`` is empty (national) or is
the region or one of its ancestors; a target with a ``tier`` is evaluated on that
tier's hospitals. Every target is an "at least" target (all the spec's are).

A target with ``recurrence = 'yearly'`` (吉林's "每院每年至少1个试点项目") stands again
every year: as of a month, the instance evaluated is the first one due on or after
that month (its ``due_period`` plus whole years), and its trend uses only that
instance's own twelve months — a yearly count restarts every January, so last
year's months are no evidence for this year. A year missed is 逾期未达标 in its
December; from January the next year's instance takes its place.

The projection fits a linear trend (statsmodels OLS on month number) to the
indicator's monthly series over the last :data:`TREND_MONTHS` months up to the
as-of month and predicts the due month with an 80 % prediction interval, clipped
to [0, 1] for percentages. Coverage is a rollout curve that saturates, so the
straight line is deliberately simple: near the top it overestimates, and the
clipping keeps it honest about the ceiling.

Status: ``met`` (value ≥ target now), ``missed`` (逾期未达标: the due month has
come without it; such a target stays in the evaluation — it is not dropped — and
turns ``met`` once the value reaches it), ``on_track`` / ``off_track`` (the projection at the due month
reaches the target or not), ``insufficient_data`` (no current value, or fewer
than :data:`MIN_POINTS` months of values). Months in which no hospital of the
region had reported yet are left out of the trend.
"""

from __future__ import annotations

import math
from datetime import date
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
import statsmodels.api as sm
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.indicators import aggregate, catalogue, restrict
from opsmon.indicators.query import LEVELS, fetch, level_of, series

TREND_MONTHS = 24
# evaluate_children: a target that applies to at most this many of the units is read unit by unit.
FEW_UNITS = 3
MIN_POINTS = 3
INTERVAL_ALPHA = 0.2  # an 80 % prediction interval

COLUMNS = ["target_id", "indicator", "name", "tier", "scope_adcode", "source", "region", "as_of", "due_period",
           "target", "value", "gap", "projected", "projected_lower", "projected_upper", "months_left", "points",
           "status", "on_track", "unit", "recurrence"]


class Projection(NamedTuple):
    """A trend projection to a future month."""

    value: float
    lower: float
    upper: float
    points: int


def project(values: pd.Series, months_ahead: int, *, bounds: tuple[float, float] | None = (0.0, 1.0)) -> Projection:
    """Project a monthly series (oldest first, NaN allowed) *months_ahead* past its last month.

    Linear trend on the month index with an 80 % prediction interval; NaN when fewer
    than :data:`MIN_POINTS` values. *bounds* clips the result (None: no clipping).
    """
    y = values.reset_index(drop=True)
    known = y.dropna()
    if len(known) < MIN_POINTS:
        return Projection(math.nan, math.nan, math.nan, len(known))
    t = known.index.to_numpy(dtype=float)
    horizon = len(y) - 1 + months_ahead
    if np.ptp(known.to_numpy()) == 0:  # a flat series: OLS has no residual spread to speak of
        point = lower = upper = float(known.iloc[-1])
    else:
        fit = sm.OLS(known.to_numpy(dtype=float), sm.add_constant(t)).fit()
        # conf_int(obs=True): summary_frame's obs_ci columns, without building the frame (a third of the time)
        prediction = fit.get_prediction(np.array([[1.0, horizon]]))
        point = float(prediction.predicted_mean[0])
        lower, upper = (float(v) for v in prediction.conf_int(obs=True, alpha=INTERVAL_ALPHA)[0])
    if bounds is not None:
        point, lower, upper = (min(max(v, bounds[0]), bounds[1]) for v in (point, lower, upper))
    return Projection(point, lower, upper, len(known))


def assess(value: float, target: float, due: date, as_of: date, projected: float) -> str:
    """The status of an "at least" target (see the module docstring)."""
    if math.isnan(value):
        return "insufficient_data"
    if value >= target:
        return "met"
    if due <= as_of:
        return "missed"
    if math.isnan(projected):
        return "insufficient_data"
    return "on_track" if projected >= target else "off_track"


def instance_due(due: date, recurrence: str | None, as_of: date) -> date:
    """The due month of the instance of a target evaluated as of *as_of*.

    A one-off target is due at *due*. A yearly one (due at *due*, then every 12
    months) is due at the first of those months on or after *as_of*, or at *due*
    before its first instance.
    """
    if recurrence is None:
        return due
    if recurrence != "yearly":
        raise ValueError(f"unknown recurrence {recurrence!r}")
    behind = (as_of.year - due.year) * 12 + as_of.month - due.month
    return due if behind <= 0 else periods.add_months(due, 12 * -(-behind // 12))


def _latest_period(engine: Engine) -> date | None:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT max(period) FROM ({aggregate.CALENDAR_SQL}) c")).scalar()


def applicable(engine: Engine, region: str) -> pd.DataFrame:
    """The targets that apply to *region*: national ones and those of the region or an ancestor."""
    return applicable_to(engine, [region]).drop(columns="region")


def applicable_to(engine: Engine, regions: list[str]) -> pd.DataFrame:
    """:func:`applicable` for each of *regions* in one query: its rows with a ``region`` column,
    by region, then as :func:`applicable` orders them."""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT u.region, target_id, indicator, CAST(scope_adcode AS text) AS scope_adcode, tier, "
            "CAST(value AS float8) AS value, due_period, source, recurrence "
            "FROM unnest(CAST(:regions AS text[])) AS u(region) JOIN targets t ON t.scope_adcode IS NULL "
            "OR t.scope_adcode IN (SELECT ancestor_adcode FROM region_ancestors a "
            "                      WHERE a.adcode = CAST(u.region AS char(6))) "
            "ORDER BY u.region, indicator, due_period, target_id"), conn, params={"regions": list(regions)})


def _assessed(t, region: str, history: pd.DataFrame, as_of_date: date) -> dict:
    """One target's row of :data:`COLUMNS` from the indicator's monthly *history* in *region*."""
    ind = catalogue.get(t.indicator)
    tier = t.tier if isinstance(t.tier, str) else None  # SQL NULL arrives as NaN
    recurrence = t.recurrence if isinstance(t.recurrence, str) else None
    value = float(history["value"].iloc[-1])
    due = instance_due(t.due_period, recurrence, as_of_date)
    months_left = (due.year - as_of_date.year) * 12 + due.month - as_of_date.month
    bounds = (0.0, 1.0) if ind.unit == "%" else None
    # Months before any hospital of the region reported are no evidence of a 0 % rollout.
    trend = history["value"].where(history["reporting"] > 0)
    if recurrence is not None:  # a yearly instance: only its own twelve months
        trend = trend[(history["period"] >= periods.to_period(periods.add_months(due, -11))).to_numpy()]
    proj = (project(trend, months_left, bounds=bounds) if months_left > 0
            else Projection(math.nan, math.nan, math.nan, int(history["value"].notna().sum())))
    status = assess(value, t.value, due, as_of_date, proj.value)
    return {
        "target_id": t.target_id, "indicator": t.indicator, "name": ind.zh, "tier": tier,
        "scope_adcode": t.scope_adcode if isinstance(t.scope_adcode, str) else None, "source": t.source,
        "region": region,
        "as_of": periods.to_period(as_of_date), "due_period": periods.to_period(due), "target": t.value,
        "value": value, "gap": t.value - value, "projected": proj.value, "projected_lower": proj.lower,
        "projected_upper": proj.upper, "months_left": months_left, "points": proj.points, "status": status,
        "on_track": {"met": True, "on_track": True, "missed": False, "off_track": False}.get(status),
        "unit": ind.unit, "recurrence": recurrence,
    }


def _tier_filter(tier) -> dict | None:
    return {"tier": tier} if isinstance(tier, str) else None


def _as_of(engine: Engine, as_of: str | date | None) -> date | None:
    return periods.to_date(as_of) if as_of else _latest_period(engine)


def evaluate(engine: Engine, region: str | None = None, as_of: str | date | None = None,
             scope: str | None = None) -> pd.DataFrame:
    """Every target that applies to *region* (default: the province) as of *as_of* ('YYYY-MM').

    *as_of* defaults to the latest month with data. *scope* is enforced as in
    :func:`opsmon.indicators.query.query`: a region outside the scope (or a hospital
    scope) gives an empty frame. Columns: :data:`COLUMNS`.
    """
    from opsmon.indicators.reporting import root_code

    region = restrict.check_region(region) or root_code(engine)
    as_of_date = _as_of(engine, as_of)
    if as_of_date is None:
        return pd.DataFrame(columns=COLUMNS)
    start = periods.add_months(as_of_date, -(TREND_MONTHS - 1))
    rows: list[dict] = []
    for t in applicable(engine, region).itertuples():
        history = series(engine, t.indicator, region, start, as_of_date, filters=_tier_filter(t.tier), scope=scope)
        if history.empty:  # the scope does not cover the region
            return pd.DataFrame(columns=COLUMNS)
        rows.append(_assessed(t, region, history, as_of_date))
    return pd.DataFrame(rows, columns=COLUMNS)


def evaluate_children(engine: Engine, region: str | None = None, as_of: str | date | None = None,
                      scope: str | None = None) -> pd.DataFrame:
    """:func:`evaluate` for every reporting unit directly under *region*, in one frame.

    The same rows as calling :func:`evaluate` per unit (units outside *scope* left
    out), but one query for the targets of every unit and one per targeted indicator and tier for all
    units at once — a national view has 31 provinces — or, for a target of a few units (a province's
    own), one per unit it applies to.
    """
    from opsmon.indicators.reporting import root_code

    region = restrict.check_region(region) or root_code(engine)
    level = level_of(engine, region)
    as_of_date = _as_of(engine, as_of)
    if as_of_date is None or level in ("county", "hospital"):
        return pd.DataFrame(columns=COLUMNS)
    child_level = LEVELS[LEVELS.index(level) + 1]
    start = periods.add_months(as_of_date, -(TREND_MONTHS - 1))
    months = periods.month_range(start, as_of_date)
    where, params = restrict.regions("r", region=region, scope=scope)
    with engine.connect() as conn:
        units = conn.execute(sa.text(
            f"SELECT CAST(adcode AS text) FROM regions r WHERE {restrict.at_level('r', ':level')} AND {where} "
            "ORDER BY adcode"), {**params, "level": child_level}).scalars().all()
    targeted = applicable_to(engine, units)
    keys = list(zip(targeted["indicator"], targeted["tier"].where(targeted["tier"].notna(), None)))
    histories: dict[tuple[str, str | None], dict[str, pd.DataFrame]] = {}
    for key in dict.fromkeys(keys):
        # A province's own target (or a tier no pre-sum covers) is read for the units it applies to,
        # not summed over the whole country: one query per unit while they are few.
        needed = sorted({code for code, k in zip(targeted["region"], keys) if k == key})
        within = [region] if len(needed) > FEW_UNITS else needed
        history = pd.concat([fetch(engine, [key[0]], child_level, months, region=r, filters=_tier_filter(key[1]),
                                   scope=scope) for r in within], ignore_index=True).sort_values("period")
        histories[key] = {code: unit.reset_index(drop=True) for code, unit in history.groupby("code")}
    empty = pd.DataFrame(columns=["period", "value", "reporting"])
    rows = [_assessed(t, t.region, histories[key].get(t.region, empty), as_of_date)
            for t, key in zip(targeted.itertuples(), keys)]
    return pd.DataFrame(rows, columns=COLUMNS)
