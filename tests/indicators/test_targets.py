"""Targets: applicability, the on-track logic, and projections on the fixture province."""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import province_fixture as fx
import pytest

from opsmon.indicators import targets


@pytest.mark.parametrize("value, target, due, projected, status", [
    (0.6, 0.5, date(2025, 12, 1), math.nan, "met"),
    (0.5, 0.5, date(2024, 12, 1), math.nan, "met"),  # exactly at the target, even after the due date
    (0.4, 0.5, date(2025, 1, 1), 0.9, "missed"),  # due this month and not reached
    (0.4, 0.5, date(2025, 12, 1), 0.5, "on_track"),
    (0.4, 0.5, date(2025, 12, 1), 0.49, "off_track"),
    (0.4, 0.5, date(2025, 12, 1), math.nan, "insufficient_data"),
    (math.nan, 0.5, date(2025, 12, 1), 0.9, "insufficient_data"),
])
def test_assess(value, target, due, projected, status):
    assert targets.assess(value, target, due, date(2025, 1, 1), projected) == status


def test_project_a_linear_series():
    # 0.1, 0.2, 0.3 → two months after the last: 0.5; an exact line has a zero-width interval.
    p = targets.project(pd.Series([0.1, 0.2, 0.3]), 2)
    assert (p.value, p.lower, p.upper, p.points) == pytest.approx((0.5, 0.5, 0.5, 3))
    assert targets.project(pd.Series([0.5, 0.7, 0.9]), 2).value == 1.0  # 1.3 clipped to 100 %
    assert targets.project(pd.Series([0.5, 0.7, 0.9]), 2, bounds=None).value == pytest.approx(1.3)
    noisy = targets.project(pd.Series([0.1, 0.25, 0.3, 0.45]), 3)
    assert noisy.lower < noisy.value < noisy.upper
    assert math.isnan(targets.project(pd.Series([0.1, math.nan, 0.3]), 2).value)  # two points only


def _confirm_a_and_f_in_december(province):
    """A and F confirm their status in a 2024-12 report (the same values as their last one).

    Without it their reports (2024-06, 2024-03) are older than two quarters in 2025-01
    and give no status (test_programme covers that); with it every month's values
    below are those of the fixture's reports as listed.
    """
    sub = fx.add_submission(province, "2025-02-01 11:00:00+08", "progress")
    fx.add_progress(province, fx.CODE["A"], "2024-12", "in_use", True, True, 2, 6, "done", True, sub)
    fx.add_progress(province, fx.CODE["F"], "2024-12", "built", False, True, 1, 1, "not_started", False, sub)
    fx.accepted(province)


