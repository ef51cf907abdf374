"""Trends of one region or hospital: year-on-year, a year-end forecast for flows, anomaly flags.

The data come from :func:`opsmon.indicators.query.series` (SQL); the models are
statsmodels on a few dozen monthly points, per call.

**Year-end forecast** (flow indicators only): the monthly numerator and
denominator are forecast separately for the months left in the year and added
to the year-to-date sums, then divided — the same ratio of sums as every other
value. Model by history (the run of consecutive months with data ending at the
period): ≥ 24 months, additive Holt-Winters with a damped trend and a 12-month
season; ≥ 6 months, damped Holt (no season); fewer, the mean of the last three
months. The interval comes from simulated paths (the models' own simulation,
or resampled deviations for the mean); numerator and denominator are simulated
independently, which ignores their correlation and so errs on the wide side.

**Anomalies**: a robust z-score (0.6745 × (r − median) / MAD) of year-on-year
differences (≥ 13 months; else of the values themselves), flagged beyond
:data:`Z_THRESHOLD`. Year-on-year differences remove the season without fitting
it; STL was tried first, but on two to five years of months its seasonal
smoother absorbs nearly everything, the MAD collapses and most months get
flagged (simulated seasonal series with one spike: STL flagged ~3 false months
per series, year-on-year differences well under one). A spike also distorts the
difference a year later; that month is compared with two years earlier instead.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from opsmon import periods, robust
from opsmon.indicators import catalogue
from opsmon.indicators.query import series

Z_THRESHOLD = 3.5
SEASONAL_MONTHS = 24  # Holt-Winters needs two full seasons
TREND_MONTHS = 6
REPETITIONS = 1000


def yoy(engine: Engine, id: str, code: str, start: str | date, end: str | date, span: str = "month",
        filters: Mapping[str, Any] | None = None, scope: str | None = None) -> pd.DataFrame:
    """The series of *id* for *code* with the same month a year earlier.

    Columns: those of :func:`~opsmon.indicators.query.series` plus
    ``value_last_year``, ``change`` (value − last year; percentage points for
    percentages) and ``growth`` (value ÷ last year − 1).
    """
    first = periods.to_date(start)
    frame = series(engine, id, code, periods.add_months(first, -12), end, span=span, filters=filters, scope=scope)
    by_period = frame.set_index("period")["value"]
    out = frame[frame["period"] >= periods.to_period(first)].reset_index(drop=True)
    earlier = [periods.to_period(periods.add_months(periods.to_date(p), -12)) for p in out["period"]]
    out["value_last_year"] = by_period.reindex(earlier).to_numpy()
    out["change"] = out["value"] - out["value_last_year"]
    out["growth"] = out["value"] / out["value_last_year"].where(out["value_last_year"] != 0) - 1
    return out


def _fit_simulate(history: pd.Series, horizon: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """Point forecasts (horizon,) and simulated paths (horizon, REPETITIONS) of a monthly series."""
    y = history.to_numpy(dtype=float)
    if len(y) >= TREND_MONTHS and np.ptp(y) > 0:
        from statsmodels.tsa.holtwinters import ExponentialSmoothing

        seasonal = len(y) >= SEASONAL_MONTHS
        model = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal="add" if seasonal else None,
                                     seasonal_periods=12 if seasonal else None, initialization_method="estimated")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter on short, smooth series
            fit = model.fit()
            paths = fit.simulate(horizon, repetitions=REPETITIONS, error="add", anchor="end",
                                 random_state=int(rng.integers(2**31)))
        return np.asarray(fit.forecast(horizon)), np.asarray(paths).reshape(horizon, -1), (
            "holt_winters" if seasonal else "holt")
    recent = y[-3:]
    point = np.full(horizon, recent.mean())
    deviations = y - y.mean()
    draws = rng.choice(deviations, size=(horizon, REPETITIONS)) if len(y) > 1 else np.zeros((horizon, REPETITIONS))
    return point, point[:, None] + draws, "mean"


def forecast_components(numerator: pd.Series, denominator: pd.Series | None, period: str | date, *,
                        factor: float = 1.0, alpha: float = 0.2, seed: int = 0) -> dict[str, Any]:
    """Year-end value of Σ numerator (÷ Σ denominator) × *factor* from monthly component series.

    The series are indexed by 'YYYY-MM' (oldest first) and end at *period*. Returns
    ``ytd_value``, ``forecast``, ``lower``, ``upper`` (a 1 − *alpha* interval),
    ``model``, ``history_months`` and ``remaining_months``.
    """
    end = periods.to_date(period)
    horizon = 12 - end.month
    frame = pd.DataFrame({"num": numerator, "den": denominator if denominator is not None else 1.0})
    frame = frame[frame.index <= periods.to_period(end)]
    # History: the run of consecutive months with data that ends at the period.
    present = frame["num"].notna() & frame["den"].notna()
    run = 0
    for ok in reversed(present.tolist()):
        if not ok:
            break
        run += 1
    history = frame.iloc[len(frame) - run:] if run else frame.iloc[0:0]
    this_year = history[history.index >= f"{end.year:04d}-01"]
    ytd_num, ytd_den = this_year["num"].sum(), this_year["den"].sum()

    def ratio(num: Any, den: Any) -> Any:
        if denominator is None:
            return num * factor
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den != 0, num / den * factor, np.nan)

    result: dict[str, Any] = {"history_months": run, "remaining_months": horizon,
                              "ytd_value": float(ratio(ytd_num, ytd_den)) if run else math.nan}
    if run == 0:
        return {**result, "forecast": math.nan, "lower": math.nan, "upper": math.nan, "model": None}
    if horizon == 0:
        value = result["ytd_value"]
        return {**result, "forecast": value, "lower": value, "upper": value, "model": "actual"}
    rng = np.random.default_rng(seed)
    num_point, num_paths, model = _fit_simulate(history["num"], horizon, rng)
    if denominator is not None:
        den_point, den_paths, _ = _fit_simulate(history["den"], horizon, rng)
    else:
        den_point, den_paths = np.zeros(horizon), np.zeros((horizon, REPETITIONS))
    point = float(ratio(ytd_num + num_point.sum(), ytd_den + den_point.sum()))
    sims = ratio(ytd_num + num_paths.sum(axis=0), ytd_den + den_paths.sum(axis=0))
    lower, upper = np.nanquantile(sims, [alpha / 2, 1 - alpha / 2])
    return {**result, "forecast": point, "lower": float(lower), "upper": float(upper), "model": model}


def forecast_year_end(engine: Engine, id: str, code: str, period: str | date, *,
                      filters: Mapping[str, Any] | None = None, scope: str | None = None, alpha: float = 0.2,
                      history_years: int = 3, seed: int = 0) -> dict[str, Any]:
    """Forecast flow indicator *id* for *code* over the calendar year of *period* (see the module docstring).

    Returns a dict: indicator, code, period, year, and the keys of
    :func:`forecast_components`. ``ValueError`` for indicators that are not flows.
    """
    ind = catalogue.get(id)
    if ind.basis != "flow" or ind.kind == "growth":
        raise ValueError(f"{id} is not a flow indicator: a year-end forecast sums months")
    end = periods.to_date(period)
    start = date(end.year - history_years, 1, 1)
    frame = series(engine, id, code, start, end, filters=filters, scope=scope).set_index("period")
    numerator = frame["numerator"]
    denominator = frame["denominator"] if ind.is_ratio else None
    out = forecast_components(numerator, denominator, end, factor=ind.factor, alpha=alpha, seed=seed)
    return {"indicator": id, "code": code, "period": periods.to_period(end), "year": end.year, **out}


def _centre_scale(x: pd.Series) -> tuple[float, float]:
    """Median and robust scale (:func:`opsmon.robust.robust_scale`: MAD ÷ 0.6745; 1.2533 × mean
    absolute deviation when the MAD is 0)."""
    from statsmodels.robust import mad

    centre = float(x.median())
    deviation = (x - centre).abs()
    # c=1: the MAD itself; robust_scale divides by 0.6745 (statsmodels' default c is
    # Φ⁻¹(3/4) = 0.67449…, which would move every z-score slightly).
    spread = float(mad(x.dropna().to_numpy(), c=1, center=centre))
    return centre, float(robust.robust_scale(spread, mean_ad=float(deviation.mean())))


def robust_z(values: pd.Series) -> pd.Series:
    """(x − median) / robust scale, i.e. 0.6745 × (x − median) / MAD; 0 for a constant series."""
    x = values.astype(float)
    centre, scale = _centre_scale(x)
    if math.isnan(scale):
        return pd.Series(0.0, index=x.index).where(x.notna())
    return (x - centre) / scale


def _shifted(y: pd.Series, months: int) -> pd.Series:
    """*y* (indexed by 'YYYY-MM') moved *months* later, aligned to y's index."""
    moved = periods.shift_series(pd.Series(y.index, dtype="string"), months)
    return pd.Series(y.to_numpy(), index=pd.Index(moved)).reindex(y.index)


