"""validate(): the rules of spec/submission-format.md, one test per rule, on files built from a valid month."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import opsmon
from opsmon.ingest import uscc
from opsmon.ingest.fields import FIELDS
from opsmon.ingest.parse import parse
from opsmon.ingest.problems import Problem, errors
from opsmon.ingest.validate import Context, validate

FIXTURES = Path(__file__).parent / "fixtures"
REGIONS = Path(opsmon.__file__).parent / "assets" / "geo" / "220000" / "regions.csv"

HOSPITAL = uscc.make("220102", "41234567")  # 12220102412345670G, 南关区
OTHER = uscc.make("220103", "41234568")  # 12220103412345689U, 宽城区
CLOSED = uscc.make("220104", "41234569")  # closed since 2024-12
UNREGISTERED = uscc.make("220106", "41234570")  # a valid code that is not in the registry
TODAY = date(2025, 4, 15)


def valid_month(**changes: object) -> dict[str, object]:
    """One hospital-month in 元 in which every accounting identity holds; *changes* are applied last."""
    outpatient, inpatient, fiscal, other = 6_000_000.00, 4_000_000.00, 1_000_000.00, 500_000.00
    business, admin, other_expense = 8_000_000.00, 1_000_000.00, 500_000.00
    medical = outpatient + inpatient
    month: dict[str, object] = {
        "hospital_code": HOSPITAL, "period": "2025-03",
        "total_revenue": medical + fiscal + other,
        "medical_revenue": medical, "outpatient_revenue": outpatient, "inpatient_revenue": inpatient,
        # 药品 + 卫生材料 + 检查 + 化验 = 6,000,000 ≤ 医疗收入
        "drug_revenue": 3_000_000.00, "consumables_revenue": 1_000_000.00, "exam_revenue": 1_000_000.00,
        "lab_revenue": 1_000_000.00, "fiscal_subsidy_revenue": fiscal, "other_revenue": other,
        "total_expense": business + admin + other_expense,
        "business_expense": business, "admin_expense": admin, "other_expense": other_expense,
        "personnel_expense": 4_000_000.00,  # ≤ 业务活动费用 + 单位管理费用
        "drug_expense": 2_000_000.00, "consumables_expense": 500_000.00, "depreciation_expense": 300_000.00,
        "energy_expense": 200_000.00,
        # 货币资金 ≤ 流动资产 ≤ 资产总额; 流动负债, 长期借款 ≤ 负债总额
        "total_assets": 100_000_000.00, "current_assets": 50_000_000.00, "cash": 20_000_000.00,
        "total_liabilities": 40_000_000.00, "current_liabilities": 20_000_000.00, "long_term_loans": 10_000_000.00,
        "construction_debt": 5_000_000.00, "salary_arrears": 0.00,
        "outpatient_visits": 30_000, "discharges": 1_500, "inpatient_bed_days": 13_500, "open_beds": 500,
        "doctors": 200, "nurses": 300,
    }
    return {**month, **changes}


def _text(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.2f}"
    return "" if v is None else str(v)


def file(kind: str, *rows: dict[str, object]) -> bytes:
    """A CSV of *kind* with column codes as the header (row 1) and *rows* from row 2 on."""
    codes = [f.code for f in FIELDS[kind]]  # type: ignore[index]
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(codes)
    w.writerows([[_text(r.get(c)) for c in codes] for r in rows])
    return buf.getvalue().encode("utf-8")


def county_adcodes() -> set[str]:
    regions = pd.read_csv(REGIONS, dtype=str)
    return set(regions.loc[regions["level"] == "county", "adcode"])


def context(**changes: object) -> Context:
    hospitals = pd.DataFrame({
        "hospital_code": [HOSPITAL, OTHER, CLOSED],
        "name": ["长春市第一医院", "宽城区人民医院", "朝阳区中医院"],
        "adcode": ["220102", "220103", "220104"],
        "closed_period": [None, None, "2024-12"],
    })
    defaults = {"today": TODAY, "hospitals": hospitals, "adcodes": county_adcodes()}
    return Context(**{**defaults, **changes})  # type: ignore[arg-type]


def check(kind: str, *rows: dict[str, object], **ctx: object) -> list[Problem]:
    """Parse a file of *rows* (which must parse cleanly) and return validate()'s problems."""
    parsed = parse(file(kind, *rows), "upload.csv", kind=kind)  # type: ignore[arg-type]
    assert errors(parsed.problems) == [], parsed.problems
    return validate(parsed, context(**ctx))


