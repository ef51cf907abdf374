"""The spec's v2 definitions on the worked fixture province (v2_fixture.py), every value by hand.

P reports every optional field, Q none (its values are the v1 approximations, marked 近似, or
absent where the definition has no approximation), S the v2 columns in 2025-02 only. All
values are for 2025-02 unless a test says otherwise; "province" is 吉林省 220000 (P + Q + S).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import sqlalchemy as sa
import province_fixture as fx
import v2_fixture as v2

from opsmon.indicators import aggregate, query, restrict
from opsmon.indicators.query import fetch

P, Q, S = v2.CODE["P"], v2.CODE["Q"], v2.CODE["S"]
PROVINCE = "220000"


@pytest.fixture
def worked(engine):
    """A fresh database holding the worked province."""
    v2.load(engine)
    return engine


def rows(engine, ids, level: str, period: str = "2025-02", span: str = "month") -> dict[tuple[str, str], pd.Series]:
    frame = query(engine, ids, level, period, span=span)
    return {(r["code"], r["indicator"]): r for _, r in frame.iterrows()}


def check(row: pd.Series, value: float, approx: bool) -> None:
    assert row["value"] == pytest.approx(value, rel=1e-12), row
    assert bool(row["approx"]) is approx, row


def test_flow_ratios_are_official_where_reported_and_v1_where_not(worked):
    ids = ["medical_service_revenue_share", "medical_surplus_rate", "avg_inpatient_cost", "drug_revenue_share",
           "outpatient_revenue_share", "inpatient_revenue_share"]
    h = rows(worked, ids, "hospital")
    prov = rows(worked, ids, "province")

    # 医疗服务收入占比: P 300/800, S 640/1600 official; Q (400 − drug 100 − consumables 40 − exam 30
    # − lab 20) / 400 = 210/400, 近似.
    check(h[P, "medical_service_revenue_share"], 300 / 800, False)
    check(h[Q, "medical_service_revenue_share"], 210 / 400, True)
    check(h[S, "medical_service_revenue_share"], 640 / 1600, False)
    check(prov[PROVINCE, "medical_service_revenue_share"], (300 + 210 + 640) / (800 + 400 + 1600), True)

    # 医疗盈余率: P (820 − 780)/820, S (1700 − 1750)/1700; Q (medical 400 + subsidy 80 − business 400
    # − admin 100) / (400 + 80) = −20/480.
    check(h[P, "medical_surplus_rate"], 40 / 820, False)
    check(h[Q, "medical_surplus_rate"], -20 / 480, True)
    check(h[S, "medical_surplus_rate"], -50 / 1700, False)
    check(prov[PROVINCE, "medical_surplus_rate"], (40 - 20 - 50) / (820 + 480 + 1700), True)

    # 出院患者次均费用: P 450/10, S 900/20; Q inpatient revenue 200 / 5 discharges.
    check(h[P, "avg_inpatient_cost"], 45, False)
    check(h[Q, "avg_inpatient_cost"], 40, True)
    check(h[S, "avg_inpatient_cost"], 45, False)
    check(prov[PROVINCE, "avg_inpatient_cost"], (450 + 200 + 900) / (10 + 5 + 20), True)

    # 药品收入占比（不含中药饮片）: P (200 − 20)/800, S (500 − 100)/1600; Q drug 100/400 incl. herbal pieces.
    check(h[P, "drug_revenue_share"], 180 / 800, False)
    check(h[Q, "drug_revenue_share"], 100 / 400, True)
    check(h[S, "drug_revenue_share"], 400 / 1600, False)
    check(prov[PROVINCE, "drug_revenue_share"], (180 + 100 + 400) / 2800, True)

    # No optional field: never 近似.
    check(h[Q, "outpatient_revenue_share"], 200 / 400, False)
    check(prov[PROVINCE, "outpatient_revenue_share"], (300 + 200 + 600) / 2800, False)
    check(prov[PROVINCE, "inpatient_revenue_share"], (500 + 200 + 1000) / 2800, False)


def test_a_span_is_official_only_where_every_reported_month_has_the_field(worked):
    ids = ["medical_service_revenue_share", "avg_inpatient_cost"]
    h = rows(worked, ids, "hospital", span="ytd")
    prov = rows(worked, ids, "province", span="ytd")
    # Jan + Feb 2025. S reported medical_service_revenue in February only: its whole span takes
    # the approximation, (1600 − 500 − 200 − 150 − 50) × 2 / (1600 × 2), not a mix of the two.
    check(h[S, "medical_service_revenue_share"], 1400 / 3200, True)
    check(h[P, "medical_service_revenue_share"], 600 / 1600, False)
    check(h[Q, "medical_service_revenue_share"], 420 / 800, True)
    check(prov[PROVINCE, "medical_service_revenue_share"], (600 + 420 + 1400) / (1600 + 800 + 3200), True)
    # S: inpatient revenue 2000 / 40 discharges rather than February's 900/20 official value.
    check(h[S, "avg_inpatient_cost"], 2000 / 40, True)
    check(prov[PROVINCE, "avg_inpatient_cost"], (900 + 400 + 2000) / (20 + 10 + 40), True)


def test_growth_is_official_only_where_both_years_report_the_field(worked):
    h = rows(worked, "avg_inpatient_cost_growth", "hospital")
    prov = rows(worked, "avg_inpatient_cost_growth", "province")
    # 2025-02 against 2024-02. P reported discharged_patient_revenue in both: 450/10 vs 320/8.
    check(h[P, "avg_inpatient_cost_growth"], 45 / 40 - 1, False)
    # Q never: inpatient revenue 200/5 vs 150/4.
    check(h[Q, "avg_inpatient_cost_growth"], 40 / 37.5 - 1, True)
    # S only in 2025-02: both years take inpatient revenue, 1000/20 vs 1000/25.
    check(h[S, "avg_inpatient_cost_growth"], 50 / 40 - 1, True)
    province = prov[PROVINCE, "avg_inpatient_cost_growth"]
    this, last = (450 + 200 + 1000) / (10 + 5 + 20), (320 + 150 + 1000) / (8 + 4 + 25)
    assert (province["numerator"], province["denominator"]) == pytest.approx((this, last), rel=1e-12)
    check(province, this / last - 1, True)


def test_month_end_ratios(worked):
    ids = ["long_term_debt_ratio", "quick_ratio", "cash_months", "debt_ratio", "current_ratio"]
    h = rows(worked, ids, "hospital")
    prov = rows(worked, ids, "province")

    # 长期债务占总资产比例: (long-term loans + long-term payables) / assets; Q's payables count as 0 (近似).
    check(h[P, "long_term_debt_ratio"], 1500 / 10000, False)
    check(h[Q, "long_term_debt_ratio"], 500 / 4000, True)
    check(h[S, "long_term_debt_ratio"], 4000 / 20000, False)
    check(prov[PROVINCE, "long_term_debt_ratio"], (1500 + 500 + 4000) / 34000, True)
    # In January S had not reported long_term_payables yet: 3000/20000, 近似.
    check(rows(worked, "long_term_debt_ratio", "hospital", "2025-01")[S, "long_term_debt_ratio"], 3000 / 20000, True)

    # 速动比率 only where inventory is reported: P (4000 − 400)/2000, S (8000 − 1000)/5000; Q has none.
    check(h[P, "quick_ratio"], 3600 / 2000, False)
    check(h[S, "quick_ratio"], 7000 / 5000, False)
    assert math.isnan(h[Q, "quick_ratio"]["value"]) and h[Q, "quick_ratio"]["reporting"] == 0
    quick = prov[PROVINCE, "quick_ratio"]
    check(quick, (3600 + 7000) / (2000 + 5000), False)
    assert (quick["reporting"], quick["expected"]) == (2, 3)

    # 货币资金可支付月数: cash / mean(total_expense − depreciation) over Dec, Jan, Feb.
    # P 1200/(900 − 60), S 2000/(2100 − 120); Q reports no depreciation: 300/550, 近似.
    check(h[P, "cash_months"], 1200 / 840, False)
    check(h[Q, "cash_months"], 300 / 550, True)
    check(h[S, "cash_months"], 2000 / 1980, False)
    check(prov[PROVINCE, "cash_months"], (1200 + 300 + 2000) / (840 + 550 + 1980), True)

    check(prov[PROVINCE, "debt_ratio"], (5000 + 2500 + 12000) / 34000, False)
    check(prov[PROVINCE, "current_ratio"], (4000 + 1500 + 8000) / (2000 + 1000 + 5000), False)


def test_turnover_days_annualise_the_reported_months_of_the_last_twelve(worked):
    ids = ["insurance_receivable_days", "supplier_payable_days"]
    h = rows(worked, ids, "hospital")
    prov = rows(worked, ids, "province")
    # The last 12 months (Mar 2024 – Feb 2025) hold 3 reported months (Dec, Jan, Feb): their mean
    # × 12 stands for the year. P: medical revenue 800 a month → 9600 a year; receivable 600.
    check(h[P, "insurance_receivable_days"], 600 / (9600 / 365), False)
    check(h[S, "insurance_receivable_days"], 1500 / (1600 * 12 / 365), False)
    assert math.isnan(h[Q, "insurance_receivable_days"]["value"])  # no receivable reported: no value
    check(prov[PROVINCE, "insurance_receivable_days"], 2100 / (2400 * 12 / 365), False)
    assert prov[PROVINCE, "insurance_receivable_days"]["reporting"] == 2
    # Drug + consumables expense: P 180 + 90 = 270 a month, S 450 + 180 = 630.
    check(h[P, "supplier_payable_days"], 270 / (270 * 12 / 365), False)
    check(h[S, "supplier_payable_days"], 900 / (630 * 12 / 365), False)
    assert math.isnan(h[Q, "supplier_payable_days"]["value"])
    check(prov[PROVINCE, "supplier_payable_days"], (270 + 900) / (900 * 12 / 365), False)


def test_consumables_per_100_revenue_needs_the_consumables_expense(worked):
    h = rows(worked, "consumables_per_100_revenue", "hospital")
    # consumables expense / (medical − drug revenue) × 100: P 90/600, S 180/1100; Q does not report it.
    check(h[P, "consumables_per_100_revenue"], 15, False)
    check(h[S, "consumables_per_100_revenue"], 18000 / 1100, False)
    assert math.isnan(h[Q, "consumables_per_100_revenue"]["value"])
    prov = rows(worked, "consumables_per_100_revenue", "province")[PROVINCE, "consumables_per_100_revenue"]
    check(prov, (90 + 180) / (600 + 1100) * 100, False)
    assert (prov["reporting"], prov["expected"]) == (2, 3)


def test_deficit_counts_judge_only_hospitals_with_12_months(worked):
    # The worked province has four months of data: no hospital can be judged over 12 months, so
    # none counts as 收不抵支 — not even S, whose 2025 so far is a deficit (the YTD count of v1 said 2).
    prov = rows(worked, ["deficit_hospitals", "deficit_hospital_share"], "province", span="ytd")
    assert prov[PROVINCE, "deficit_hospitals"]["value"] == 0
    assert prov[PROVINCE, "deficit_hospitals"]["span"] == "year"
    assert math.isnan(prov[PROVINCE, "deficit_hospital_share"]["value"])


def _shifted(key: str, revenue_shift: float, expense_shift: float) -> dict[str, float]:
    """Hospital *key*'s base row with other revenue / other expense moved (the identities still hold)."""
    values = dict(v2.BASE[key])
    values.update(total_revenue=values["total_revenue"] + revenue_shift,
                  other_revenue=values["other_revenue"] + revenue_shift,
                  total_expense=values["total_expense"] + expense_shift,
                  other_expense=values["other_expense"] + expense_shift)
    return values


