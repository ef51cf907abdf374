"""Values of the fixture province (province_fixture.py), every expectation worked out by hand.

R, E = total revenue, total expense of a month row; see the fixture's docstring for
the shares every other field takes. Codes: 南关区 220102 and 朝阳区 220104 (长春市 220100),
船营区 220204 (吉林市 220200), 梅河口市 220581 (reports to 吉林省 220000, lies in 通化市 220500).
"""

from __future__ import annotations

import math

import pandas as pd
import province_fixture as fx
import pytest

from opsmon.indicators import query, series
from opsmon.indicators.programme import PROGRAMME_IDS


def one(frame: pd.DataFrame, code: str, indicator: str | None = None) -> pd.Series:
    rows = frame[frame["code"] == code]
    if indicator:
        rows = rows[rows["indicator"] == indicator]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_ratio_of_sums_at_every_level(province):
    # surplus_rate = (R − E) / R, 2025-01 month rows (D's current revision is E 1000):
    # A 2000/1800, B 600/700, C 3000/3100, D 1000/1000, E 200/200, F 2000/1900; G closed in 2025-01.
    hospitals = query(province, "surplus_rate", "hospital", "2025-01")
    assert one(hospitals, fx.CODE["A"])["value"] == pytest.approx(200 / 2000)
    assert one(hospitals, fx.CODE["D"])["value"] == pytest.approx(0 / 1000)  # not rev 1's −200/1000
    assert fx.CODE["G"] not in set(hospitals["code"])  # closed: not in the population
    assert one(hospitals, fx.CODE["A"])["parent_code"] == "220102"

    counties = query(province, "surplus_rate", "county", "2025-01")
    nanguan = one(counties, "220102")
    assert nanguan["value"] == pytest.approx((200 - 100) / (2000 + 600))  # not mean(0.1, −1/6)
    assert (nanguan["numerator"], nanguan["denominator"]) == pytest.approx((100, 2600))
    assert (nanguan["reporting"], nanguan["expected"]) == (2, 2)
    assert one(counties, "220104")["value"] == pytest.approx(-100 / 3000)
    assert one(counties, "220104")["expected"] == 1  # C only: G is closed
    assert one(counties, "220204")["value"] == pytest.approx(0 / 1200)
    meihekou = one(counties, "220581")
    assert meihekou["value"] == pytest.approx(100 / 2000) and meihekou["parent_code"] == "220000"
    assert len(counties) == 60  # every county, with or without hospitals
    assert math.isnan(one(counties, "220103")["value"]) and one(counties, "220103")["expected"] == 0

    prefectures = query(province, "surplus_rate", "prefecture", "2025-01")
    assert one(prefectures, "220100")["value"] == pytest.approx((200 - 100 - 100) / (2000 + 600 + 3000))
    assert one(prefectures, "220200")["value"] == pytest.approx(0 / 1200)
    tonghua = one(prefectures, "220500")  # 梅河口's hospital is not counted here
    assert math.isnan(tonghua["value"]) and tonghua["expected"] == 0
    # 梅河口市 reports to the province: it is a prefecture-level unit beside the nine prefectures.
    meihekou = one(prefectures, "220581")
    assert meihekou["value"] == pytest.approx(100 / 2000) and meihekou["parent_code"] == "220000"
    assert meihekou["level"] == "prefecture"
    assert len(prefectures) == 10
    # So the prefecture-level rows add up to the province: F's 2000/1900 is counted once.
    assert (prefectures["numerator"].sum(), prefectures["denominator"].sum()) == pytest.approx((100, 8800))

    prov = one(query(province, "surplus_rate", "province", "2025-01"), "220000")
    # (200 − 100 − 100 + 0 + 0 + 100) / (2000 + 600 + 3000 + 1000 + 200 + 2000)
    assert prov["value"] == pytest.approx(100 / 8800)
    assert (prov["reporting"], prov["expected"]) == (6, 6)
    assert prov["level"] == "province" and pd.isna(prov["parent_code"])


