"""A small fixture province, inserted with plain SQL (no ingest code, no indicator code).

Regions (real 吉林 codes): 长春市 220100 with 南关区 220102 and 朝阳区 220104; 吉林市 220200
with 船营区 220204; 梅河口市 220581, which reports to the province directly although
it lies inside 通化市 220500.

Hospitals::

    A 南关区  三级甲等 综合医院 省属 卫生健康委  is_pilot
    B 南关区  二级甲等 中医医院 市属 中医药局
    C 朝阳区  三级乙等 专科医院 市属 卫生健康委  is_budget_managed
    D 船营区  二级     综合医院 县属 卫生健康委
    E 船营区  一级     综合医院 县属 卫生健康委  opened 2024-12
    F 梅河口  三级     综合医院 市属 卫生健康委
    G 朝阳区  二级乙等 妇幼保健院 市属 卫生健康委  closed 2025-01 (open up to 2024-12)

Monthly rows are built by :func:`month` from total revenue R and total expense E
(every other field a fixed share, so the accounting identities hold):

    medical 0.8R = outpatient 0.3R + inpatient 0.5R; drug 0.2R, consumables 0.1R,
    exam 0.1R, lab 0.05R; fiscal subsidy 0.15R; other revenue 0.05R.
    business 0.7E, admin 0.2E, other expense 0.1E; personnel 0.3E; energy 0.01E.
    Stocks: total_assets 10000, current_assets 4000, cash 1000, total_liabilities 4000,
    current_liabilities 2000, long_term_loans 1000, construction_debt 0, salary_arrears 0.
    outpatient_visits 100, discharges 10, inpatient_bed_days 80, open_beds 50, doctors 20, nurses 40.

MONTHS lists (hospital, period, R, E, overrides, submission); D's 2025-01 has a
first revision (E 1200, on time) replaced by a second (E 1000, late).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import derived
from opsmon.ingest import uscc

COUNTY = {"A": "220102", "B": "220102", "C": "220104", "D": "220204", "E": "220204", "F": "220581", "G": "220104"}
CODE = {k: uscc.make(adcode, f"MB0000{k}0") for k, adcode in COUNTY.items()}
HOSPITALS = {
    # key: (level, category, affiliation, authority, is_pilot, is_budget_managed, opened, closed)
    "A": ("三级甲等", "综合医院", "省属", "卫生健康委", True, False, None, None),
    "B": ("二级甲等", "中医医院", "市属", "中医药局", False, False, None, None),
    "C": ("三级乙等", "专科医院", "市属", "卫生健康委", False, True, None, None),
    "D": ("二级", "综合医院", "县属", "卫生健康委", False, False, None, None),
    "E": ("一级", "综合医院", "县属", "卫生健康委", False, False, "2024-12-01", None),
    "F": ("三级", "综合医院", "市属", "卫生健康委", False, False, None, None),
    "G": ("二级乙等", "妇幼保健院", "市属", "卫生健康委", False, False, None, "2025-01-01"),
}

# Submissions: key → received_at (local time, +08). Due for 2025-01 is the end of 2025-02-10.
SUBMISSIONS = {
    "hist": "2025-01-05 10:00:00+08",    # history: late for 2024-01/02, on time for 2024-12
    "on_time": "2025-02-10 23:59:59+08",  # the last second of the due day
    "late": "2025-02-11 00:00:00+08",     # the first second after it
    "feb": "2025-03-05 09:00:00+08",
}

MONTHS = [
    # hospital, period, R, E, overrides, submission
    ("A", "2024-01", 1000, 900, {}, "hist"),
    ("A", "2024-12", 1000, 1100, {}, "hist"),
    ("A", "2025-01", 2000, 1800, {"outpatient_visits": 200}, "on_time"),
    ("A", "2025-02", 2000, 2300, {"total_liabilities": 6000, "salary_arrears": 100}, "feb"),
    ("B", "2024-01", 500, 400, {}, "hist"),
    ("B", "2025-01", 600, 700, {}, "late"),
    ("B", "2025-02", 600, 500, {}, "feb"),
    ("C", "2024-01", 3000, 2900, {}, "hist"),
    ("C", "2024-12", 3000, 2800, {}, "hist"),
    ("C", "2025-01", 3000, 3100, {}, "on_time"),
    ("D", "2024-02", 800, 700, {}, "hist"),
    ("D", "2025-02", 1000, 900, {}, "feb"),
    ("E", "2024-12", 200, 300, {}, "hist"),
    ("E", "2025-01", 200, 200, {}, "late"),
    ("E", "2025-02", 200, 100, {}, "feb"),
    ("F", "2024-01", 1500, 1500, {}, "hist"),
    ("F", "2025-01", 2000, 1900, {}, "on_time"),
    ("F", "2025-02", 2000, 1900, {}, "feb"),
    ("G", "2024-12", 400, 500, {}, "hist"),
]
# D 2025-01: revision 1 on time (not current), revision 2 late (current).
REVISED = [("D", "2025-01", 1000, 1200, {}, "on_time", 1, False), ("D", "2025-01", 1000, 1000, {}, "late", 2, True)]

PROGRESS = [
    # hospital, period, ops_platform_status, committee, chief_accountant, pilot_projects_year,
    # optimized_processes, caliber_mapping, risk_register
    ("A", "2024-06", "in_use", True, True, 2, 6, "done", True),
    ("B", "2024-12", "in_use", True, False, 1, 2, "done", True),
    ("C", "2024-09", "building", True, False, 1, 5, "in_progress", False),
    ("C", "2025-01", "in_use", True, True, 0, 5, "done", True),
    ("F", "2024-03", "built", False, True, 1, 1, "not_started", False),
    ("E", "2025-02", "not_started", False, False, 0, 0, "not_started", False),
]


def month(revenue: int, expense: int, **overrides: float) -> dict[str, float]:
    """One monthly row's values from total revenue and expense (see the module docstring)."""
    r, e = revenue, expense
    row = dict(
        total_revenue=r, medical_revenue=0.8 * r, outpatient_revenue=0.3 * r, inpatient_revenue=0.5 * r,
        drug_revenue=0.2 * r, consumables_revenue=0.1 * r, exam_revenue=0.1 * r, lab_revenue=0.05 * r,
        fiscal_subsidy_revenue=0.15 * r, other_revenue=0.05 * r,
        total_expense=e, business_expense=0.7 * e, admin_expense=0.2 * e, other_expense=0.1 * e,
        personnel_expense=0.3 * e, energy_expense=0.01 * e,
        total_assets=10000, current_assets=4000, cash=1000, total_liabilities=4000, current_liabilities=2000,
        long_term_loans=1000, construction_debt=0, salary_arrears=0,
        outpatient_visits=100, discharges=10, inpatient_bed_days=80, open_beds=50, doctors=20, nurses=40,
    )
    row.update(overrides)
    return row