def test_evaluate_the_fixture_province(province):
    _confirm_a_and_f_in_december(province)
    fx.execute(province, "INSERT INTO targets (indicator, scope_adcode, tier, value, due_period, source) VALUES "
                         "('caliber_mapping_share', '220000', NULL, 1.0, '2025-03-01', '省定'), "
                         "('ops_committee_share', '220000', NULL, 1.0, '2024-12-01', '省定'), "
                         "('risk_register_share', '220200', NULL, 1.0, '2025-12-01', '吉林市定')")
    frame = targets.evaluate(province, as_of="2025-01").set_index(["indicator", "due_period"])
    assert ("risk_register_share", "2025-12") not in frame.index  # 吉林市's target is not the province's

    half = frame.loc[("ops_platform_coverage_tertiary", "2025-12")]
    # 三级 A, C in use of A, C, F: 2/3 ≥ 50 %.
    assert half["value"] == pytest.approx(2 / 3) and half["status"] == "met" and half["on_track"]
    full = frame.loc[("ops_platform_coverage_tertiary", "2027-12")]
    # Monthly coverage rose from 0/3 (2024-03) to 1/3 (2024-06) to 2/3 (2025-01); 35 months to go:
    # the line passes 100 %.
    assert full["gap"] == pytest.approx(1 - 2 / 3) and full["months_left"] == 35
    assert full["projected"] == 1.0 and full["status"] == "on_track"
    assert full["points"] == 11  # 2024-03 … 2025-01; 2024-01/02 had no progress report at all
    chief = frame.loc[("chief_accountant_share", "2025-12")]
    assert chief["value"] == pytest.approx(3 / 3) and chief["status"] == "met" and chief["tier"] == "三级"
    process = frame.loc[("process_target_share", "2025-12")]
    # 二级+ open: A (pilot, needs 5, has 6) B (2 of 2) C (省 budget-managed: needs 2, has 5) D (none) F (1 of 2).
    # Monthly 0/6 (2024-03…05), 1/6 (06…08), 2/6 (09…11), 3/6 (12, G still open), 3/5 (2025-01): the
    # line's slope is 6.5/110 a month, so 11 months on it is 2.6/11 + 16 × 6.5/110 > 100 %.
    assert process["value"] == pytest.approx(3 / 5) and process["status"] == "on_track"
    assert process["months_left"] == 11 and process["projected"] == 1.0
    # Caliber mapping: 0 (2024-03…05), 1/6 (06…11), 2/7 (12), 3/6 (2025-01): two months cannot reach 100 %.
    caliber = frame.loc[("caliber_mapping_share", "2025-03")]
    assert caliber["status"] == "off_track" and not caliber["on_track"] and caliber["projected"] < 1
    committee = frame.loc[("ops_committee_share", "2024-12")]
    assert committee["value"] == pytest.approx(3 / 5) and committee["status"] == "missed"


def test_evaluate_respects_the_scope(province):
    assert targets.evaluate(province, region="220100", as_of="2025-01", scope=fx.CODE["A"]).empty
    assert targets.evaluate(province, region="220200", as_of="2025-01", scope="220100").empty
    inside = targets.evaluate(province, region="220100", as_of="2025-01", scope="220100")
    # The five national targets (platform 2025 and 2027, process, chief accountant, leaders' platform)
    # and 吉林's three (committee 三级 and 二级, yearly pilot); 吉林市's nurse-doctor ratio is not 长春市's.
    assert set(inside["region"]) == {"220100"} and len(inside) == 8


def test_evaluate_children_is_evaluate_for_each_unit_under_the_region(province):
    """One query per target for all units, the same rows as one evaluation per unit."""
    together = targets.evaluate_children(province, as_of="2025-01")
    # The province's reporting units: its prefectures and the county-level cities reporting to it directly.
    units = [r[0] for r in fx.execute(province, "SELECT CAST(adcode AS text) FROM regions "
                                                "WHERE parent_adcode = '220000' ORDER BY 1")]
    assert {"220100", "220200", "220500", "220581"} <= set(units)
    assert sorted(set(together["region"])) == units
    one_by_one = pd.concat([targets.evaluate(province, region=u, as_of="2025-01") for u in units],
                           ignore_index=True)
    key = ["region", "target_id"]
    pd.testing.assert_frame_equal(together.sort_values(key).reset_index(drop=True),
                                  one_by_one.sort_values(key).reset_index(drop=True), check_dtype=False)


def test_evaluate_children_respects_the_scope(province):
    assert set(targets.evaluate_children(province, as_of="2025-01", scope="220200")["region"]) == {"220200"}
    assert targets.evaluate_children(province, as_of="2025-01", scope=fx.CODE["A"]).empty
    counties = targets.evaluate_children(province, region="220100", as_of="2025-01")
    assert {"220102", "220104"} <= set(counties["region"])
    assert {r[0] for r in fx.execute(province, "SELECT CAST(parent_adcode AS text) FROM regions WHERE adcode IN "
                                               "(SELECT adcode FROM unnest(CAST(:c AS text[])) adcode)",
                                     c=sorted(set(counties["region"])))} == {"220100"}
