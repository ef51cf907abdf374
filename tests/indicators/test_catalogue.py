"""The catalogue holds every id of spec/indicators.md and refuses malformed entries."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from opsmon.indicators import catalogue, query, risk_rules
from opsmon.indicators.catalogue import CATALOGUE, Indicator

# The ids of spec/indicators.md (v1), table by table.
SPEC_IDS = {
    "programme": ["ops_platform_coverage_tertiary", "ops_platform_coverage_secondary", "ops_committee_share",
                  "chief_accountant_share", "pilot_projects_total", "pilot_hospital_share", "process_target_share",
                  "caliber_mapping_share", "risk_register_share"],
    "financial": ["medical_service_revenue_share", "personnel_expense_share", "energy_per_10k_revenue",
                  "medical_surplus_rate", "surplus_rate", "debt_ratio", "current_ratio", "long_term_loan_ratio",
                  "cash_months", "drug_revenue_share", "consumables_revenue_share", "fiscal_subsidy_share",
                  "medical_revenue_growth", "avg_outpatient_cost", "avg_outpatient_cost_growth",
                  "avg_inpatient_cost", "avg_inpatient_cost_growth", "alos", "nurse_doctor_ratio",
                  "salary_arrears_total"],
    "counts": ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate", "deficit_hospitals",
               "deficit_hospital_share", "salary_arrears_hospitals"],
}
SPEC_RULES = ["deficit_ytd", "deficit_streak", "debt_ratio_high", "long_term_debt_rising", "salary_arrears",
              "construction_debt_increase", "liquidity_low", "cash_short", "report_missing"]


def test_every_spec_id_is_in_the_catalogue_in_its_group():
    assert [i.id for i in CATALOGUE] == [i for ids in SPEC_IDS.values() for i in ids]
    for group, ids in SPEC_IDS.items():
        assert {catalogue.get(i).group for i in ids} == {group}
    assert all(i.zh and i.en for i in CATALOGUE)


def test_every_spec_risk_rule_is_there_with_levels_mildest_first():
    assert [r.id for r in risk_rules.RULES] == SPEC_RULES
    for rule in risk_rules.RULES:
        order = [risk_rules.LEVELS.index(level) for level, _ in rule.levels]
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


def test_the_indicator_package_never_imports_dash():
    code = ("import sys, opsmon.indicators, opsmon.indicators.export, opsmon.indicators.trends, "
            "opsmon.indicators.targets; sys.exit('dash' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