def execute(engine: Engine, sql: str, **params):
    """Run *sql* in its own transaction; returned rows stay readable after the commit."""
    with engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return result.freeze()() if result.returns_rows else result


def add_hospital(engine: Engine, code: str, adcode: str, level: str = "三级甲等", category: str = "综合医院",
                 affiliation: str = "市属", authority: str = "卫生健康委", is_pilot: bool = False,
                 is_budget_managed: bool = False, opened: str | None = None, closed: str | None = None) -> None:
    execute(engine, "INSERT INTO hospitals (hospital_code, name, adcode, level, category, affiliation, authority, "
                    "is_pilot, is_budget_managed, opened_period, closed_period) "
                    "VALUES (:c, :n, :a, :l, :cat, :aff, :auth, :p, :b, :o, :cl)",
            c=code, n=f"测试医院{code[-4:]}（演示）", a=adcode, l=level, cat=category, aff=affiliation, auth=authority,
            p=is_pilot, b=is_budget_managed, o=opened, cl=closed)


def add_submission(engine: Engine, received_at: str, kind: str = "monthly") -> int:
    return execute(engine, "INSERT INTO submissions (kind, username, file_name, sha256, size_bytes, received_at, "
                           "status) VALUES (:k, 'test', 'f.csv', repeat('a', 64), 1, :at, 'accepted') "
                           "RETURNING submission_id", k=kind, at=received_at).scalar_one()


def add_month(engine: Engine, code: str, period: str, values: dict, submission_id: int, revision: int = 1,
              is_current: bool = True) -> None:
    cols = ", ".join(values)
    binds = ", ".join(f":{c}" for c in values)
    execute(engine, f"INSERT INTO monthly_values (hospital_code, period, revision, submission_id, is_current, "
                    f"{cols}) VALUES (:h, :p, :r, :s, :cur, {binds})",
            h=code, p=f"{period}-01", r=revision, s=submission_id, cur=is_current, **values)


def add_progress(engine: Engine, code: str, period: str, status: str, committee: bool, chief: bool, pilots: int,
                 processes: int, caliber: str, register: bool, submission_id: int) -> None:
    execute(engine, "INSERT INTO progress_values (hospital_code, period, revision, submission_id, is_current, "
                    "ops_committee, ops_department, chief_accountant, ops_platform_status, pilot_projects_year, "
                    "optimized_processes, caliber_mapping, risk_register, internal_control_review) "
                    "VALUES (:h, :p, 1, :s, true, :c, true, :ca, :st, :pp, :op, :cm, :rr, false)",
            h=code, p=f"{period}-01", s=submission_id, c=committee, ca=chief, st=status, pp=pilots, op=processes,
            cm=caliber, rr=register)


def revise(engine: Engine, code: str, period: str, revenue: int, expense: int) -> None:
    """What ingest does for a corrected report: the old revision stops being current, a new one is added."""
    sid = add_submission(engine, f"{period}-28 10:00+08")
    with engine.begin() as conn:
        revision = conn.execute(sa.text(
            "UPDATE monthly_values SET is_current = false WHERE hospital_code = :h AND period = :p AND is_current "
            "RETURNING revision"), {"h": code, "p": f"{period}-01"}).scalar_one()
    add_month(engine, code, period, month(revenue, expense), sid, revision=revision + 1)
    bump(engine)


def bump(engine: Engine) -> None:
    """What the ingest path does after accepting data: tell caches the data changed."""
    execute(engine, "UPDATE data_state SET version = version + 1, changed_at = now()")


def accepted(engine: Engine) -> None:
    """What the write side does after accepting data: :func:`bump`, then bring the derived tables
    up to date (readers never do)."""
    bump(engine)
    derived.refresh(engine)


def load(engine: Engine) -> None:
    """Insert the whole fixture province."""
    for key, (level, cat, aff, auth, pilot, budget, opened, closed) in HOSPITALS.items():
        add_hospital(engine, CODE[key], COUNTY[key], level, cat, aff, auth, pilot, budget, opened, closed)
    subs = {k: add_submission(engine, at) for k, at in SUBMISSIONS.items()}
    for key, period, r, e, extra, sub in MONTHS:
        add_month(engine, CODE[key], period, month(r, e, **extra), subs[sub])
    for key, period, r, e, extra, sub, revision, current in REVISED:
        add_month(engine, CODE[key], period, month(r, e, **extra), subs[sub], revision, current)
    progress_sub = add_submission(engine, "2025-02-01 10:00:00+08", "progress")
    for key, period, *values in PROGRESS:
        add_progress(engine, CODE[key], period, *values, progress_sub)
    accepted(engine)
