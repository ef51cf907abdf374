"""opsmon.periods: 'YYYY-MM' arithmetic (one value and a Series), spans, due days, the configured
time zone and the robust scale the upload checks and the trend anomalies share."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

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


# ---------------------------------------------------------------------------------------------- reporting months
SHANGHAI, URUMQI = ZoneInfo("Asia/Shanghai"), ZoneInfo("Asia/Urumqi")


@pytest.mark.parametrize(("now", "collecting", "closed"), [
    # The spec's example: on 2026-12-02 2026-11 is being collected, 2026-10 is the latest closed month.
    (dt.datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI), "2026-11", "2026-10"),
    # 2026-11 is due at the end of 2026-12-10: the last minute of the 10th is still before it ...
    (dt.datetime(2026, 12, 10, 23, 59, 59, tzinfo=SHANGHAI), "2026-11", "2026-10"),
    # ... and from 00:00 on the 11th 2026-11 is closed; the next one due is December's.
    (dt.datetime(2026, 12, 11, 0, 0, tzinfo=SHANGHAI), "2026-12", "2026-11"),
    (dt.datetime(2026, 12, 31, 23, 0, tzinfo=SHANGHAI), "2026-12", "2026-11"),
    # The year boundary: in early January December is collected and November the latest closed ...
    (dt.datetime(2027, 1, 1, 0, 0, tzinfo=SHANGHAI), "2026-12", "2026-11"),
    (dt.datetime(2027, 1, 10, 12, 0, tzinfo=SHANGHAI), "2026-12", "2026-11"),
    # ... after the 10th December is closed and January (of the new year) is the one being collected.
    (dt.datetime(2027, 1, 11, 0, 0, tzinfo=SHANGHAI), "2027-01", "2026-12"),
    # The demo the tests pin (tests/conftest.py DEMO_TODAY 2026-06-23): May is closed.
    (dt.datetime(2026, 6, 23, tzinfo=SHANGHAI), "2026-06", "2026-05"),
])
def test_the_collecting_and_the_latest_closed_month(now, collecting, closed):
    assert periods.collecting_month(now) == collecting
    assert periods.latest_closed_month(now) == closed


def test_the_due_day_and_zone_move_the_boundary():
    # Due on the 5th: on the 6th the month before is closed.
    assert periods.latest_closed_month(dt.datetime(2026, 12, 5, 20, 0, tzinfo=SHANGHAI), due_day=5) == "2026-10"
    assert periods.latest_closed_month(dt.datetime(2026, 12, 6, 0, 0, tzinfo=SHANGHAI), due_day=5) == "2026-11"
    # 2026-12-10 17:30 UTC is 2026-12-11 01:30 in Shanghai (closed) but 23:30 on the 10th in Urumqi (UTC+6).
    utc = dt.datetime(2026, 12, 10, 17, 30, tzinfo=dt.timezone.utc)
    assert periods.latest_closed_month(utc, tz=SHANGHAI) == "2026-11"
    assert periods.latest_closed_month(utc, tz=URUMQI) == "2026-10"
    # A naive time is local time in the zone asked for.
    assert periods.latest_closed_month(dt.datetime(2026, 12, 11, 0, 30), tz=URUMQI) == "2026-11"
    with pytest.raises(ValueError):
        periods.latest_closed_month(dt.datetime(2026, 12, 11), due_day=29)


def test_the_boundary_is_the_aggregates_due_moment(engine):
    """The rule agrees with aggregate.DUE_SQL (a report is on time when it arrives by the due moment)."""
    from opsmon.indicators import aggregate

    with engine.connect() as conn:
        for period in ("2026-11", "2026-12"):
            due = conn.execute(sa.text("SELECT " + aggregate.DUE_SQL.format(p="CAST(:p AS date)")),
                               {"p": f"{period}-01", "due_day": 10, "timezone": "Asia/Shanghai"}).scalar_one()
            assert periods.latest_closed_month(due) == period
            assert periods.latest_closed_month(due - dt.timedelta(microseconds=1)) != period


def test_the_clock_is_the_configured_one(monkeypatch):
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-23")
    assert periods.now() == dt.datetime(2026, 6, 23, tzinfo=SHANGHAI)
    assert periods.today() == dt.date(2026, 6, 23)
    assert (periods.collecting_month(), periods.latest_closed_month()) == ("2026-06", "2026-05")
    monkeypatch.setenv("OPSMON_TODAY", "2026-12-11T00:30:00+08:00")
    assert periods.latest_closed_month() == "2026-11"
    assert periods.latest_closed_month(tz=URUMQI) == "2026-10"  # 2026-12-10 22:30 there
    monkeypatch.delenv("OPSMON_TODAY")
    before = dt.datetime.now(SHANGHAI)
    assert before <= periods.now() <= dt.datetime.now(SHANGHAI)


def test_reporting_months_and_the_default_period_read_the_settings(engine):
    on = dt.datetime(2026, 12, 8, 12, 0, tzinfo=SHANGHAI)
    assert periods.reporting_months(engine, on) == ("2026-11", "2026-10")
    assert periods.default_period(engine, on) is None  # no data
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO settings (key, value) VALUES ('due_day', '5') "
                             "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value")
    assert periods.configured_due_day(engine) == 5
    assert periods.reporting_months(engine, on) == ("2026-12", "2026-11")  # after the 5th


@pytest.mark.parametrize(("now", "expected"), [
    (dt.datetime(2026, 6, 23, tzinfo=SHANGHAI), "2026-05"),  # the latest closed month, with data
    (dt.datetime(2026, 6, 5, tzinfo=SHANGHAI), "2026-04"),  # May is still being collected: April
    (dt.datetime(2027, 3, 1, tzinfo=SHANGHAI), "2026-05"),  # closed 2027-01 has no data: the newest before it
    (dt.datetime(2025, 1, 2, tzinfo=SHANGHAI), "2026-05"),  # every month with data is later: the newest
])
def test_the_default_period_of_the_demo(demo_engine, now, expected):
    """The demo (tests/conftest.py) holds 14 months ending 2026-05."""
    assert periods.default_period(demo_engine, now) == expected