def test_spans_across_the_year_boundary(province):
    def value(period: str, span: str) -> float:
        return one(query(province, "surplus_rate", "province", period, span=span), "220000")["value"]

    # Feb 2025: A 2000/2300, B 600/500, D 1000/900, E 200/100, F 2000/1900 → R 5800, E 5700.
    assert value("2025-02", "month") == pytest.approx(100 / 5800)
    # Jan 2025 R 8800, E 1800+700+3100+1000+200+1900 = 8700; with Feb: R 14600, E 14400.
    assert value("2025-02", "ytd") == pytest.approx(200 / 14600)
    assert value("2025-02", "quarter") == pytest.approx(200 / 14600)  # Q1 to date = Jan + Feb
    # YTD in January is January alone: December 2024 belongs to the previous year.
    assert value("2025-01", "ytd") == pytest.approx(100 / 8800)
    # year = Mar 2024 … Feb 2025: adds Dec 2024 of hospitals open in Feb 2025:
    # A 1000/1100, C 3000/2800, E 200/300 (G closed) → R 14600 + 4200, E 14400 + 4200.
    assert value("2025-02", "year") == pytest.approx(200 / 18800)
    # Q4 2024 to December: Dec rows of A, C, E, G → R 4600, E 1100+2800+300+500 = 4700.
    assert value("2024-12", "quarter") == pytest.approx(-100 / 4600)


def test_stocks_take_the_period_end_and_are_not_summed_over_months(province):
    frame = query(province, ["debt_ratio", "salary_arrears_total"], "province", "2025-02", span="ytd")
    debt = one(frame, "220000", "debt_ratio")
    # Feb reporters A (liabilities 6000), B, D, E, F (4000 each), assets 10000 each; C did not
    # report Feb and contributes nothing. Summing Jan + Feb would give 46000/110000 instead.
    assert debt["value"] == pytest.approx((6000 + 4 * 4000) / (5 * 10000))
    assert (debt["numerator"], debt["denominator"]) == pytest.approx((22000, 50000))
    assert (debt["reporting"], debt["expected"]) == (5, 6)
    assert one(frame, "220000", "salary_arrears_total")["value"] == pytest.approx(100)

    hospitals = query(province, "debt_ratio", "hospital", "2025-02", span="year")
    assert one(hospitals, fx.CODE["A"])["value"] == pytest.approx(6000 / 10000)
    c = one(hospitals, fx.CODE["C"])
    assert math.isnan(c["value"]) and c["reporting"] == 0


def test_cash_months_uses_the_mean_expense_of_the_last_three_reported_months(province):
    hospitals = query(province, "cash_months", "hospital", "2025-02")
    # A: cash 1000 / mean(E Dec 1100, Jan 1800, Feb 2300) = 1000 / (5200/3)
    assert one(hospitals, fx.CODE["A"])["value"] == pytest.approx(3000 / 5200)
    # B: Dec not reported → mean(Jan 700, Feb 500) = 600
    assert one(hospitals, fx.CODE["B"])["value"] == pytest.approx(1000 / 600)
    # C in Jan: mean(Dec 2800, Jan 3100) = 2950 (Nov not reported)
    assert one(query(province, "cash_months", "hospital", "2025-01"), fx.CODE["C"])["value"] == pytest.approx(
        1000 / 2950)
    # Province, Feb: cash 5 × 1000 over A 5200/3 + B 600 + D mean(1000, 900) 950 + E mean(300, 200, 100) 200
    # + F 1900.
    prov = one(query(province, "cash_months", "province", "2025-02"), "220000")
    assert prov["value"] == pytest.approx(5000 / (5200 / 3 + 600 + 950 + 200 + 1900))


