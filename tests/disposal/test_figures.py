"""Leadership figures, worked out by hand on a few items (times in China: 2026-06-01 is a Monday)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from opsmon.disposal.figures import summarise


def at(day: str | None):
    return None if day is None else pd.Timestamp(f"{day} 10:00", tz="Asia/Shanghai")


def test_figures_by_region():
    rows = [  # region A: three items
        # raised Mon 06-01, assigned Mon 06-08 (5 working days: in time), answered 06-12 by its 06-15 deadline, closed 06-20
        dict(adcode="A", name="甲市", state="closed", created_at=at("2026-06-01"), assigned_at=at("2026-06-08"),
             responded_at=at("2026-06-12"), closed_at=at("2026-06-20"), due_on=date(2026, 6, 15)),
        # raised 06-01, assigned Tue 06-09 (6 working days: late), answered 06-20 after its 06-15 deadline
        dict(adcode="A", name="甲市", state="responded", created_at=at("2026-06-01"), assigned_at=at("2026-06-09"),
             responded_at=at("2026-06-20"), closed_at=None, due_on=date(2026, 6, 15)),
        # raised 06-10, not assigned yet: not in time; no deadline, so not judged for answering
        dict(adcode="A", name="甲市", state="open", created_at=at("2026-06-10"), assigned_at=None,
             responded_at=None, closed_at=None, due_on=None),
        # region B: assigned the same day, deadline 06-30 not yet come and no answer: not judged
        dict(adcode="B", name="乙市", state="assigned", created_at=at("2026-06-02"), assigned_at=at("2026-06-02"),
             responded_at=None, closed_at=None, due_on=date(2026, 6, 30)),
    ]
    got = summarise(pd.DataFrame(rows), date(2026, 6, 23)).set_index("adcode")
    a, b = got.loc["A"], got.loc["B"]
    assert a["risks"] == 3 and b["risks"] == 1
    assert a["assigned_in_time_share"] == pytest.approx(1 / 3)
    assert a["answered_in_time_share"] == pytest.approx(1 / 2)
    assert a["closed_share"] == pytest.approx(1 / 3)
    assert a["median_days_to_close"] == 19
    assert b["assigned_in_time_share"] == 1 and pd.isna(b["answered_in_time_share"]) and b["closed_share"] == 0
    assert pd.isna(b["median_days_to_close"])


def test_figures_on_the_demo_are_shares_per_prefecture(disposal_engine):
    from opsmon.disposal import figures

    got = figures.by_region(disposal_engine, scope=None)
    assert len(got) >= 2 and (got["risks"] > 0).all()
    for column in ("assigned_in_time_share", "answered_in_time_share", "closed_share"):
        assert got[column].dropna().between(0, 1).all()
