"""The database itself keeps the invariants: keys, foreign keys, CHECKs, one current revision."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from opsmon.ingest import uscc

HOSPITAL = uscc.make("220102", "MB1234567"[:8])  # a valid code in 南关区, 长春市


def execute(engine, sql: str, **params):
    """Run *sql* in its own transaction; rows stay readable after it commits."""
    with engine.begin() as conn:
        result = conn.execute(sa.text(sql), params)
        return result.freeze()() if result.returns_rows else result


def add_hospital(engine, code: str = HOSPITAL, adcode: str = "220102", level: str = "三级甲等") -> None:
    execute(engine, "INSERT INTO hospitals (hospital_code, name, adcode, level, category, affiliation, authority) "
                    "VALUES (:c, '测试医院（演示）', :a, :l, '综合医院', '市属', '卫生健康委')", c=code, a=adcode, l=level)


def add_submission(engine) -> int:
    return execute(engine, "INSERT INTO submissions (kind, username, file_name, sha256, size_bytes, status) "
                           "VALUES ('monthly', 't', 'f.csv', repeat('a', 64), 1, 'processing') "
                           "RETURNING submission_id").scalar_one()


# A monthly row whose accounting identities hold (yuan).
MONTH = dict(
    total_revenue=1000, medical_revenue=800, outpatient_revenue=300, inpatient_revenue=500, drug_revenue=200,
    consumables_revenue=100, exam_revenue=100, lab_revenue=50, fiscal_subsidy_revenue=150, other_revenue=50,
    total_expense=900, business_expense=700, admin_expense=150, other_expense=50, personnel_expense=300,
    energy_expense=10, total_assets=5000, current_assets=2000, cash=500, total_liabilities=2200,
    current_liabilities=1000, long_term_loans=800, construction_debt=0, salary_arrears=0,
    outpatient_visits=1000, discharges=80, inpatient_bed_days=700, open_beds=100, doctors=40, nurses=60,
)


def add_month(engine, submission_id: int, revision: int = 1, is_current: bool = True,
              period: str = "2026-01-01", **overrides) -> None:
    values = {**MONTH, **overrides}
    cols = ", ".join(values)
    params = ", ".join(f":{c}" for c in values)
    execute(engine, f"INSERT INTO monthly_values (hospital_code, period, revision, submission_id, is_current, {cols}) "
                    f"VALUES (:h, :p, :r, :s, :cur, {params})",
            h=HOSPITAL, p=period, r=revision, s=submission_id, cur=is_current, **values)


def test_a_valid_monthly_row_is_stored(engine):
    add_hospital(engine)
    add_month(engine, add_submission(engine))
    assert execute(engine, "SELECT total_revenue FROM monthly_values").scalar_one() == 1000


def test_only_one_current_revision_per_hospital_and_period(engine):
    add_hospital(engine)
    sid = add_submission(engine)
    add_month(engine, sid, revision=1, is_current=True)
    add_month(engine, sid, revision=2, is_current=False)  # a retired revision may coexist
    with pytest.raises(IntegrityError, match="monthly_values_current_uq"):
        add_month(engine, sid, revision=3, is_current=True)


@pytest.mark.parametrize("overrides, constraint", [
    ({"medical_revenue": 900}, "medical_revenue_identity"),  # ≠ 300 + 500
    ({"total_expense": 950}, "total_expense_identity"),  # ≠ 700 + 150 + 50
    ({"cash": 2500}, "asset_order"),  # cash > current assets
    ({"long_term_loans": 3000}, "liability_order"),
    ({"salary_arrears": -1}, "salary_arrears_check"),
    ({"period": "2026-01-15"}, "period_check"),
])
def test_the_database_refuses_rows_that_break_the_spec(engine, overrides, constraint):
    add_hospital(engine)
    sid = add_submission(engine)
    with pytest.raises(IntegrityError, match=constraint):
        add_month(engine, sid, **overrides)


def test_money_is_numeric_never_float(engine):
    float_columns = execute(engine, "SELECT table_name || '.' || column_name FROM information_schema.columns "
                                    "WHERE table_schema = 'public' AND data_type IN ('real', 'double precision') "
                                    "AND table_name IN ('monthly_values', 'progress_values', 'targets')"
                            ).scalars().all()
    assert float_columns == []
    assert execute(engine, "SELECT data_type FROM information_schema.columns WHERE table_name = 'monthly_values' "
                           "AND column_name = 'total_revenue'").scalar_one() == "numeric"


def test_a_hospital_must_sit_in_a_county_level_division(engine):
    with pytest.raises(IntegrityError, match="hospitals_adcode_region_level_fkey"):
        add_hospital(engine, adcode="220100")  # 长春市 itself is a prefecture


def test_a_hospital_code_must_look_like_a_uscc(engine):
    with pytest.raises(IntegrityError, match="hospitals_hospital_code_check"):
        add_hospital(engine, code="12220102MB12345IO0")  # I and O are not in the USCC alphabet


def test_tier_is_derived_from_the_grade(engine):
    add_hospital(engine, level="二级乙等")
    assert execute(engine, "SELECT tier FROM hospitals").scalar_one() == "二级"


def test_a_rejected_submission_must_carry_its_errors(engine):
    with pytest.raises(IntegrityError, match="submissions_check"):
        execute(engine, "INSERT INTO submissions (username, file_name, sha256, size_bytes, status) "
                        "VALUES ('t', 'f.csv', repeat('a', 64), 1, 'rejected')")


def test_meihekou_reports_to_the_province_but_lies_in_tonghua(engine):
    row = execute(engine, "SELECT name, level, parent_adcode, geo_parent_adcode FROM regions "
                          "WHERE adcode = '220581'").one()
    assert tuple(row) == ("梅河口市", "county", "220000", "220500")


def test_region_ancestors_walk_the_reporting_hierarchy(engine):
    def ancestors(adcode: str) -> list[str]:
        return execute(engine, "SELECT ancestor_adcode FROM region_ancestors WHERE adcode = :a ORDER BY depth",
                       a=adcode).scalars().all()

    assert ancestors("220102") == ["220102", "220100", "220000"]  # 南关区 → 长春市 → 吉林省
    assert ancestors("220581") == ["220581", "220000"]  # 梅河口市 reports straight to the province


def test_region_ancestors_follow_every_change_of_the_hierarchy(engine):
    def ancestors(adcode: str) -> list[str]:
        return execute(engine, "SELECT ancestor_adcode FROM region_ancestors WHERE adcode = :a ORDER BY depth",
                       a=adcode).scalars().all()

    # 梅河口市 handed to 通化市, and a new district of 长春市: the roll-up table (migration 0017) follows.
    execute(engine, "UPDATE regions SET parent_adcode = '220500' WHERE adcode = '220581'")
    execute(engine, "INSERT INTO regions (adcode, name, level, parent_adcode, geo_parent_adcode) "
                    "VALUES ('220199', '新区（测试）', 'county', '220100', '220100')")
    assert ancestors("220581") == ["220581", "220500", "220000"]
    assert ancestors("220199") == ["220199", "220100", "220000"]
    assert "220199" in execute(engine, "SELECT adcode FROM region_ancestors WHERE ancestor_adcode = '220000'"
                               ).scalars().all()
    execute(engine, "DELETE FROM regions WHERE adcode = '220199'")
    assert ancestors("220199") == []


def test_national_coverage_targets_are_preloaded(engine):
    rows = execute(engine, "SELECT value, to_char(due_period, 'YYYY-MM') FROM targets "
                           "WHERE indicator = 'ops_platform_coverage_tertiary' ORDER BY due_period").all()
    assert [(float(v), d) for v, d in rows] == [(0.5, "2025-12"), (1.0, "2027-12")]


# --- Contract v2 (migration 0009) -------------------------------------------------------------------


@pytest.mark.parametrize("overrides, constraint", [
    ({"medical_service_revenue": 802}, "medical_service_revenue_bound"),  # > 医疗收入 800 + 1
    ({"herbal_pieces_revenue": 201.01}, "herbal_pieces_revenue_bound"),  # > 药品收入 200 + 1
    ({"inventory": 2001.01}, "inventory_bound"),  # > 流动资产 2000 + 1
    ({"short_term_loans": 1001.01}, "short_term_loans_bound"),  # > 流动负债 1000 + 1
    ({"salary_arrears": 2201.01}, "salary_arrears_bound"),  # > 负债总额 2200 + 1
    ({"construction_debt": 2201.01}, "construction_debt_bound"),
    ({"supplier_payable": -1}, "supplier_payable_check"),
])
def test_the_database_refuses_new_rows_that_break_a_v2_identity(engine, overrides, constraint):
    add_hospital(engine)
    sid = add_submission(engine)
    with pytest.raises(IntegrityError, match=constraint):
        add_month(engine, sid, **overrides)


def test_the_v2_bounds_allow_one_yuan_and_missing_values(engine):
    add_hospital(engine)
    sid = add_submission(engine)
    add_month(engine, sid, medical_service_revenue=801, herbal_pieces_revenue=201, inventory=2001,
              short_term_loans=1001, salary_arrears=2201, construction_debt=2201)
    add_month(engine, sid, period="2026-02-01")  # the v2 columns NULL: not reported
    assert execute(engine, "SELECT count(*), count(inventory) FROM monthly_values").one() == (2, 1)


def test_the_budget_authority_and_the_budget_managed_flag_agree(engine):
    add_hospital(engine)  # written as v1 code wrote it: is_budget_managed false, no level
    assert tuple(execute(engine, "SELECT budget_authority, is_budget_managed FROM hospitals").one()) == ("无", False)
    execute(engine, "UPDATE hospitals SET is_budget_managed = true")  # only the v1 flag: 是 means 省
    assert tuple(execute(engine, "SELECT budget_authority, is_budget_managed FROM hospitals").one()) == ("省", True)
    execute(engine, "UPDATE hospitals SET budget_authority = '国家'")  # only the level
    assert tuple(execute(engine, "SELECT budget_authority, is_budget_managed FROM hospitals").one()) == ("国家", True)
    execute(engine, "UPDATE hospitals SET budget_authority = '无', is_budget_managed = false")
    assert tuple(execute(engine, "SELECT budget_authority, is_budget_managed FROM hospitals").one()) == ("无", False)
    with pytest.raises(IntegrityError, match="budget_authority_check"):
        execute(engine, "UPDATE hospitals SET budget_authority = '市'")


@pytest.mark.parametrize("affiliation", ["中央属", "委属委管"])
def test_the_v2_affiliations_are_allowed(engine, affiliation):
    add_hospital(engine)
    execute(engine, "UPDATE hospitals SET affiliation = :a", a=affiliation)
    assert execute(engine, "SELECT affiliation FROM hospitals").scalar_one() == affiliation


def test_campaign_processes_may_not_exceed_all_processes(engine):
    add_hospital(engine)
    sid = add_submission(engine)
    insert = ("INSERT INTO progress_values (hospital_code, period, revision, submission_id, is_current, ops_committee, "
              "ops_department, chief_accountant, ops_platform_status, pilot_projects_year, optimized_processes, "
              "caliber_mapping, risk_register, internal_control_review, campaign_optimized_processes) "
              "VALUES (:h, :p, 1, :s, true, true, true, true, 'in_use', 1, 5, 'done', true, true, :c)")
    execute(engine, insert, h=HOSPITAL, p="2026-01-01", s=sid, c=5)
    with pytest.raises(IntegrityError, match="campaign_processes_bound"):
        execute(engine, insert, h=HOSPITAL, p="2026-02-01", s=sid, c=6)