def test_growth_compares_the_same_span_a_year_earlier_on_matched_months(province):
    month = one(query(province, "medical_revenue_growth", "province", "2025-01"), "220000")
    # medical = 0.8R. Jan 2025 vs Jan 2024, hospitals with both: A 1600 vs 800, B 480 vs 400,
    # C 2400 vs 2400, F 1600 vs 1200 (D reported Feb 2024 not Jan; E is new).
    assert (month["numerator"], month["denominator"]) == pytest.approx((6080, 4800))
    assert month["value"] == pytest.approx(6080 / 4800 - 1)
    assert month["reporting"] == 4

    ytd = one(query(province, "medical_revenue_growth", "province", "2025-02", span="ytd"), "220000")
    # + Feb: only D has Feb in both years: 800 vs 640.
    assert ytd["value"] == pytest.approx((6080 + 800) / (4800 + 640) - 1)

    nanguan = one(query(province, "medical_revenue_growth", "county", "2025-01"), "220102")
    assert nanguan["value"] == pytest.approx((1600 + 480) / (800 + 400) - 1)

    cost = one(query(province, "avg_outpatient_cost_growth", "province", "2025-01"), "220000")
    # outpatient revenue 0.3R over visits (100, A Jan 2025: 200):
    # 2025: (600 + 180 + 900 + 600) / (200 + 100 + 100 + 100); 2024: (300 + 150 + 900 + 450) / 400.
    assert cost["numerator"] == pytest.approx(2280 / 500)
    assert cost["denominator"] == pytest.approx(1800 / 400)
    assert cost["value"] == pytest.approx((2280 / 500) / (1800 / 400) - 1)

    # No December 2023 data: nothing to compare with.
    december = one(query(province, "medical_revenue_growth", "province", "2024-12"), "220000")
    assert math.isnan(december["value"]) and december["reporting"] == 0


def test_counts_and_timeliness(province):
    ids = ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate", "deficit_hospitals",
           "deficit_hospital_share", "salary_arrears_hospitals"]
    jan = query(province, ids, "province", "2025-01").set_index("indicator")["value"]
    assert jan["hospitals_expected"] == 6  # A–F: E opened 2024-12, G closed 2025-01
    assert jan["hospitals_reporting"] == 6 and jan["reporting_rate"] == pytest.approx(1.0)
    # First revisions: A, C, F on time (23:59:59 of the 10th); D's first revision on time
    # although its current one came late; B and E at 00:00:00 of the 11th: late.
    assert jan["timely_rate"] == pytest.approx(4 / 6)
    # 收不抵支 is judged over 12 reported months; no hospital of this fixture has them (a few
    # months each), so none counts and the share has no hospital to divide by (the worked case
    # with 12 months: tests/indicators/test_v2_definitions.py).
    assert jan["deficit_hospitals"] == 0 and math.isnan(jan["deficit_hospital_share"])
    assert jan["salary_arrears_hospitals"] == 0

    dec = query(province, ids, "province", "2024-12").set_index("indicator")["value"]
    assert dec["hospitals_expected"] == 7 and dec["hospitals_reporting"] == 4  # A, C, E, G reported
    assert dec["timely_rate"] == pytest.approx(4 / 7)  # submitted 2025-01-05, due 2025-01-10
    assert dec["deficit_hospitals"] == 0  # nobody has 12 months

    feb = query(province, ids, "province", "2025-02", span="month")
    feb_values = feb.set_index("indicator")["value"]
    assert feb_values["deficit_hospitals"] == 0  # whatever span is asked for: 12 months, which nobody has
    assert feb_values["salary_arrears_hospitals"] == 1  # A: 100
    assert set(feb.loc[feb["indicator"].str.startswith("deficit"), "span"]) == {"year"}