def test_deficit_counts_read_the_last_12_months(engine):
    for key in ("P", "Q", "S"):
        fx.add_hospital(engine, v2.CODE[key], v2.COUNTY[key], v2.LEVEL[key])
    submission = fx.add_submission(engine, "2025-03-05 10:00:00+08")
    year = [f"2024-{m:02d}" for m in range(3, 13)] + ["2025-01", "2025-02"]
    for period in year:
        # P: revenue 1000 a month; expense 900, but 1060 in the Spring-Festival months (a dip):
        # 12 months 12 000 vs 10 × 900 + 2 × 1060 = 11 120 — no deficit.
        dip = 160 if period in ("2025-01", "2025-02") else 0
        fx.add_month(engine, v2.CODE["P"], period, _shifted("P", 0, dip), submission)
        # Q: 500 vs 550 every month — a deficit over the 12 months.
        fx.add_month(engine, v2.CODE["Q"], period, _shifted("Q", 0, 0), submission)
    for period in ("2025-01", "2025-02"):
        # S opened this year: two months of deficit (2000 vs 2100) are not 12 months: not judged.
        fx.add_month(engine, v2.CODE["S"], period, _shifted("S", 0, 0), submission)
    fx.accepted(engine)
    prov = rows(engine, ["deficit_hospitals", "deficit_hospital_share", "hospitals_reporting"], "province")
    assert prov[PROVINCE, "hospitals_reporting"]["value"] == 3
    assert prov[PROVINCE, "deficit_hospitals"]["value"] == 1  # Q
    # Q of the two hospitals with 12 months (P, Q); S is neither numerator nor denominator.
    assert prov[PROVINCE, "deficit_hospital_share"]["value"] == pytest.approx(1 / 2)
    assert prov[PROVINCE, "deficit_hospital_share"]["denominator"] == 2


