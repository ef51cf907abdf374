"""Programme status and stale progress (spec/indicators.md, "Stale progress"), on hand-made rows.

The fixture province's progress reports (province_fixture.PROGRESS):
A 2024-06, B 2024-12, C 2024-09 and 2025-01, F 2024-03, E 2025-02; D never.
A report counts while it is at most six months (two quarters) old: A's 2024-06
still counts in 2024-12 (six months) and is stale in 2025-01 (seven); F's 2024-03
is stale from 2024-10. G closes in 2025-01 (open up to 2024-12).
"""

from __future__ import annotations

import pandas as pd
import province_fixture as fx
import pytest

from opsmon.indicators import programme, query


def hospital(frame: pd.DataFrame, key: str) -> pd.Series:
    rows = frame[frame["hospital_code"] == fx.CODE[key]]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_a_report_six_months_old_counts_and_seven_months_old_is_stale(province):
    december = programme.status(province, "2024-12")
    a = hospital(december, "A")
    assert (a["status_period"], bool(a["stale"]), bool(a["missing"]), a["has_progress"]) == ("2024-06", False,
                                                                                              False, 1)
    assert a["ops_platform_status"] == "in_use" and bool(a["ops_committee"])

    january = programme.status(province, "2025-01")
    a = hospital(january, "A")
    # Still the same latest report, but seven months old: no status, flagged stale.
    assert (a["status_period"], bool(a["stale"]), bool(a["missing"]), a["has_progress"]) == ("2024-06", True,
                                                                                              False, 0)
    assert pd.isna(a["ops_platform_status"]) and pd.isna(a["ops_committee"])
    assert a["pilot_projects_year"] == 0
    d = hospital(january, "D")
    assert d["status_period"] is None and bool(d["missing"]) and not bool(d["stale"])
    c = hospital(january, "C")  # its 2025-01 report is this month's
    assert (c["status_period"], bool(c["stale"]), c["ops_platform_status"]) == ("2025-01", False, "in_use")
    # F's 2024-03 report: 6 months old in 2024-09 (counts), 7 in 2024-10 (stale).
    assert not bool(hospital(programme.status(province, "2024-09"), "F")["stale"])
    assert bool(hospital(programme.status(province, "2024-10"), "F")["stale"])


def test_stale_hospitals_count_in_the_denominator_not_the_numerator(province):
    def committee(period: str) -> pd.Series:
        frame = query(province, "ops_committee_share", "province", period)
        return frame[frame["code"] == "220000"].iloc[0]

    # 二级+ open in 2024-12: A (是, 6 months old), B (是), C (是, 2024-09), D (never), F (否, stale), G (never).
    dec = committee("2024-12")
    assert (dec["numerator"], dec["denominator"], dec["reporting"], dec["expected"]) == (3, 6, 3, 6)
    # 2025-01: A's report is 7 months old — out of the numerator, still in the denominator; G closed.
    jan = committee("2025-01")
    assert (jan["numerator"], jan["denominator"], jan["reporting"], jan["expected"]) == (2, 5, 2, 5)
    assert jan["value"] == pytest.approx(2 / 5)
    # The hospital row: A counts 0 of 1 and does not "report" progress.
    row = query(province, "ops_committee_share", "hospital", "2025-01")
    a = row[row["code"] == fx.CODE["A"]].iloc[0]
    assert (a["value"], a["reporting"]) == (0, 0)


def test_outdated_lists_the_stale_and_missing_hospitals_by_name(province):
    frame = programme.outdated(province, "2025-01")
    # Stale first (A 南关区, F 梅河口市), then those that never reported by then (D, and E whose first
    # report is 2025-02), each group by county and code; B and C have a current status; G is closed.
    assert frame["hospital_code"].tolist() == [fx.CODE[k] for k in ("A", "F", "D", "E")]
    assert frame["name"].tolist() == [f"测试医院{fx.CODE[k][-4:]}（演示）" for k in ("A", "F", "D", "E")]
    assert frame["status_period"].tolist()[:2] == ["2024-06", "2024-03"]
    assert frame["stale"].tolist() == [True, True, False, False]
    assert frame["missing"].tolist() == [False, False, True, True]
    # Six months on, A's report still counts in 2024-12: only F is stale then.
    december = programme.outdated(province, "2024-12")
    assert december.loc[december["stale"], "hospital_code"].tolist() == [fx.CODE["F"]]