def anomalies(values: pd.Series, threshold: float = Z_THRESHOLD) -> pd.DataFrame:
    """Flag unusual months of a monthly series indexed by 'YYYY-MM' (see the module docstring).

    Columns: period, value, residual, z, anomaly (bool), method ('yoy' or 'level').
    """
    y = values.sort_index().astype(float)
    if y.notna().sum() >= 13:
        residual = y - _shifted(y, 12)
        centre, scale = _centre_scale(residual)
        z = robust_z(residual)
        # A flagged month makes the next year's difference look odd too (its echo):
        # compare that month with two years earlier instead, on the same scale.
        echo = _shifted(z.abs() > threshold, 12).eq(True) & residual.notna()
        if echo.any() and not math.isnan(scale):
            residual = residual.where(~echo, y - _shifted(y, 24))
            z = z.where(~echo, (residual - centre) / scale)
        method = "yoy"
    else:
        residual, method = y, "level"
        z = robust_z(residual)
    return pd.DataFrame({"period": y.index, "value": y.to_numpy(), "residual": residual.to_numpy(),
                         "z": z.to_numpy(), "anomaly": (z.abs() > threshold).to_numpy(), "method": method})


def flag_anomalies(engine: Engine, id: str, code: str, start: str | date, end: str | date, *,
                   threshold: float = Z_THRESHOLD, filters: Mapping[str, Any] | None = None,
                   scope: str | None = None) -> pd.DataFrame:
    """:func:`anomalies` of indicator *id*'s monthly values for *code* from *start* to *end*."""
    frame = series(engine, id, code, start, end, filters=filters, scope=scope)
    return anomalies(frame.set_index("period")["value"], threshold)