def monthly(*rows: dict[str, object], **ctx: object) -> list[Problem]:
    return check("monthly", *rows, **ctx)


def where(problems: list[Problem]) -> list[tuple[int | None, str | None, str]]:
    return [(p.row, p.column, p.code) for p in problems]


# --- Valid files ------------------------------------------------------------------------------


def test_a_valid_month_has_no_problems():
    assert monthly(valid_month(), valid_month(hospital_code=OTHER)) == []


@pytest.mark.parametrize("name, kind", [("monthly_excel_gbk.csv", "monthly"), ("monthly_utf8_bom.csv", "monthly"),
                                        ("monthly_title_note.xlsx", "monthly"), ("progress.csv", "progress")])
def test_the_stored_fixture_files_are_valid(name, kind):
    parsed = parse((FIXTURES / name).read_bytes(), name)
    assert parsed.kind == kind and parsed.problems == []
    assert validate(parsed, context()) == []


def test_the_current_month_may_be_reported():
    assert monthly(valid_month(period="2025-04")) == []


# --- Errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "-", "—", "/", "无"])
def test_missing_value_in_a_required_column(token):
    problems = monthly(valid_month(other_revenue=token))
    assert where(problems) == [(2, "other_revenue", "missing_value")]
    assert problems[0].message_zh == "第 2 行“其他收入”是必填项，不能为空"


def test_optional_values_may_be_missing():
    assert monthly(valid_month(drug_expense="", consumables_expense="-", depreciation_expense="无")) == []


def test_a_cell_that_did_not_parse_is_not_reported_again_as_missing():
    parsed = parse(file("monthly", valid_month(other_revenue="五十万")), "x.csv")
    assert where(parsed.problems) == [(2, "other_revenue", "bad_number")]
    assert validate(parsed, context()) == []


@pytest.mark.parametrize("code, variant", [
    (HOSPITAL[:-1], "18 位"),  # 17 characters
    (HOSPITAL[:-1] + ("0" if HOSPITAL[-1] != "0" else "1"), "校验位"),  # wrong check character
    ("12220102O12345670G", "不允许的字符"),  # the letter O
    ("12ABCDEF412345670G", "行政区划代码"),  # characters 3-8 are not digits
])
def test_bad_hospital_code(code, variant):
    problems = monthly(valid_month(hospital_code=code))
    assert where(problems) == [(2, "hospital_code", "bad_hospital_code")]
    assert variant in problems[0].message_zh and code in problems[0].message_zh


def test_hospital_code_in_lower_case_or_with_spaces_is_accepted():
    assert monthly(valid_month(hospital_code=" " + HOSPITAL.lower() + " ")) == []


def test_missing_hospital_code():
    assert where(monthly(valid_month(hospital_code=""))) == [(2, "hospital_code", "missing_value")]


def test_unknown_hospital():
    problems = monthly(valid_month(), valid_month(hospital_code=UNREGISTERED))
    assert where(problems) == [(3, "hospital_code", "unknown_hospital")]
    assert "机构名录" in problems[0].message_zh


def test_out_of_scope_for_a_hospital_user():
    problems = monthly(valid_month(), valid_month(hospital_code=OTHER), valid_month(hospital_code=UNREGISTERED),
                       allowed_hospitals={HOSPITAL})
    assert where(problems) == [(3, "hospital_code", "out_of_scope"), (4, "hospital_code", "out_of_scope")]


def test_a_closed_hospital_cannot_report_after_it_closed():
    assert monthly(valid_month(hospital_code=CLOSED, period="2024-12")) == []
    problems = monthly(valid_month(hospital_code=CLOSED, period="2025-01"))
    assert where(problems) == [(2, "period", "hospital_closed")]
    assert "朝阳区中医院" in problems[0].message_zh and "2024-12" in problems[0].message_zh


