"""A worked fixture province for the v2 definitions (spec/indicators.md v2), inserted with plain SQL.

Three hospitals, every value written out below so the expectations of
test_v2_definitions.py can be worked out by hand:

    P 南关区 220102  三级甲等 pilot  reports every optional field in every month (official values)
    Q 朝阳区 220104  二级甲等        a v1 reporter: no optional field at all (近似 or no value)
    S 船营区 220204  三级            reports the v2 columns in 2025-02 only (drug/consumables/
                                    depreciation expense every month)

Months: 2024-02 (the year-earlier month of 2025-02), 2024-12, 2025-01, 2025-02. Each hospital's
rows are its BASE values with the month's OVERRIDES; the v2 columns (V2) are added to P's rows
every month and to S's in 2025-02. Progress (2025-01, fresh in 2025-02): P campaign 5 of 8
cumulative, Q no campaign column (cumulative 3), S campaign 1 of 6 cumulative.
"""

from __future__ import annotations

import province_fixture as fx
from sqlalchemy.engine import Engine

from opsmon.ingest import uscc

COUNTY = {"P": "220102", "Q": "220104", "S": "220204"}
# (S is not a character of a USCC: its code carries R.)
CODE = {k: uscc.make(adcode, f"MB2000{ {'S': 'R'}.get(k, k)}0") for k, adcode in COUNTY.items()}
LEVEL = {"P": "三级甲等", "Q": "二级甲等", "S": "三级"}
PILOT = {"P": True, "Q": False, "S": False}
MONTHS = ("2024-02", "2024-12", "2025-01", "2025-02")

BASE = {
    "P": dict(total_revenue=1000, medical_revenue=800, outpatient_revenue=300, inpatient_revenue=500,
              drug_revenue=200, consumables_revenue=100, exam_revenue=80, lab_revenue=40,
              fiscal_subsidy_revenue=150, other_revenue=50,
              total_expense=900, business_expense=700, admin_expense=150, other_expense=50, personnel_expense=300,
              drug_expense=180, consumables_expense=90, depreciation_expense=60, energy_expense=10,
              total_assets=10000, current_assets=4000, cash=1200, total_liabilities=5000, current_liabilities=2000,
              long_term_loans=1000, construction_debt=0, salary_arrears=0,
              outpatient_visits=100, discharges=10, inpatient_bed_days=80, open_beds=50, doctors=20, nurses=40),
    "Q": dict(total_revenue=500, medical_revenue=400, outpatient_revenue=200, inpatient_revenue=200,
              drug_revenue=100, consumables_revenue=40, exam_revenue=30, lab_revenue=20,
              fiscal_subsidy_revenue=80, other_revenue=20,
              total_expense=550, business_expense=400, admin_expense=100, other_expense=50, personnel_expense=200,
              energy_expense=5,
              total_assets=4000, current_assets=1500, cash=300, total_liabilities=2500, current_liabilities=1000,
              long_term_loans=500, construction_debt=0, salary_arrears=0,
              outpatient_visits=80, discharges=5, inpatient_bed_days=40, open_beds=20, doctors=10, nurses=15),
    "S": dict(total_revenue=2000, medical_revenue=1600, outpatient_revenue=600, inpatient_revenue=1000,
              drug_revenue=500, consumables_revenue=200, exam_revenue=150, lab_revenue=50,
              fiscal_subsidy_revenue=300, other_revenue=100,
              total_expense=2100, business_expense=1600, admin_expense=400, other_expense=100, personnel_expense=700,
              drug_expense=450, consumables_expense=180, depreciation_expense=120, energy_expense=20,
              total_assets=20000, current_assets=8000, cash=2000, total_liabilities=12000, current_liabilities=5000,
              long_term_loans=3000, construction_debt=0, salary_arrears=0,
              outpatient_visits=200, discharges=20, inpatient_bed_days=180, open_beds=100, doctors=40, nurses=70),
}
V2 = {
    "P": dict(medical_service_revenue=300, medical_activity_revenue=820, medical_activity_expense=780,
              discharged_patient_revenue=450, herbal_pieces_revenue=20, insurance_receivable=600,
              supplier_payable=270, short_term_loans=100, long_term_payables=500, inventory=400),
    "S": dict(medical_service_revenue=640, medical_activity_revenue=1700, medical_activity_expense=1750,
              discharged_patient_revenue=900, herbal_pieces_revenue=100, insurance_receivable=1500,
              supplier_payable=900, short_term_loans=0, long_term_payables=1000, inventory=1000),
}
OVERRIDES = {
    # A year earlier: fewer discharges, lower revenues (the accounting identities still hold).
    ("P", "2024-02"): dict(total_revenue=840, medical_revenue=640, outpatient_revenue=240, inpatient_revenue=400,
                           discharged_patient_revenue=320, discharges=8),
    ("Q", "2024-02"): dict(total_revenue=420, medical_revenue=320, outpatient_revenue=170, inpatient_revenue=150,
                           discharges=4),
    ("S", "2024-02"): dict(discharges=25),
    # S's December: a large other revenue, so its last 12 months are no deficit though 2025 so far is.
    ("S", "2024-12"): dict(total_revenue=2600, other_revenue=700),
}
V2_MONTHS = {"P": MONTHS, "Q": (), "S": ("2025-02",)}

PROGRESS = {
    # key: (campaign_optimized_processes, optimized_processes)
    "P": (5, 8),
    "Q": (None, 3),
    "S": (1, 6),
}


def row(key: str, period: str) -> dict[str, float]:
    """Hospital *key*'s values for *period*: BASE, the v2 columns where it reports them, OVERRIDES."""
    values = dict(BASE[key])
    if period in V2_MONTHS[key]:
        values.update(V2[key])
    values.update(OVERRIDES.get((key, period), {}))
    return values


def load(engine: Engine) -> None:
    """Insert the worked province (hospitals, monthly rows, progress)."""
    for key in CODE:
        fx.add_hospital(engine, CODE[key], COUNTY[key], LEVEL[key], is_pilot=PILOT[key])
    monthly = fx.add_submission(engine, "2025-03-05 10:00:00+08")
    for key in CODE:
        for period in MONTHS:
            fx.add_month(engine, CODE[key], period, row(key, period), monthly)
    progress = fx.add_submission(engine, "2025-02-01 10:00:00+08", "progress")
    for key, (campaign, cumulative) in PROGRESS.items():
        fx.execute(engine,
                   "INSERT INTO progress_values (hospital_code, period, revision, submission_id, is_current, "
                   "ops_committee, ops_department, chief_accountant, ops_platform_status, pilot_projects_year, "
                   "optimized_processes, campaign_optimized_processes, caliber_mapping, risk_register, "
                   "internal_control_review) "
                   "VALUES (:h, '2025-01-01', 1, :s, true, true, true, true, 'in_use', 1, :op, :cp, 'done', true, "
                   "true)", h=CODE[key], s=progress, op=cumulative, cp=campaign)
    fx.accepted(engine)
