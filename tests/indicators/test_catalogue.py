"""The catalogue holds every id of spec/indicators.md and refuses malformed entries."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from opsmon.indicators import catalogue, query, risk_rules
from opsmon.indicators.catalogue import CATALOGUE, Approximation, Indicator

# The ids of spec/indicators.md (v2), table by table, in the spec's order.
SPEC_IDS = {
    "programme": ["ops_platform_coverage_tertiary", "ops_platform_coverage_secondary", "ops_committee_share",
                  "chief_accountant_share", "pilot_projects_total", "pilot_hospital_share", "process_target_share",
                  "leaders_platform_share", "caliber_mapping_share", "risk_register_share"],
    "financial": ["medical_service_revenue_share", "personnel_expense_share", "energy_per_10k_revenue",
                  "medical_surplus_rate", "surplus_rate", "debt_ratio", "current_ratio", "long_term_loan_ratio",
                  "long_term_debt_ratio", "quick_ratio", "insurance_receivable_days", "supplier_payable_days",
                  "cash_months", "drug_revenue_share", "consumables_revenue_share", "consumables_per_100_revenue",
                  "outpatient_revenue_share", "inpatient_revenue_share", "fiscal_subsidy_share",
                  "medical_revenue_growth", "avg_outpatient_cost", "avg_outpatient_cost_growth",
                  "avg_inpatient_cost", "avg_inpatient_cost_growth", "alos", "nurse_doctor_ratio",
                  "salary_arrears_total"],
    "counts": ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate", "deficit_hospitals",
               "deficit_hospital_share", "salary_arrears_hospitals"],
}
# The spec's 中文 of the entries v2 renamed or added (the official names; a unit the spec writes
# after a name, 「（元）」, is the entry's unit: the UI adds it).
SPEC_LABELS = {
    "medical_service_revenue_share": "医疗服务收入（不含药品、耗材、检查检验收入）占医疗收入比例",
    "medical_surplus_rate": "医疗盈余率",
    "long_term_debt_ratio": "长期债务占总资产比例",
    "quick_ratio": "速动比率",
    "insurance_receivable_days": "应收医保款周转天数",
    "supplier_payable_days": "应付药品耗材款周转天数",
    "cash_months": "货币资金可支付月数",
    "drug_revenue_share": "药品收入占比（不含中药饮片）",
    "consumables_per_100_revenue": "百元医疗收入（不含药品收入）中消耗的卫生材料",
    "outpatient_revenue_share": "门诊收入占医疗收入比例",
    "inpatient_revenue_share": "住院收入占医疗收入比例",
    "avg_inpatient_cost": "出院患者次均费用",
    "avg_inpatient_cost_growth": "住院次均费用增幅",
    "deficit_hospitals": "收不抵支医院数",
    "deficit_hospital_share": "收不抵支医院占比",
}
SPEC_RULES = ["deficit_12m", "deficit_streak", "medical_deficit", "debt_ratio_high", "net_assets_negative",
              "long_term_debt", "salary_arrears", "construction_loans_increase", "liquidity_low", "cash_short",
              "cash_forecast", "receivable_days_high", "supplier_payable_days_high", "report_missing"]


def test_every_spec_id_is_in_the_catalogue_in_its_group():
    assert [i.id for i in CATALOGUE] == [i for ids in SPEC_IDS.values() for i in ids]
    for group, ids in SPEC_IDS.items():
        assert {catalogue.get(i).group for i in ids} == {group}
    assert all(i.zh and i.en for i in CATALOGUE)


def test_the_v2_labels_are_the_official_names():
    for indicator_id, zh in SPEC_LABELS.items():
        assert catalogue.get(indicator_id).zh == zh


def test_every_spec_risk_rule_is_there_with_levels_mildest_first():
    assert [r.id for r in risk_rules.RULES] == SPEC_RULES
    for rule in risk_rules.RULES:
        for condition in rule.conditions:
            order = [risk_rules.LEVELS.index(level) for level, _ in condition.levels]
            assert order == sorted(order), rule.id


def test_percentages_are_fractions_shown_times_100():
    assert catalogue.get("surplus_rate").scale == 100 and catalogue.get("alos").scale == 1
    assert catalogue.get("energy_per_10k_revenue").factor == 10_000


@pytest.mark.parametrize("change, message", [
    ({"numerator": "no_such_field"}, "cannot be read"),
    ({"numerator": "total_assets"}, "cannot be read"),  # a stock in a flow entry
    ({"kind": "sum"}, "denominator"),  # a sum with a denominator
    ({"population": "total_revenue > 0"}, "population"),
    ({"kind": "growth", "basis": "stock", "numerator": "total_assets", "denominator": None}, "growth"),
    ({"span": "week"}, "span"),
    ({"numerator": "1; DELETE FROM HOSPITALS"}, "plain expression"),
    ({"numerator": "total_revenue -- comment"}, "plain expression"),
    ({"denominator": "(SELECT 1)"}, "plain expression"),
    # Approximations and required fields name optional fields the basis can tell the presence of.
    ({"approximation": Approximation(("total_revenue",), "total_revenue")}, "not optional fields"),
    ({"approximation": Approximation(("medical_service_revenue",), "no_such_field")}, "cannot be read"),
    ({"approximation": Approximation(("medical_service_revenue",), "total_assets")}, "cannot be read"),
    ({"approximation": Approximation(())}, "names the optional fields"),
    ({"requires": ("inventory",)}, "not optional fields"),  # a stock in a flow entry
    ({"approximation": Approximation(("medical_service_revenue",), "1; DROP TABLE hospitals")},
     "plain expression"),
])
def test_malformed_entries_are_refused(change, message):
    base = catalogue.get("surplus_rate")
    with pytest.raises(ValueError, match=message):
        catalogue.check((dataclasses.replace(base, **change),))


def test_an_entry_is_all_a_new_indicator_needs(province):
    entry = Indicator("exam_revenue_share", "检查收入占比", "Exam revenue share", "financial", "ratio", "flow",
                      "exam_revenue", "medical_revenue")
    catalogue.check((*CATALOGUE, entry))
    # Every row's exam revenue is 0.1R of a medical revenue of 0.8R: 1/8 at every level and span.
    frame = query(province, [entry, "alos"], "prefecture", "2025-02", span="ytd", region="220100")
    assert frame.loc[frame["indicator"] == "exam_revenue_share", "value"].tolist() == [pytest.approx(0.125)]
    with pytest.raises(ValueError, match="duplicated"):
        catalogue.check((*CATALOGUE, catalogue.get("alos")))


def test_roster_and_status_entries_cannot_require_fields():
    roster = catalogue.get("deficit_hospitals")
    with pytest.raises(ValueError, match="not optional fields"):
        catalogue.check((dataclasses.replace(roster, approximation=Approximation(("depreciation_expense",))),))
    status = catalogue.get("process_target_share")
    with pytest.raises(ValueError, match="not optional fields"):
        catalogue.check((dataclasses.replace(status, requires=("campaign_optimized_processes",)),))


def test_a_stock_entry_can_only_tell_flows_a_trailing_mean_reads():
    cash = catalogue.get("cash_months")
    with pytest.raises(ValueError, match="not optional fields"):  # no trailing mean reads it
        catalogue.check((dataclasses.replace(cash, approximation=Approximation(("herbal_pieces_revenue",))),))
    # depreciation_expense is read by cash_expense_avg3: ind_month says whether every month had it.
    assert catalogue.TRAILING_FLAGS["depreciation_expense"].months == 3


@pytest.mark.parametrize("mean, message", [
    (catalogue.Trailing("cash", "total_expense", 3), "new and unique"),
    (catalogue.Trailing("x_avg3", "total_assets", 3), "mean of flows"),
    (catalogue.Trailing("x_avg3", "total_expense", 24), "mean of flows"),
    (catalogue.Trailing("x_avg3", "total_expense; DROP TABLE hospitals", 3), "plain expression"),
])
def test_malformed_trailing_means_are_refused(mean, message):
    with pytest.raises(ValueError, match=message):
        catalogue.check_trailing((*catalogue.TRAILING, mean))


def test_the_indicator_package_never_imports_dash():
    code = ("import sys, opsmon.indicators, opsmon.indicators.export, opsmon.indicators.trends, "
            "opsmon.indicators.targets; sys.exit('dash' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