def test_process_target_share_is_approximate_without_the_campaign_count(worked):
    h = rows(worked, "process_target_share", "hospital")
    # P (pilot, target 5): campaign 5 — met. S (target 2): campaign 1 — not met, although its
    # cumulative 6 would be. Q (target 2): no campaign count, cumulative 3 stands in — met, 近似.
    check(h[P, "process_target_share"], 1, False)
    check(h[S, "process_target_share"], 0, False)
    check(h[Q, "process_target_share"], 1, True)
    check(rows(worked, "process_target_share", "province")[PROVINCE, "process_target_share"], 2 / 3, True)


def test_a_region_is_approximate_when_any_contributing_hospital_is(worked):
    every_tier = {"tier": list(restrict.TIERS)}  # forces summing hospitals at query time
    for filters in (None, every_tier):
        counties = query(worked, "medical_service_revenue_share", "county", "2025-02", filters=filters)
        flags = counties.set_index("code")["approx"]
        assert (flags["220102"], flags["220104"], flags["220204"]) == (False, True, False)  # P, Q, S
        assert not flags["220103"]  # no hospital: nothing approximated
        prefectures = query(worked, "medical_service_revenue_share", "prefecture", "2025-02", filters=filters)
        flags = prefectures.set_index("code")["approx"]
        assert (flags["220100"], flags["220200"]) == (True, False)  # 长春市 P + Q; 吉林市 S
    # The pre-summed rows count the approximated hospitals.
    aggregate.refresh(worked)
    with worked.connect() as conn:
        counted = conn.execute(sa.text(
            "SELECT n_approx FROM ind_region WHERE adcode = '220000' AND period = '2025-02-01' "
            "AND span = 'ytd' AND indicator = 'medical_service_revenue_share'")).scalar_one()
    assert counted == 2  # Q and S (S's January lacks the field)


def test_a_revision_adding_the_fields_ends_the_approximation_incrementally(worked):
    aggregate.refresh(worked)
    sid = v2.fx.add_submission(worked, "2025-03-20 10:00:00+08")
    v2.fx.execute(worked, "UPDATE monthly_values SET is_current = false WHERE hospital_code = :h "
                          "AND period = '2025-02-01'", h=Q)
    v2.fx.add_month(worked, Q, "2025-02", {**v2.row("Q", "2025-02"), "medical_service_revenue": 150}, sid, revision=2)
    v2.fx.bump(worked)
    assert aggregate.refresh(worked).changed == (Q,)
    prov = fetch(worked, "medical_service_revenue_share", "province", ["2025-02"])
    check(prov.iloc[0], (300 + 150 + 640) / 2800, False)
    with worked.connect() as conn:
        incremental = pd.read_sql_query(sa.text("SELECT * FROM ind_region ORDER BY adcode, period, span, indicator"),
                                        conn)
    aggregate.refresh(worked, force=True)
    with worked.connect() as conn:
        full = pd.read_sql_query(sa.text("SELECT * FROM ind_region ORDER BY adcode, period, span, indicator"), conn)
    pd.testing.assert_frame_equal(incremental, full, check_dtype=False)
