"""cash_forecast's fit on series in memory: the projected month, the history and fit-quality bounds."""

from __future__ import annotations

from datetime import date

import pandas as pd

from opsmon.indicators import cash_forecast
from opsmon.periods import add_months

YELLOW = [(1, 1.0)]


def series(values: list[float | None], code: str = "H1", start: date = date(2024, 1, 1),
           skip: tuple[int, ...] = ()) -> pd.DataFrame:
    """Months from *start* with *values* (None: not computable), the months at positions *skip* left out."""
    rows = [(code, add_months(start, k), v) for k, v in enumerate(values) if k not in skip]
    return pd.DataFrame(rows, columns=["hospital_code", "period", "cash_months"])


def zigzag(first: float, step: float, n: int = 12, wiggle: float = 0.01) -> list[float]:
    """A straight fall from *first* by *step* a month, ± *wiggle* alternately (a fit that is not exact)."""
    return [first + step * k + (wiggle if k % 2 else -wiggle) for k in range(n)]


def test_a_steady_fall_names_the_first_month_below_one():
    # 2.2 → 1.1 over 2024 (−0.1 a month): the line is about 1.0 in 2025-01 and 0.9 in 2025-02.
    # With ± 0.01 around it the fitted 2025-01 value is 1.0 + a little: 2025-02 is the first below one.
    fired = cash_forecast.forecast(series(zigzag(2.21, -0.1)), YELLOW)
    assert len(fired) == 1
    row = fired.iloc[0]
    assert (row["hospital_code"], row["period"], row["severity"]) == ("H1", date(2024, 12, 1), 1)
    assert row["extra"]["projected_period"] == "2025-02"
    assert abs(row["metric"] - (2.21 - 1.1 + 0.01)) < 1e-9  # the value now: 1.12 months
    assert row["extra"]["r2"] > 0.99 and row["extra"]["slope"] < 0


def test_each_month_with_twelve_months_behind_it_is_assessed():
    # 15 months falling 0.05 a month from 1.92. The line at 2024-12 is 1.37 (below 1 after 8
    # months: beyond the 6 of the horizon), at 2025-01 1.32 (after 7: beyond), at 2025-02 1.27
    # (after 6: 2025-08), at 2025-03 1.22 (after 5: 2025-08 again).
    values = zigzag(1.92, -0.05, n=15, wiggle=0.002)
    fired = cash_forecast.forecast(series(values), YELLOW)
    assert [(r.period, r.extra["projected_period"]) for r in fired.itertuples()] == [
        (date(2025, 2, 1), "2025-08"), (date(2025, 3, 1), "2025-08")]


def test_a_noisy_flat_series_does_not_fire():
    # Mean about 1.4 with swings of ± 0.35: the line dips below 1 by the horizon (slope −0.033)
    # but explains a fifth of the variation (R² 0.21, p 0.14).
    noisy = [1.70, 1.30, 1.75, 1.05, 1.60, 1.25, 1.50, 1.00, 1.55, 1.15, 1.40, 1.05]
    assert cash_forecast.forecast(series(noisy), YELLOW).empty


def test_too_short_a_history_or_a_gap_does_not_fire():
    falling = zigzag(2.21, -0.1, n=13)
    assert cash_forecast.forecast(series(falling[:11]), YELLOW).empty  # 11 months
    # 13 months with June missing: neither window of 12 months is complete.
    assert cash_forecast.forecast(series(falling, skip=(5,)), YELLOW).empty
    # A month whose cash months cannot be computed (no expense) breaks the window too.
    assert cash_forecast.forecast(series(falling[:11] + [None]), YELLOW).empty


def test_no_warning_once_cash_is_already_below_the_threshold():
    # 1.9 → 0.8: December is below one month (cash_short's case, not a forecast).
    assert cash_forecast.forecast(series(zigzag(1.9, -0.1)), YELLOW).empty


def test_a_province_level_gets_the_most_severe_threshold_crossed():
    # 3.0 → 1.35 (−0.15 a month): the line crosses 1 in month 3 and 0.5 in month 6 after 2024-12.
    values = zigzag(3.0, -0.15, wiggle=0.005)
    fired = cash_forecast.forecast(series(values), [(1, 1.0), (2, 0.5)])
    assert [(r.severity, r.extra["projected_period"]) for r in fired.itertuples()] == [(2, "2025-06")]


def test_hospitals_are_fitted_separately():
    both = pd.concat([series(zigzag(2.21, -0.1), "A"), series([1.5] * 12, "B")], ignore_index=True)
    fired = cash_forecast.forecast(both.sample(frac=1, random_state=1), YELLOW)  # any row order
    assert list(fired["hospital_code"]) == ["A"]
