"""opsmon.periods: 'YYYY-MM' arithmetic (one value and a Series), spans, due days, the configured
time zone and the robust scale the upload checks and the trend anomalies share."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from opsmon import periods, robust


def test_periods_and_months():
    assert periods.to_date("2025-03") == periods.to_date("2025-03-01") == periods.to_date(dt.date(2025, 3, 9))
    assert periods.to_period(dt.date(2025, 3, 9)) == "2025-03"
    assert periods.add_months(dt.date(2025, 1, 31), -1) == dt.date(2024, 12, 1)
    assert periods.month_range("2024-11", "2025-02")[-1] == dt.date(2025, 2, 1)
    assert len(periods.month_range("2024-11", "2025-02")) == 4
    for bad in ("2025-13", "2025-3", "202503", ""):
        with pytest.raises(ValueError):
            periods.to_date(bad)
    assert periods.last_month(dt.date(2025, 1, 15)) == "2024-12"
    assert periods.month_index(dt.date(2025, 3, 9)) - periods.month_index(pd.Period("2024-12", freq="M")) == 3


def test_shift_series_is_add_months_over_a_series():
    texts = [periods.to_period(d) for d in periods.month_range("1999-01", "2001-12")]
    for months in (-25, -12, -1, 0, 1, 11, 12, 13):
        moved = periods.shift_series(pd.Series(texts, index=range(5, 5 + len(texts))), months)
        assert moved.dtype == "string" and moved.index.tolist() == list(range(5, 5 + len(texts)))
        assert moved.tolist() == [periods.to_period(periods.add_months(periods.to_date(t), months)) for t in texts]


def test_shift_series_keeps_na_and_reads_seven_characters():
    moved = periods.shift_series(pd.Series(["2025-01-01", None, pd.NA, "abcd-ef", "2025-03"], dtype=object), -1)
    assert moved.iloc[0] == "2024-12" and moved.iloc[4] == "2025-02"
    assert moved.iloc[1:4].isna().all()


@pytest.mark.parametrize(("value", "text"), [
    ("2025-03", "2025-03"), ("2025-03-01", "2025-03"), (dt.date(2025, 3, 9), "2025-03"),
    (pd.Timestamp("2025-03-31 12:00"), "2025-03"), (202503, "202503"),
])
def test_period_text(value, text):
    assert periods.period_text(value) == text


@pytest.mark.parametrize("missing", [None, math.nan, np.float64("nan"), pd.NA, pd.NaT])
def test_period_text_of_a_missing_value_is_na(missing):
    assert periods.period_text(missing) is pd.NA


def test_spans():
    assert periods.check_span("ytd") == "ytd"
    assert set(periods.SPAN_LABELS) == set(periods.SPANS)
    with pytest.raises(ValueError, match="span"):
        periods.check_span("week")


@pytest.mark.parametrize(("day", "value"), [(1, 1), (28, 28), ("10", 10)])
def test_a_due_day_is_1_to_28(day, value):
    assert periods.check_due_day(day) == value
    assert periods.due_date("2025-12", value) == dt.date(2026, 1, value)


@pytest.mark.parametrize("day", [0, 29, 31, -1, "x"])
def test_other_due_days_are_refused(day):
    with pytest.raises(ValueError):
        periods.check_due_day(day)


def test_the_configured_time_zone(engine):
    assert periods.configured_tz(engine) == periods.LOCAL_TZ == ZoneInfo("Asia/Shanghai")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO settings (key, value) VALUES ('timezone', '\"Asia/Urumqi\"') "
                             "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
        assert periods.configured_tz(conn) == ZoneInfo("Asia/Urumqi")
    assert periods.configured_tz(engine) == ZoneInfo("Asia/Urumqi")


def test_the_robust_scale():
    assert robust.robust_scale(0.6745) == 1.0
    assert robust.robust_scale(0.01, min_mad=0.05) == 0.05 / 0.6745  # a floor under a flat history
    assert robust.robust_scale(0.2, mean_ad=3.0) == 0.2 / 0.6745  # the MAD when there is one
    assert robust.robust_scale(0.0, mean_ad=3.0) == 1.2533 * 3.0
    assert math.isnan(robust.robust_scale(0.0, mean_ad=0.0))
    mads = pd.Series([0.0, 0.1, np.nan], index=[4, 5, 6])
    scaled = robust.robust_scale(mads, min_mad=0.05)
    assert scaled.index.tolist() == [4, 5, 6]
    assert scaled.tolist()[:2] == [0.05 / 0.6745, 0.1 / 0.6745] and math.isnan(scaled.iloc[2])
