"""``cash_forecast``: the month a hospital's cash cover is projected to fall below one month.

For every hospital and reported month *t*, the trend of ``cash_months`` (货币资金可支付月数,
the catalogue's definition) over the 12 months ending at *t* is fitted by ordinary least
squares (statsmodels ``OLS``, value on month number) and projected up to
:data:`HORIZON_MONTHS` ahead. The rule fires at *t* when

* cash_months at *t* is still at or above the threshold (default 1 month: below it,
  ``cash_short`` speaks instead), and
* the fitted line is below the threshold at some month within the horizon — the first such
  month is the **projected period**, recorded with the firing.

**History too short.** A forecast needs all :data:`HISTORY_MONTHS` (12) months ending at *t*
reported, consecutive, each with a cash_months value: a gap or a shorter history gives no
warning. Twelve points is the least that spans a year's seasonal swing (the Spring-Festival
dip, year-end settlements) once, so a seasonal low is not read as a trend.

**Fit too poor.** No warning unless the slope is negative and significant — two-sided p ≤
:data:`MAX_P_VALUE` (0.05) for the slope's t-test — and the line explains at least
:data:`MIN_R2` (half) of the months' variation. With exactly 12 points the two bounds are tied
(R² = t² / (t² + 10)): R² ≥ 0.5 means |t| ≥ 3.16, p ≤ 0.01, so R² is the binding bound; the
p-value bound keeps the guard meaningful if the window is ever lengthened. R² ≥ 0.5 is chosen
because a warning names a month: a line explaining less than half of the movement puts that
month anywhere within the horizon, and a noisy but flat cash balance (a hospital that pays
suppliers in lumps) must stay quiet.

**Computation.** One read of every hospital's series, then in memory: the closed-form
least-squares line of every 12-month window (numpy, vectorised) screens out the windows
that cannot fire (not falling, or not reaching the threshold within the horizon); statsmodels
fits the few that remain and decides on the fit's quality. The caller writes the firings back
in one statement (:mod:`opsmon.indicators.risk`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from opsmon.periods import add_months, month_index, to_period

HISTORY_MONTHS = 12  # the trend reads the last 12 months, all reported
HORIZON_MONTHS = 6  # how far ahead a crossing is warned of
MAX_P_VALUE = 0.05  # the slope's two-sided t-test
MIN_R2 = 0.5  # share of the months' variation the trend explains

COLUMNS = ["hospital_code", "period", "severity", "metric", "extra"]


def _windows(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Row positions whose 12-month window is complete, and the windows' values (n × 12)."""
    n = len(frame)
    if n < HISTORY_MONTHS:
        return np.empty(0, dtype=int), np.empty((0, HISTORY_MONTHS))
    values = frame["cash_months"].to_numpy(dtype=float)
    idx = np.array([month_index(p) for p in frame["period"]], dtype=int)
    hospital = pd.factorize(frame["hospital_code"])[0]
    start = np.arange(HISTORY_MONTHS - 1, n)  # window ends
    first = start - (HISTORY_MONTHS - 1)
    complete = (hospital[first] == hospital[start]) & (idx[start] - idx[first] == HISTORY_MONTHS - 1)
    windows = np.lib.stride_tricks.sliding_window_view(values, HISTORY_MONTHS)
    complete &= ~np.isnan(windows).any(axis=1)
    return start[complete], windows[complete]


def forecast(series: pd.DataFrame, thresholds: Sequence[tuple[int, float]]) -> pd.DataFrame:
    """The firings of ``cash_forecast`` over *series*.

    *series*: hospital_code, period (a date: the month's first day), cash_months — every
    reported month of each hospital (NULL where the value cannot be computed).
    *thresholds*: (severity 1–3, threshold) of the rule's levels in force. Returns one row
    per firing: hospital_code, period, severity (the most severe level whose threshold the
    trend crosses), metric (cash_months at the period) and extra (projected_period
    'YYYY-MM', projected_value, slope per month, r2, p_value, horizon).
    """
    if series.empty or not thresholds:
        return pd.DataFrame(columns=COLUMNS)
    frame = series.sort_values(["hospital_code", "period"], ignore_index=True)
    ends, windows = _windows(frame)
    x = np.arange(HISTORY_MONTHS, dtype=float)
    xc = x - x.mean()
    slope = windows @ xc / (xc @ xc)
    intercept = windows.mean(axis=1) - slope * x.mean()
    now = windows[:, -1]
    horizon_end = intercept + slope * (HISTORY_MONTHS - 1 + HORIZON_MONTHS)
    lowest = min(t for _, t in thresholds)
    highest = max(t for _, t in thresholds)
    # Screen: falling, not yet below the mildest threshold, and below some threshold by the horizon.
    candidates = np.flatnonzero((slope < 0) & (now >= lowest) & (horizon_end < highest))
    design = sm.add_constant(x)
    rows = []
    for k in candidates:
        fit = sm.OLS(windows[k], design).fit()
        b, p_value, r2 = fit.params[1], fit.pvalues[1], fit.rsquared
        if not (b < 0 and p_value <= MAX_P_VALUE and r2 >= MIN_R2):
            continue
        ahead = fit.params[0] + b * (HISTORY_MONTHS - 1 + np.arange(1, HORIZON_MONTHS + 1))
        for severity, threshold in sorted(thresholds, reverse=True):
            below = np.flatnonzero(ahead < threshold)
            if now[k] < threshold or not below.size:
                continue
            h = int(below[0]) + 1
            row = frame.iloc[ends[k]]
            rows.append((row["hospital_code"], row["period"], severity, float(now[k]), {
                "projected_period": to_period(add_months(row["period"], h)),
                "projected_value": round(float(ahead[h - 1]), 4), "slope": round(float(b), 4),
                "r2": round(float(r2), 4), "p_value": float(f"{p_value:.3g}"), "horizon": HORIZON_MONTHS,
                "history_months": HISTORY_MONTHS}))
            break
    return pd.DataFrame(rows, columns=COLUMNS)
