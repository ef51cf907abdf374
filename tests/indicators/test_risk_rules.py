"""Risk rules v2, one test per rule on hand-made monthly series (spec/indicators.md, "Risk rules (v2)").

Every hospital is built by risk_fixture.Builder: rows of province_fixture.month(R, E, …)
with R = 1000 and E = 900 unless a test says otherwise, so medical revenue is 0.8R, the
v1 medical-surplus approximation is 0.95R − 0.9E, stocks are assets 10000, liabilities
4000, cash 1000, long-term loans 1000. Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

import pytest
from risk_fixture import Builder, months

from opsmon.indicators.risk_rules import explain


def test_deficit_12m_reads_the_trailing_12_months_and_needs_all_of_them(engine):
    b = Builder(engine)
    b.hospital("twelve", months("2024-01", 12, R=1000, E=1040))  # 12000 vs 12480: −4 % → orange
    b.hospital("exact", months("2024-01", 12, R=1000, E=1050))  # exactly −5 %: orange (red is < −5 %)
    b.hospital("deep", months("2024-01", 12, R=1000, E=1060))  # 12000 vs 12720: −6 % → red
    b.hospital("eleven", months("2024-02", 11, R=1000, E=1200))  # 11 months: no 12-month window
    gap = months("2024-01", 13, R=1000, E=1100)
    del gap["2024-06"]  # every 12-month window misses June: never 12 reported months
    b.hospital("gap", gap)
    assert b.firings("deficit_12m") == {("twelve", "2024-12"): "orange", ("exact", "2024-12"): "orange",
                                        ("deep", "2024-12"): "red"}
    detail = b.detail("deficit_12m", "deep", "2024-12")
    assert detail == {"metric": "surplus_rate_12m", "value": -0.06, "op": "lt", "threshold": -0.05, "window": "12m",
                      "revenue_12m": 12000, "expense_12m": 12720}
    assert explain("deficit_12m", "red", detail) == \
        "近12个月收入合计 1.2万元 < 费用合计 1.3万元，收支结余率 −6.0%（红色阈值 < −5%）"
    assert explain("deficit_12m", "red", detail, "en") == (
        "Revenue over the last 12 months CNY 12,000 < expense CNY 12,720; surplus rate −6.0% (red threshold < −5%)")


def test_a_healthy_seasonal_hospital_raises_no_orange_or_red_risk_in_february(engine):
    b = Builder(engine)
    rows = {}
    for period, values in months("2024-01", 14, cash=2000).items():
        month = int(period[5:])
        r, e = (800, 1000) if month in (1, 2) else (900, 1000) if month == 12 else (1100, 950)
        rows[period] = {**values, "R": r, "E": e}
    b.hospital("seasonal", rows)
    # February 2025: December, January and February in deficit — 3 months in a row (yellow);
    # the 12 months March 2024 – February 2025: revenue 9×1100 + 900 + 2×800 = 12400 ≥ expense
    # 9×950 + 1000 + 2×1000 = 11550, so deficit_12m does not fire and the streak stays yellow.
    # Medical surplus (approximated): 0.95×12400 − 0.9×11550 = 1385 ≥ 0. Cash 2000 / 1000 = 2 months.
    assert b.all_firings("seasonal", "2025-02") == {"deficit_streak": "yellow"}
    assert b.all_firings("seasonal", "2024-02") == {}  # January–February alone: a run of 2


def test_a_deficit_streak_is_yellow_alone_and_orange_with_a_12_month_deficit(engine):
    b = Builder(engine)
    b.hospital("chronic", months("2024-01", 12, R=1000, E=1100))
    loss = {"R": 1000, "E": 1100}
    # March not reported: the run restarts in April and reaches only 2 by May.
    b.hospital("gap", {m: loss for m in ("2025-01", "2025-02", "2025-04", "2025-05")})
    # A surplus month in March breaks the run; April–June make 3 again.
    b.hospital("break", {**{m: loss for m in ("2025-01", "2025-02", "2025-04", "2025-05", "2025-06")},
                         "2025-03": {"R": 1000, "E": 900}})
    expected = {("chronic", p): "yellow" for p in months("2024-03", 9)}  # March–November: no 12 months yet
    expected[("chronic", "2024-12")] = "orange"  # the 12 months: −10 % (deficit_12m red) → the streak is orange
    expected[("break", "2025-06")] = "yellow"
    assert b.firings("deficit_streak") == expected
    assert b.firings("deficit_12m") == {("chronic", "2024-12"): "red"}
    assert b.episodes("deficit_streak", "chronic") == [("2024-03", "2024-12", None, 10, "orange", "orange")]
    detail = b.detail("deficit_streak", "chronic", "2024-12")
    assert (detail["value"], detail["threshold"], detail["escalated_by"], detail["condition_level"]) == \
        (12, 3, "deficit_12m", "yellow")  # January–December: 12 months in a row
    assert explain("deficit_streak", "orange", detail) == \
        "连续12个月收入合计小于费用合计（黄色阈值 ≥ 3个月）；同时收不抵支，升为橙色"


def test_medical_deficit_uses_the_official_fields_when_reported_else_the_approximation(engine):
    b = Builder(engine)
    # Official: 12 × (900 − 950) = −600 → yellow (the approximation would be 950 − 810 = +140 a month).
    b.hospital("official", months("2024-01", 12, medical_activity_revenue=900, medical_activity_expense=950))
    # Approximated: R = E = 1000, business 900 + admin 100: 12 × (950 − 1000) = −600 → yellow.
    approx = {"R": 1000, "E": 1000, "business_expense": 900, "admin_expense": 100, "other_expense": 0}
    b.hospital("approx", months("2024-01", 12, **approx))
    # The same approximation, but the official fields say 1000 − 900: +1200 — the official value decides.
    b.hospital("official_wins", months("2024-01", 12, **approx, medical_activity_revenue=1000,
                                       medical_activity_expense=900))
    b.hospital("short", months("2024-02", 11, medical_activity_revenue=900, medical_activity_expense=950))
    assert b.firings("medical_deficit") == {("official", "2024-12"): "yellow", ("approx", "2024-12"): "yellow"}
    official = b.detail("medical_deficit", "official", "2024-12")
    assert (official["value"], official["medical_activity_revenue_12m"], official["medical_activity_expense_12m"],
            official["approx"]) == (-600, 10800, 11400, False)
    approximated = b.detail("medical_deficit", "approx", "2024-12")
    assert (approximated["value"], approximated["approx"], approximated["approx_months"]) == (-600, True, 12)
    assert explain("medical_deficit", "yellow", approximated).startswith(
        "近12个月医疗活动收入 1.1万元 − 医疗活动费用 1.2万元 = 医疗盈余 −600元（黄色阈值 < 0元）（近似")


@pytest.mark.parametrize("liabilities, debt_level, negative", [
    (4999, None, None), (5000, "yellow", None), (6999, "yellow", None), (7000, "orange", None),
    (10000, "orange", None), (10001, "orange", "red")])
def test_debt_ratio_has_no_red_and_negative_net_assets_are_red(engine, liabilities, debt_level, negative):
    b = Builder(engine)
    b.hospital("h", {"2025-01": {"total_liabilities": liabilities}})  # over assets of 10000
    assert b.firings("debt_ratio_high") == ({("h", "2025-01"): debt_level} if debt_level else {})
    assert b.firings("net_assets_negative") == ({("h", "2025-01"): negative} if negative else {})


def test_long_term_debt_by_level_or_by_growth_on_12_months_earlier_the_higher_wins(engine):
    b = Builder(engine)
    b.hospital("r19", {"2025-01": {"long_term_loans": 1999}})  # 19.99 % of assets
    b.hospital("r20", {"2025-01": {"long_term_loans": 2000}})  # 20 %: yellow
    b.hospital("r35", {"2025-01": {"long_term_loans": 3500}})  # 35 %: orange
    b.hospital("up19", {"2024-01": {"long_term_loans": 1000}, "2025-01": {"long_term_loans": 1199}})
    b.hospital("up20", {"2024-01": {"long_term_loans": 1000}, "2025-01": {"long_term_loans": 1200}})  # yellow
    b.hospital("up50", {"2024-01": {"long_term_loans": 1000}, "2025-01": {"long_term_loans": 1500}})  # orange
    # Not reported 12 months earlier (2024-02): no growth to read; 15 % of assets: nothing.
    b.hospital("gap", {"2024-02": {"long_term_loans": 1000}, "2025-01": {"long_term_loans": 1500}})
    # A first loan (none 12 months earlier) is a single drawdown from zero: unbounded growth, orange —
    # although its level (15 %) alone would raise nothing. No debt then or now: nothing.
    b.hospital("zero", {"2024-01": {"long_term_loans": 0}, "2025-01": {"long_term_loans": 1500}})
    b.hospital("never", {"2024-01": {"long_term_loans": 0}, "2025-01": {"long_term_loans": 0}})
    # Payables reported now but not a year ago: growth compares loans with loans (0 %); level 15 %.
    b.hospital("payables", {"2024-01": {}, "2025-01": {"long_term_payables": 500}})
    # 24 % (yellow) and up 60 % (orange): orange, from the growth.
    b.hospital("both", {"2024-01": {"long_term_loans": 1500}, "2025-01": {"long_term_loans": 2400}})
    assert b.firings("long_term_debt") == {("r20", "2025-01"): "yellow", ("r35", "2025-01"): "orange",
                                           ("up20", "2025-01"): "yellow", ("up50", "2025-01"): "orange",
                                           ("zero", "2025-01"): "orange", ("both", "2025-01"): "orange"}
    detail = b.detail("long_term_debt", "both", "2025-01")
    assert (detail["metric"], detail["value"], detail["threshold"], detail["long_term_debt"],
            detail["long_term_debt_12m_ago"]) == ("long_term_debt_growth", 0.6, 0.5, 2400, 1500)
    assert explain("long_term_debt", "orange", detail) == \
        "长期债务 2,400元，比12个月前（1,500元）增长 60.0%（橙色阈值 ≥ 50%）"
    first = b.detail("long_term_debt", "zero", "2025-01")
    assert (first["metric"], first["value"], first["long_term_debt_12m_ago"]) == ("long_term_debt_new", 1500, 0)
    assert explain("long_term_debt", "orange", first) == "新增长期债务 1,500元（12个月前为0）（橙色阈值 > 0元）"
    ratio = b.detail("long_term_debt", "r35", "2025-01")
    assert (ratio["metric"], ratio["value"], ratio["threshold"]) == ("long_term_debt_ratio", 0.35, 0.35)


def test_construction_loans_compare_with_the_same_month_a_year_earlier(engine):
    b = Builder(engine)
    b.hospital("h", {"2024-01": {"construction_debt": 100}, "2024-02": {"construction_debt": 100},
                     "2025-01": {"construction_debt": 100},  # equal to 2024-01: no
                     "2025-02": {"construction_debt": 101},  # higher than 2024-02: orange
                     "2025-03": {"construction_debt": 200}})  # 2024-03 not reported: not compared
    assert b.firings("construction_loans_increase") == {("h", "2025-02"): "orange"}
    detail = b.detail("construction_loans_increase", "h", "2025-02")
    assert (detail["value"], detail["construction_debt"], detail["construction_debt_12m_ago"]) == (1, 101, 100)


def _with_last(rows: dict[str, dict], period: str, **values) -> dict[str, dict]:
    rows[period] = {**rows[period], **values}
    return rows


def test_receivable_days_need_the_optional_field_and_12_months(engine):
    b = Builder(engine)
    # Medical revenue 800 a month: 9600 over 12 months, 9600 / 365 = 26.30 a day.
    # 2367 / 26.30 = 89.99 days; 2368 → 90.03 (yellow); 3946 → 150.03 (orange).
    for key, receivable in (("d89", 2367), ("d90", 2368), ("d150", 3946)):
        b.hospital(key, _with_last(months("2024-01", 12), "2024-12", insurance_receivable=receivable))
    b.hospital("absent", months("2024-01", 12))  # a v1 hospital: the field is not reported
    b.hospital("short", _with_last(months("2024-02", 11), "2024-12", insurance_receivable=3946))
    assert b.firings("receivable_days_high") == {("d90", "2024-12"): "yellow", ("d150", "2024-12"): "orange"}
    detail = b.detail("receivable_days_high", "d150", "2024-12")
    assert round(detail["value"], 2) == 150.03 and detail["medical_revenue_12m"] == 9600
    assert explain("receivable_days_high", "orange", detail) == \
        "应收医保款 3,946元 ÷ 近12个月日均医疗收入 26元 = 150天（橙色阈值 > 150天）"


def test_supplier_payable_days_need_drug_and_consumables_expense_in_every_month(engine):
    b = Builder(engine)
    # Drug 200 + consumables 100 a month: 3600 over 12 months, 9.863 a day.
    # 887 → 89.93 days; 888 → 90.03 (yellow); 1775 → 179.96 (yellow); 1776 → 180.07 (orange).
    supply = {"drug_expense": 200, "consumables_expense": 100}
    for key, payable in (("p887", 887), ("p888", 888), ("p1775", 1775), ("p1776", 1776)):
        b.hospital(key, _with_last(months("2024-01", 12, **supply), "2024-12", supplier_payable=payable))
    one_missing = _with_last(months("2024-01", 12, **supply), "2024-12", supplier_payable=1776)
    one_missing["2024-05"] = {}  # May without drug and consumables expense: the 12 months are incomplete
    b.hospital("one_missing", one_missing)
    assert b.firings("supplier_payable_days_high") == {("p888", "2024-12"): "yellow", ("p1775", "2024-12"): "yellow",
                                                       ("p1776", "2024-12"): "orange"}


def test_cash_forecast_names_the_month_a_falling_cash_cover_drops_below_one(engine):
    b = Builder(engine)
    # Expense 1000 a month, so cash months = cash / 1000. Falling: 2.245, 2.155, 2.045, … 1.155
    # (−0.1 a month, ±0.005): the line is 1.051 in 2025-01 and 0.952 in 2025-02 → 2025-02.
    falling = {p: {"R": 1100, "E": 1000, "cash": 2250 - 100 * k + (5 if k % 2 else -5)}
               for k, p in enumerate(months("2024-01", 12))}
    b.hospital("falling", falling)
    # Noisy: 1.7, 1.3, 1.75, 1.05, … 1.05 — its line (−0.033 a month) is below 1 by 2025-06,
    # but it explains 21 % of the variation (p = 0.14): no warning.
    noisy = [1700, 1300, 1750, 1050, 1600, 1250, 1500, 1000, 1550, 1150, 1400, 1050]
    b.hospital("noisy", {p: {"R": 1100, "E": 1000, "cash": c} for p, c in zip(months("2024-01", 12), noisy,
                                                                             strict=True)})
    # The same fall over 11 months: too short a history.
    b.hospital("short", {p: v for p, v in falling.items() if p != "2024-01"})
    assert b.firings("cash_forecast") == {("falling", "2024-12"): "yellow"}
    assert b.firings("cash_short") == {}  # 1.155 months: still at or above one
    detail = b.detail("cash_forecast", "falling", "2024-12")
    assert (detail["projected_period"], detail["value"], detail["threshold"], detail["slope"]) == \
        ("2025-02", 1.155, 1, -0.0998)
    assert explain("cash_forecast", "yellow", detail) == \
        "货币资金可支付月数 1.16个月，近12个月趋势每月 −0.10，预计 2025-02 降至 1个月以下（R² 1.00）（黄色阈值 < 1个月）"


def test_every_condition_has_a_sentence_in_both_languages():
    from opsmon.indicators.risk_rules import _SENTENCES, RULES

    assert {c.metric for r in RULES for c in r.conditions} <= set(_SENTENCES)
    # A detail without a metric (a register row from before v2): the rule's description.
    assert explain("salary_arrears", "red", None) == "期末拖欠职工薪酬大于0"
    detail = {"metric": "salary_arrears", "value": 2049000, "op": "gt", "threshold": 0}
    assert explain("salary_arrears", "red", detail) == "期末拖欠职工薪酬 204.9万元（红色阈值 > 0元）"
    assert explain("salary_arrears", "red", detail, "en") == \
        "Salary arrears at month end CNY 2.05 m (red threshold > CNY 0)"