def test_future_period():
    problems = monthly(valid_month(period="2025-05"))
    assert where(problems) == [(2, "period", "future_period")]
    assert "2025-05" in problems[0].message_zh and "2025-04" in problems[0].message_zh


def test_duplicate_row_names_the_first_row():
    problems = monthly(valid_month(), valid_month(hospital_code=OTHER), valid_month(period="2025-3"),
                       valid_month(period="2025年3月"))
    assert where(problems) == [(4, "hospital_code", "duplicate_row"), (5, "hospital_code", "duplicate_row")]
    assert problems[0].message_zh.startswith("第 4 行与第 2 行重复")
    assert problems[1].message_zh.startswith("第 5 行与第 2 行重复")


def test_the_same_hospital_may_report_several_months():
    assert monthly(valid_month(period="2025-02"), valid_month(period="2025-03")) == []


@pytest.mark.parametrize("code, value", [("salary_arrears", -100.0), ("construction_debt", "(5,000.00)"),
                                         ("nurses", -1)])
def test_negative_value(code, value):
    assert where(monthly(valid_month(**{code: value}))) == [(2, code, "negative_value")]


# Each mutation breaks exactly one identity of the spec; the problem points at that column.
IDENTITY_BREAKS = [
    ({"inpatient_revenue": 3_999_900.00}, "medical_revenue"),
    ({"total_revenue": 11_500_100.00}, "total_revenue"),
    ({"lab_revenue": 6_000_000.00}, "medical_revenue"),  # the breakdown exceeds 医疗收入
    ({"total_expense": 9_500_100.00}, "total_expense"),
    ({"personnel_expense": 9_000_100.00}, "personnel_expense"),
    ({"cash": 50_000_100.00}, "cash"),
    ({"current_assets": 100_000_100.00}, "current_assets"),
    ({"current_liabilities": 40_000_100.00}, "current_liabilities"),
    ({"long_term_loans": 40_000_100.00}, "long_term_loans"),
]


@pytest.mark.parametrize("changes, column", IDENTITY_BREAKS)
def test_identity_violation(changes, column):
    assert where(monthly(valid_month(**changes))) == [(2, column, "identity_violation")]


def test_identity_message_shows_the_arithmetic():
    [problem] = monthly(valid_month(inpatient_revenue=3_999_900.00))
    assert problem.message_zh == ("第 2 行：医疗收入 10,000,000.00 ≠ 门急诊收入 6,000,000.00 + 住院收入 3,999,900.00"
                                  "（差 100.00 元）")
    assert problem.message_en == ("Row 2: Medical revenue 10,000,000.00 ≠ Outpatient revenue 6,000,000.00 "
                                  "+ Inpatient revenue 3,999,900.00 (off by 100.00 yuan)")
    assert problem.value == "10000000.00"


def test_inequality_message_says_which_side_is_too_big():
    [problem] = monthly(valid_month(cash=50_000_100.00))
    assert problem.message_zh == ("第 2 行：货币资金 50,000,100.00 > 流动资产 50,000,000.00（超出 100.00 元），"
                                  "货币资金不应大于流动资产")


@pytest.mark.parametrize("difference, ok", [(1.00, True), (0.99, True), (1.01, False)])
def test_identities_have_a_tolerance_of_one_yuan(difference, ok):
    problems = monthly(valid_month(inpatient_revenue=4_000_000.00 - difference))
    assert (problems == []) is ok


# --- Registry ---------------------------------------------------------------------------------


def registry_row(**changes: object) -> dict[str, object]:
    return {"hospital_code": UNREGISTERED, "name": "绿园区妇幼保健院", "adcode": "220106", "level": "二级甲等",
            "category": "妇幼保健院", "affiliation": "县属", "authority": "卫生健康委", "is_pilot": "否",
            "is_budget_managed": "否", "alliance_lead_code": HOSPITAL, **changes}