def test_programme_status_is_the_latest_report_on_or_before_the_period(province):
    def values(period: str, level: str = "province", code: str = "220000") -> pd.Series:
        frame = query(province, PROGRAMME_IDS, level, period)
        return frame[frame["code"] == code].set_index("indicator")["value"]

    # A report more than two quarters old gives no status (进展未更新: in the denominator only).
    # In 2025-01 that is a report before 2024-07: A's (2024-06) and F's (2024-03).
    jan = values("2025-01")
    # 三级: A stale, C in_use (its 2025-01 report), F stale.
    assert jan["ops_platform_coverage_tertiary"] == pytest.approx(1 / 3)
    assert jan["ops_platform_coverage_secondary"] == pytest.approx(1 / 2)  # 二级 B in_use, D never reported
    assert jan["ops_committee_share"] == pytest.approx(2 / 5)  # B, C of A, B, C, D, F
    assert jan["chief_accountant_share"] == pytest.approx(1 / 3)  # C
    # Process targets (2 for a hospital neither pilot nor 国家 budget-managed — C is 省): B 2 of 2,
    # C 5 of 2; A and F stale, D no report.
    assert jan["process_target_share"] == pytest.approx(2 / 5)
    assert jan["caliber_mapping_share"] == pytest.approx(2 / 6)  # B, C done; all six open hospitals
    assert jan["risk_register_share"] == pytest.approx(2 / 6)
    # This year's pilots: B's report is from 2024, C's 2025-01 row says 0.
    assert jan["pilot_projects_total"] == 0

    # In 2024-12 reports from 2024-06 on count: A, B, C (2024-09); F's 2024-03 is stale.
    dec = values("2024-12")
    assert dec["ops_platform_coverage_tertiary"] == pytest.approx(1 / 3)  # A; C still 'building'
    assert dec["chief_accountant_share"] == pytest.approx(1 / 3)  # A
    assert dec["pilot_projects_total"] == 2 + 1 + 1  # A, B, C
    assert dec["pilot_hospital_share"] == pytest.approx(3 / 6)  # of A, B, C, D, F, G

    early = one(query(province, "ops_platform_coverage_tertiary", "province", "2024-05"), "220000")
    assert early["value"] == 0 and (early["reporting"], early["expected"]) == (1, 3)  # only F had reported

    assert values("2025-01", "county", "220581")["ops_platform_coverage_tertiary"] == 0  # F: stale
    assert values("2025-01", "prefecture", "220100")["ops_platform_coverage_tertiary"] == pytest.approx(1 / 2)


def test_filters_apply_at_every_level(province):
    tertiary = one(query(province, "surplus_rate", "province", "2025-01", filters={"tier": "三级"}), "220000")
    # A 200/2000, C −100/3000, F 100/2000.
    assert tertiary["value"] == pytest.approx(200 / 7000) and tertiary["expected"] == 3
    tcm = one(query(province, "surplus_rate", "province", "2025-01", filters={"authority": "中医药局"}), "220000")
    assert tcm["value"] == pytest.approx(-100 / 600)  # B
    changchun = one(query(province, "surplus_rate", "prefecture", "2025-01",
                          filters={"tier": ["二级"], "is_pilot": False}), "220100")
    assert changchun["value"] == pytest.approx(-100 / 600) and changchun["expected"] == 1  # B; G closed
    pilot = query(province, "surplus_rate", "hospital", "2025-01", filters={"is_pilot": True})
    assert list(pilot["code"]) == [fx.CODE["A"]]
    budget = one(query(province, "hospitals_expected", "county", "2025-01", filters={"is_budget_managed": True}),
                 "220104")
    assert budget["value"] == 1  # C


def test_region_limits_to_descendants(province):
    frame = query(province, "surplus_rate", "county", "2025-01", region="220100")
    assert set(frame["parent_code"]) == {"220100"} and len(frame) == 11  # 长春市's counties
    assert query(province, "surplus_rate", "province", "2025-01", region="220100").empty


def test_series_gives_monthly_values_of_one_unit(province):
    frame = series(province, "surplus_rate", "220102", "2024-12", "2025-02")
    assert list(frame["period"]) == ["2024-12", "2025-01", "2025-02"]
    # 南关区: Dec A 1000/1100; Jan (200 − 100)/2600; Feb A 2000/2300 + B 600/500 → −200/2600.
    assert frame["value"].tolist() == pytest.approx([-100 / 1000, 100 / 2600, -200 / 2600])
    ytd = series(province, "surplus_rate", fx.CODE["A"], "2025-01", "2025-02", span="ytd")
    assert ytd["value"].tolist() == pytest.approx([200 / 2000, (200 - 300) / 4000])
    assert set(ytd["level"]) == {"hospital"}


def test_bad_arguments_are_refused(province):
    with pytest.raises(KeyError, match="unknown indicator"):
        query(province, "no_such_thing", "province", "2025-01")
    with pytest.raises(ValueError, match="level"):
        query(province, "surplus_rate", "country", "2025-01")
    with pytest.raises(ValueError, match="span"):
        query(province, "surplus_rate", "province", "2025-01", span="week")
    with pytest.raises(ValueError, match="filter"):
        query(province, "surplus_rate", "province", "2025-01", filters={"tier": "四级"})
    with pytest.raises(ValueError, match="period"):
        query(province, "surplus_rate", "province", "2025-13")
