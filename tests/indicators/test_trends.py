"""Year-on-year series, year-end forecasts and anomaly flags."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import province_fixture as fx
import pytest

from opsmon import periods
from opsmon.indicators import trends


def months(start: str, n: int) -> list[str]:
    first = periods.to_date(start)
    return [periods.to_period(periods.add_months(first, i)) for i in range(n)]


def test_yoy_against_the_same_month_a_year_earlier(province):
    frame = trends.yoy(province, "surplus_rate", "220000", "2025-01", "2025-01").iloc[0]
    # Jan 2025: 100/8800. Jan 2024, hospitals open then (not E, opened 2024-12):
    # A 1000/900, B 500/400, C 3000/2900, F 1500/1500 → (100 + 100 + 100 + 0) / 6000.
    assert frame["value"] == pytest.approx(100 / 8800)
    assert frame["value_last_year"] == pytest.approx(300 / 6000)
    assert frame["change"] == pytest.approx(100 / 8800 - 300 / 6000)
    assert frame["growth"] == pytest.approx((100 / 8800) / (300 / 6000) - 1)


def test_a_seasonal_flow_is_forecast_to_its_year_end():
    # Three years of a revenue with a clean season (100 + 10 × month) over a flat denominator of 100;
    # at June of the third year the year's total is Σ(100 + 10m) = 1200 + 780 = 1980 over 1200.
    index = months("2022-01", 30)
    season = pd.Series([100 + 10 * periods.to_date(p).month for p in index], index=index, dtype=float)
    flat = pd.Series(100.0, index=index)
    out = trends.forecast_components(season, flat, "2024-06")
    assert out["model"] == "holt_winters" and out["remaining_months"] == 6 and out["history_months"] == 30
    assert out["ytd_value"] == pytest.approx((600 + 10 * 21) / 600)
    assert out["forecast"] == pytest.approx(1980 / 1200, rel=0.01)
    assert out["lower"] <= out["forecast"] <= out["upper"]


def test_short_histories_fall_back_to_the_mean():
    index = months("2025-01", 3)
    num = pd.Series([100.0, 110.0, 120.0], index=index)
    out = trends.forecast_components(num, None, "2025-03")
    # Nine more months at the mean of the last three (110): 330 + 9 × 110.
    assert out["model"] == "mean" and out["forecast"] == pytest.approx(330 + 9 * 110)
    assert out["lower"] < out["forecast"] < out["upper"]
    december = trends.forecast_components(pd.Series([5.0] * 12, index=months("2025-01", 12)), None, "2025-12")
    assert december["model"] == "actual" and december["forecast"] == december["lower"] == 60


def test_the_history_is_the_run_of_months_ending_at_the_period(province):
    # Hospital A reported 2024-01, then 2024-12 and 2025-01: the run is Dec + Jan (mean model).
    out = trends.forecast_year_end(province, "surplus_rate", fx.CODE["A"], "2025-01")
    assert out["history_months"] == 2 and out["model"] == "mean"
    # Year to date 200/2000; eleven more months of mean R (1000 + 2000)/2 and E (1100 + 1800)/2.
    assert out["ytd_value"] == pytest.approx(0.1)
    assert out["forecast"] == pytest.approx((2000 + 11 * 1500 - 1800 - 11 * 1450) / (2000 + 11 * 1500))
    with pytest.raises(ValueError, match="flow"):
        trends.forecast_year_end(province, "debt_ratio", fx.CODE["A"], "2025-01")


def test_anomalies_flag_a_spike_but_not_its_echo_a_year_later():
    rng = np.random.default_rng(0)
    index = months("2022-01", 36)
    base = [100 + 10 * math.sin(2 * math.pi * i / 12) + rng.normal(0, 1) for i in range(36)]
    base[15] += 40  # 2023-04
    flagged = trends.anomalies(pd.Series(base, index=index))
    assert flagged["method"].iloc[0] == "yoy"
    assert flagged.loc[flagged["anomaly"], "period"].tolist() == ["2023-04"]  # 2024-04's difference is its echo
    short = trends.anomalies(pd.Series([10, 11, 10, 12, 11, 50.0], index=months("2025-01", 6)))
    assert short["method"].iloc[0] == "level" and short["anomaly"].tolist() == [False] * 5 + [True]
    flat = trends.anomalies(pd.Series([7.0] * 5, index=months("2025-01", 5)))
    assert not flat["anomaly"].any()


def test_robust_z_is_0_6745_times_the_distance_from_the_median_in_mads():
    z = trends.robust_z(pd.Series([1.0, 2.0, 3.0, 4.0, 100.0, np.nan]))  # median 3, MAD 1
    assert z.iloc[:5].tolist() == pytest.approx([0.6745 * d for d in (-2, -1, 0, 1, 97)])
    assert math.isnan(z.iloc[5])
    # More than half the values equal (MAD 0): the mean absolute deviation (0.5) × 1.2533 instead.
    ties = trends.robust_z(pd.Series([5.0, 5.0, 5.0, 5.0, 6.0, 7.0]))
    assert ties.tolist() == pytest.approx([0, 0, 0, 0, 1 / (1.2533 * 0.5), 2 / (1.2533 * 0.5)])
    assert trends.robust_z(pd.Series([7.0, 7.0, np.nan])).tolist()[:2] == [0.0, 0.0]


def test_a_month_is_compared_with_the_same_month_a_year_earlier_across_gaps():
    index = [p for p in months("2023-01", 24) if p != "2023-06"]
    y = pd.Series(range(len(index)), index=index, dtype=float)
    moved = trends._shifted(y, 12)
    assert moved.index.tolist() == index
    assert moved["2024-07"] == y["2023-07"] and math.isnan(moved["2024-06"]) and moved.iloc[:11].isna().all()