def registry(*rows: dict[str, object], **ctx: object) -> list[Problem]:
    return check("registry", *rows, **ctx)


def test_a_valid_registry_may_add_new_hospitals():
    lead = registry_row(hospital_code=uscc.make("220112", "41234571"), alliance_lead_code="")
    member = registry_row(hospital_code=uscc.make("220113", "41234572"),
                          alliance_lead_code=lead["hospital_code"])  # a lead that is new in the same file
    assert registry(registry_row(), lead, member) == []


@pytest.mark.parametrize("adcode", ["220100", "999999", "2201"])  # a prefecture, unknown, not 6 digits
def test_unknown_adcode(adcode):
    assert where(registry(registry_row(adcode=adcode))) == [(2, "adcode", "unknown_adcode")]


def test_registry_name_must_not_be_empty():
    assert where(registry(registry_row(name="  "))) == [(2, "name", "missing_value")]


def test_alliance_lead_code_must_be_valid():
    assert where(registry(registry_row(alliance_lead_code="12220102412345670X"))) == [
        (2, "alliance_lead_code", "bad_hospital_code")]


def test_alliance_lead_must_be_known_or_in_the_file():
    problems = registry(registry_row(alliance_lead_code=uscc.make("220122", "41234573")))
    assert where(problems) == [(2, "alliance_lead_code", "unknown_hospital")]


def test_alliance_lead_is_not_the_hospital_itself():
    assert where(registry(registry_row(alliance_lead_code=UNREGISTERED))) == [
        (2, "alliance_lead_code", "alliance_lead_self")]


def test_registry_duplicate_hospital_code():
    problems = registry(registry_row(), registry_row(name="另一个名字"))
    assert where(problems) == [(3, "hospital_code", "duplicate_row")]
    assert problems[0].message_zh.startswith("第 3 行与第 2 行重复")


# --- Progress -----------------------------------------------------------------------------------


def progress_row(**changes: object) -> dict[str, object]:
    return {"hospital_code": HOSPITAL, "period": "2025-03", "ops_committee": "是", "ops_department": "是",
            "chief_accountant": "否", "ops_platform_status": "建设中", "pilot_projects_year": 2,
            "optimized_processes": 10, "caliber_mapping": "进行中", "risk_register": "是",
            "internal_control_review": "否", **changes}


def test_progress_rules():
    assert check("progress", progress_row()) == []
    problems = check("progress", progress_row(hospital_code=UNREGISTERED, period="2025-06", risk_register=""))
    assert where(problems) == [(2, "hospital_code", "unknown_hospital"), (2, "period", "future_period"),
                               (2, "risk_register", "missing_value")]


# --- Plausibility warnings (monthly, against the hospital's own history) ---------------------------


def history(*months: dict[str, object]) -> pd.DataFrame:
    """The stored current values of earlier months, as build_context reads them."""
    frame = pd.DataFrame(months)
    numbers = [c for c in frame.columns if c not in ("hospital_code", "period")]
    return frame.astype({c: "float64" for c in numbers})


def warnings_of(problems: list[Problem]) -> list[tuple[int | None, str | None, str]]:
    assert all(p.severity == "warning" for p in problems)
    return where(problems)


def test_no_history_no_warnings():
    odd = valid_month(energy_expense=200.00, open_beds=5000)
    assert monthly(odd) == []
    assert monthly(odd, history=history()) == []  # a hospital's first month


def test_unit_slip_smaller():
    problems = monthly(valid_month(energy_expense=200.00),  # typed in 千元
                       history=history(valid_month(period="2025-02")))
    assert warnings_of(problems) == [(2, "energy_expense", "unit_slip")]
    assert "千分之一" in problems[0].message_zh and "2025-02" in problems[0].message_zh


def test_unit_slip_larger():
    problems = monthly(valid_month(), history=history(valid_month(period="2025-02", energy_expense=200.00)))
    assert warnings_of(problems) == [(2, "energy_expense", "unit_slip")]
    assert "1000 倍" in problems[0].message_zh