def test_outdated_respects_region_and_scope(province):
    assert programme.outdated(province, "2025-01", region="220100")["hospital_code"].tolist() == [fx.CODE["A"]]
    assert programme.outdated(province, "2025-01", scope="220200")["hospital_code"].tolist() == [
        fx.CODE["D"], fx.CODE["E"]]
    assert programme.outdated(province, "2025-01", scope=fx.CODE["B"]).empty  # B's status is current
    assert programme.outdated(province, "2025-01", scope=fx.CODE["A"])["hospital_code"].tolist() == [fx.CODE["A"]]


def test_unit_counts_by_region(province):
    frame = programme.unit_counts(province, "2025-01").set_index("code")
    # The province's ten reporting units (nine prefectures and 梅河口市) and the total, last.
    assert len(frame) == 11 and frame.index[-1] == "220000"
    changchun = frame.loc["220100"]  # A (stale), B, C (current); G closed
    assert changchun[["hospitals", "current", "stale", "missing", "outdated"]].tolist() == [3, 2, 1, 0, 1]
    assert changchun["ops_committee_share__stale"] == 1  # A is 二级+
    assert changchun["chief_accountant_share__stale"] == 1  # and 三级
    assert changchun["ops_platform_coverage_secondary__stale"] == 0  # B, the 二级 one, is current
    assert changchun["leaders_platform_share__stale"] == 1  # A is a pilot
    # The operations department (二级+): A's report is stale, B and C say 是 → 2 of 3.
    assert (changchun["ops_department_share__numerator"], changchun["ops_department_share__denominator"]) == (2, 3)
    assert changchun["ops_department_share"] == pytest.approx(2 / 3)
    # Internal control review (every hospital): every fixture report says 否.
    assert changchun["internal_control_review_share"] == 0
    assert changchun["internal_control_review_share__denominator"] == 3
    jilin = frame.loc["220200"]  # D never reported, E only from 2025-02; E is 一级
    assert jilin[["hospitals", "current", "stale", "missing", "outdated"]].tolist() == [2, 0, 0, 2, 2]
    assert jilin["ops_department_share__denominator"] == 1  # D only: E is 一级
    assert jilin["internal_control_review_share__denominator"] == 2
    meihekou = frame.loc["220581"]
    assert meihekou[["hospitals", "stale", "outdated"]].tolist() == [1, 1, 1]
    assert frame.loc["220500", "hospitals"] == 0  # 通化市: F reports to the province directly
    assert pd.isna(frame.loc["220500", "ops_department_share"])  # no hospital: no share
    total = frame.loc["220000"]
    assert total[["hospitals", "current", "stale", "missing", "outdated"]].tolist() == [6, 2, 2, 2, 4]
    assert total["ops_committee_share__stale"] == 2  # A and F
    assert total["ops_department_share"] == pytest.approx(2 / 5)  # B, C of A, B, C, D, F


def test_unit_counts_respect_region_and_scope(province):
    counties = programme.unit_counts(province, "2025-01", region="220100").set_index("code")
    assert counties.index[-1] == "220100" and {"220102", "220104"} <= set(counties.index)
    assert counties.loc["220102", "stale"] == 1 and counties.loc["220104", "current"] == 1
    scoped = programme.unit_counts(province, "2025-01", scope="220200")
    # A user limited to 吉林市 sees its row under the province, not the province's total.
    assert scoped["code"].tolist() == ["220200"] and scoped["hospitals"].tolist() == [2]
    assert programme.unit_counts(province, "2025-01", scope=fx.CODE["A"]).empty
    with pytest.raises(ValueError):
        programme.unit_counts(province, "2025-01", region="22010")


def test_the_extra_shares_are_valid_catalogue_entries():
    assert [e.id for e in programme.EXTRAS] == ["ops_department_share", "internal_control_review_share"]
    assert not {e.id for e in programme.EXTRAS} & set(programme.PROGRAMME_IDS)