def test_no_unit_slip_for_a_hundredfold_change_or_without_last_month():
    assert monthly(valid_month(energy_expense=2_000.00), history=history(valid_month(period="2025-02"))) == []
    assert monthly(valid_month(energy_expense=200.00), history=history(valid_month(period="2025-01"))) == []


def test_last_month_may_be_in_the_same_file():
    problems = monthly(valid_month(period="2025-02"), valid_month(energy_expense=200.00), history=history())
    assert warnings_of(problems) == [(3, "energy_expense", "unit_slip")]


def test_the_file_replaces_history_for_the_same_month():
    # A corrected February in the file is compared with, not the stored February.
    stored = history(valid_month(period="2025-02", energy_expense=200.00))
    assert monthly(valid_month(period="2025-02"), valid_month(), history=stored) == []


@pytest.mark.parametrize("beds, warned", [(650, True), (350, True), (580, False), (420, False)])
def test_beds_jump(beds, warned):
    problems = monthly(valid_month(open_beds=beds), history=history(valid_month(period="2025-02")))
    assert warnings_of(problems) == ([(2, "open_beds", "beds_jump")] if warned else [])


def months_before(period: str, n: int) -> list[str]:
    return [str(p) for p in pd.period_range(end=pd.Period(period, "M") - 1, periods=n, freq="M")]


def visits_history(n: int, visits: list[int] | None = None) -> pd.DataFrame:
    """*n* months before 2025-03 with outpatient visits wobbling a few per cent."""
    visits = visits or [30_000 + (600 if i % 2 else -500) + 100 * (i % 3) for i in range(n)]
    return history(*[valid_month(period=p, outpatient_visits=v) for p, v in zip(months_before("2025-03", n), visits)])


def test_unusual_change_against_the_hospitals_own_history():
    problems = monthly(valid_month(outpatient_visits=60_000), history=visits_history(12))
    assert warnings_of(problems) == [(2, "outpatient_visits", "unusual_change")]
    assert "增加了" in problems[0].message_zh


def test_usual_changes_are_not_warned():
    assert monthly(valid_month(outpatient_visits=31_500), history=visits_history(12)) == []


def test_unusual_change_needs_six_months_of_changes():
    assert monthly(valid_month(outpatient_visits=60_000), history=visits_history(6)) == []  # 5 changes
    assert len(monthly(valid_month(outpatient_visits=60_000), history=visits_history(7))) == 1  # 6 changes


def test_a_flat_history_does_not_make_every_small_change_unusual():
    flat = visits_history(12, [30_000] * 12)
    assert monthly(valid_month(outpatient_visits=33_000), history=flat) == []  # +10 %
    assert len(monthly(valid_month(outpatient_visits=90_000), history=flat)) == 1  # ×3


# --- Never raises ---------------------------------------------------------------------------------

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CELL = st.one_of(st.text(max_size=20), st.sampled_from(["", "-", "1,234.5", "(1.00)", "2025年13月", "1e400",
                                                        "99999999999999999999", "是", HOSPITAL, "2025.1"]))


@SETTINGS
@given(code=st.sampled_from([f.code for f in FIELDS["monthly"]]), text=CELL)
def test_arbitrary_monthly_cell_text(code, text):
    rows = [valid_month(period="2025-02"), valid_month(**{code: text})]
    parsed = parse(file("monthly", *rows), "x.csv")
    problems = parsed.problems + validate(parsed, context(history=visits_history(8)))
    assert all(isinstance(p, Problem) and p.message_zh and p.message_en for p in problems)


@SETTINGS
@given(kind=st.sampled_from(["progress", "registry"]), code=st.integers(0, 10), text=CELL)
def test_arbitrary_progress_and_registry_cell_text(kind, code, text):
    base = progress_row() if kind == "progress" else registry_row()
    codes = [f.code for f in FIELDS[kind]]
    row = {**base, codes[code % len(codes)]: text}
    parsed = parse(file(kind, row, base), "x.csv")
    problems = parsed.problems + validate(parsed, context(allowed_hospitals={HOSPITAL}))
    assert all(isinstance(p, Problem) for p in problems)
