"""Submission format v2 (spec/submission-format.md, "v2 additions"), end to end through ``ingest_bytes``.

The optional monthly columns, the registry's budget_authority and new affiliations, the progress
report's campaign_optimized_processes: their identities (errors with row and column, the file stored
whole or not at all), the one bound that only warns, the long Chinese labels, and that a v1 file
stays valid and means what it meant. Expected values are worked out by hand from MONTH and V2.
"""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from test_store import (
    A,
    B,
    C,
    MONTH,
    PROGRESS,
    REGISTRY_HEADER,
    REGISTRY_ROWS,
    V1_MONTHLY,
    assert_rejected,
    ingest,
    month,
    monthly,
    progress,
    query,
    registry,
    snapshot,
    table,
    where,
)

from opsmon.ingest import template
from opsmon.ingest.fields import FIELDS, MONTHLY_V2
from opsmon.ingest.parse import parse

FIXTURES = Path(__file__).parent / "fixtures"

# A's optional v2 columns, as typed (the stored fixtures' V2_A). Against MONTH: 医疗收入 10,000,000.89,
# 药品收入 3,000,000.00, 住院收入 4,000,000.44, 流动资产 50,000,000.00, 流动负债 20,000,000.00,
# 负债总额 40,000,000.00 — every v2 identity holds.
V2 = {
    "medical_service_revenue": "2,500,000.00", "medical_activity_revenue": "10,200,000.00",
    "medical_activity_expense": "9,300,000.00", "discharged_patient_revenue": "4,100,000.00",
    "herbal_pieces_revenue": "300,000.00", "insurance_receivable": "6,000,000.00",
    "supplier_payable": "4,500,000.00", "short_term_loans": "2,000,000.00", "long_term_payables": "1,200,000.00",
    "inventory": "3,000,000.00",
}
V2_STORED = (Decimal("2500000.00"), Decimal("10200000.00"), Decimal("9300000.00"), Decimal("4100000.00"),
             Decimal("300000.00"), Decimal("6000000.00"), Decimal("4500000.00"), Decimal("2000000.00"),
             Decimal("1200000.00"), Decimal("3000000.00"))
V2_COLUMNS = ", ".join(MONTHLY_V2)
REGISTRY_V2_HEADER = [*REGISTRY_HEADER, "预算管理级别"]


def month_v2(**changes: str) -> dict[str, str]:
    return {**MONTH, **V2, **changes}


@pytest.fixture
def registered(engine):
    """The v1 registry (A: 预算管理医院 = 是; B, C: 否), nothing else."""
    assert ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv").status == "accepted"
    return engine


def stored_v2(engine, code: str) -> list[tuple]:
    return query(engine, f"SELECT {V2_COLUMNS} FROM monthly_values WHERE hospital_code = :c AND is_current", c=code)


# --- v1 files stay valid and mean what they meant ----------------------------------------------------------


def test_the_v2_columns_are_the_ten_optional_ones_after_the_v1_columns():
    assert MONTHLY_V2 == ("medical_service_revenue", "medical_activity_revenue", "medical_activity_expense",
                          "discharged_patient_revenue", "herbal_pieces_revenue", "insurance_receivable",
                          "supplier_payable", "short_term_loans", "long_term_payables", "inventory")
    codes = [f.code for f in FIELDS["monthly"]]
    assert codes[:35] == [f.code for f in V1_MONTHLY] and codes[35:] == list(MONTHLY_V2)
    assert not any(f.required for f in FIELDS["monthly"] if f.code in MONTHLY_V2)


@pytest.mark.parametrize("name", ["monthly_excel_gbk.csv", "monthly_title_note.xlsx"])
def test_a_stored_v1_file_is_accepted_and_leaves_the_v2_columns_unreported(registered, name):
    result = ingest(registered, (FIXTURES / name).read_bytes(), name)
    assert (result.status, result.rows, result.revisions_created, result.errors) == ("accepted", 2, 2, [])
    assert query(registered, "SELECT hospital_code, total_revenue, salary_arrears FROM monthly_values "
                             "ORDER BY hospital_code") == [(A, Decimal("11500000.89"), Decimal("0.00")),
                                                           (B, Decimal("11500000.89"), Decimal("0.00"))]
    assert stored_v2(registered, A) == stored_v2(registered, B) == [(None,) * 10]  # NULL: not reported, never 0


def test_a_v1_progress_file_leaves_the_campaign_count_unreported(registered):
    fields = [f for f in FIELDS["progress"] if f.code != "campaign_optimized_processes"]
    content = table([[f.header for f in fields], [PROGRESS[f.code] for f in fields]])
    assert ingest(registered, content, "进展.csv").status == "accepted"
    assert query(registered, "SELECT optimized_processes, campaign_optimized_processes FROM progress_values") == [
        (10, None)]


# --- v2 files: accepted and stored --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["monthly_v2_gbk.csv", "monthly_v2_title.xlsx"])
def test_a_stored_v2_file_is_accepted_and_its_optional_columns_stored(registered, name):
    result = ingest(registered, (FIXTURES / name).read_bytes(), name)
    assert (result.status, result.rows, result.revisions_created, result.errors) == ("accepted", 2, 2, [])
    assert stored_v2(registered, A) == [V2_STORED]
    assert stored_v2(registered, B) == [(None,) * 10]  # B left them empty (or "-"): 近似 downstream
    assert query(registered, "SELECT total_revenue, doctors FROM monthly_values WHERE hospital_code = :a",
                 a=A) == [(Decimal("11500000.89"), 200)]


def test_the_v2_gbk_csv_and_the_v2_workbook_hold_the_same_values(registered):
    assert ingest(registered, (FIXTURES / "monthly_v2_gbk.csv").read_bytes(), "快报.csv").status == "accepted"
    again = ingest(registered, (FIXTURES / "monthly_v2_title.xlsx").read_bytes(), "快报.xlsx")
    assert (again.status, again.revisions_created) == ("unchanged", 0)


def test_a_v2_file_adding_the_optional_columns_to_a_stored_v1_month_is_a_new_revision(registered):
    ingest(registered, monthly(month()), "v1.csv")
    result = ingest(registered, monthly(month_v2(), v2=True), "v2.csv")
    assert (result.status, result.revisions_created) == ("accepted", 1)
    assert query(registered, "SELECT revision, is_current FROM monthly_values ORDER BY revision") == [
        (1, False), (2, True)]
    assert stored_v2(registered, A) == [V2_STORED]


def test_an_empty_optional_cell_is_stored_as_missing_and_not_checked(registered):
    # 医疗服务收入 empty: the bound on it is not checked; 库存物资 filled: stored.
    result = ingest(registered, monthly(month_v2(medical_service_revenue="", herbal_pieces_revenue="—"), v2=True),
                    "快报.csv")
    assert (result.status, result.errors) == ("accepted", [])
    row = stored_v2(registered, A)[0]
    assert (row[0], row[4], row[9]) == (None, None, Decimal("3000000.00"))


def test_only_some_v2_columns_may_be_sent(registered):
    extra = {"库存物资（元）": "3,000,000.00", "短期借款": "2,000,000.00"}
    result = ingest(registered, monthly(month(), extra=extra), "快报.csv")
    assert (result.status, result.errors, result.warnings) == ("accepted", [], [])
    assert stored_v2(registered, A) == [(None,) * 7 + (Decimal("2000000.00"), None, Decimal("3000000.00"))]


# --- v2 identities: errors with row and column; nothing stored -------------------------------------------------

# (column, a value 1.01 元 over its bound, a value 1.00 元 over it: within the tolerance)
BROKEN = [
    ("medical_service_revenue", "10,000,001.90", "10,000,001.89"),  # 医疗收入 10,000,000.89
    ("herbal_pieces_revenue", "3,000,001.01", "3,000,001.00"),  # 药品收入 3,000,000.00
    ("inventory", "50,000,001.01", "50,000,001.00"),  # 流动资产 50,000,000.00
    ("short_term_loans", "20,000,001.01", "20,000,001.00"),  # 流动负债 20,000,000.00
    ("salary_arrears", "40,000,001.01", "40,000,001.00"),  # 负债总额 40,000,000.00
    ("construction_debt", "40,000,001.01", "40,000,001.00"),  # 负债总额 40,000,000.00
]


@pytest.mark.parametrize("column, value, at_tolerance", BROKEN)
def test_a_broken_v2_identity_rejects_the_file_at_its_row_and_column(registered, column, value, at_tolerance):
    ok = month_v2(hospital_code=B)
    content = monthly(ok, month_v2(**{column: value}), v2=True, encoding="gbk")
    result = assert_rejected(registered, content, [(3, column, "identity_violation")])
    assert "超出 1.01 元" in result.errors[0].message_zh and "by 1.01 yuan" in result.errors[0].message_en


@pytest.mark.parametrize("column, value, at_tolerance", BROKEN)
def test_a_v2_identity_allows_one_yuan(registered, column, value, at_tolerance):
    result = ingest(registered, monthly(month_v2(**{column: at_tolerance}), v2=True), "快报.csv")
    assert (result.status, result.errors) == ("accepted", [])


def test_the_message_of_a_broken_v2_identity_shows_the_arithmetic(registered):
    result = ingest(registered, monthly(month_v2(herbal_pieces_revenue="3,000,001.01"), v2=True), "快报.csv")
    (e,) = result.errors
    assert e.message_zh == "第 2 行：中药饮片收入 3,000,001.01 > 药品收入 3,000,000.00（超出 1.01 元），中药饮片收入不应大于药品收入"
    assert e.message_en == "Row 2: Herbal pieces revenue 3,000,001.01 > Drug revenue 3,000,000.00 (by 1.01 yuan)"
    assert e.value == "3,000,001.01"


def test_the_v1_columns_bounded_in_v2_are_checked_in_a_v1_file_too(registered):
    # salary_arrears and construction_debt are v1 (required) columns: a v1 file carries them.
    assert_rejected(registered, monthly(month(salary_arrears="40,000,001.01", construction_debt="40,000,002.00")),
                    [(2, "construction_debt", "identity_violation"), (2, "salary_arrears", "identity_violation")])


def test_a_v2_workbook_with_title_rows_and_a_broken_identity_is_rejected_at_its_sheet_row(registered):
    wb = openpyxl.load_workbook(FIXTURES / "monthly_v2_title.xlsx")
    ws = wb.worksheets[0]
    column = 1 + [f.code for f in FIELDS["monthly"]].index("inventory")
    ws.cell(row=4, column=column, value=60_000_000)  # 流动资产 50,000,000.00
    buf = io.BytesIO()
    wb.save(buf)
    assert_rejected(registered, buf.getvalue(), [(4, "inventory", "identity_violation")], name="快报.xlsx")


# --- The bound that only warns ----------------------------------------------------------------------------------


def test_discharged_patient_revenue_over_one_and_a_half_inpatient_revenue_warns_and_is_stored(registered):
    # 住院收入 4,000,000.44 × 1.5 = 6,000,000.66; 6,000,001.67 is 1.01 元 over.
    result = ingest(registered, monthly(month_v2(discharged_patient_revenue="6,000,001.67"), v2=True), "快报.csv")
    assert (result.status, result.revisions_created, result.errors) == ("accepted", 1, [])
    assert where(result.warnings) == [(2, "discharged_patient_revenue", "bound_exceeded")]
    assert result.warnings[0].message_zh == (
        "第 2 行“出院患者住院费用”为 6,000,001.67 元，超过住院收入 4,000,000.44 元的 1.5 倍（6,000,000.66 元），"
        "请核对（出院患者费用可含以前月份发生的费用，本提示不影响上报）")
    assert query(registered, "SELECT discharged_patient_revenue FROM monthly_values") == [(Decimal("6000001.67"),)]
    assert query(registered, "SELECT warnings -> 0 ->> 'code' FROM submissions WHERE kind = 'monthly'") == [
        ("bound_exceeded",)]


def test_discharged_patient_revenue_up_to_one_and_a_half_inpatient_revenue_is_quiet(registered):
    result = ingest(registered, monthly(month_v2(discharged_patient_revenue="6,000,001.66"), v2=True), "快报.csv")
    assert (result.status, result.errors, result.warnings) == ("accepted", [], [])


# --- Progress: campaign_optimized_processes ------------------------------------------------------------------------


def test_campaign_processes_above_all_processes_are_an_error(registered):
    result = assert_rejected(registered, progress({**PROGRESS, "campaign_optimized_processes": "11"}),
                             [(2, "campaign_optimized_processes", "identity_violation")], name="进展.csv")
    label = "本轮活动以来优化业务流程数（2024年1月起）"
    assert result.errors[0].message_zh == (
        f"第 2 行：{label} 11 > 累计优化业务流程数 10（超出 1 个），{label}不应大于累计优化业务流程数")
    assert result.errors[0].message_en == (
        "Row 2: Processes optimised since 2024-01 11 > Optimised processes (cumulative) 10 (by 1)")


@pytest.mark.parametrize("cell, stored", [("10", 10), ("0", 0), ("", None)])
def test_campaign_processes_up_to_all_processes_are_stored(registered, cell, stored):
    result = ingest(registered, progress({**PROGRESS, "campaign_optimized_processes": cell}), "进展.csv")
    assert (result.status, result.errors) == ("accepted", [])
    assert query(registered, "SELECT campaign_optimized_processes FROM progress_values") == [(stored,)]


# --- Registry: budget_authority and affiliations ----------------------------------------------------------------------


def registry_v2(*rows: list[str]) -> bytes:
    return table([REGISTRY_V2_HEADER, *rows])


def authority(engine) -> list[tuple[str, str, bool]]:
    return query(engine, "SELECT hospital_code, budget_authority, is_budget_managed FROM hospitals "
                         "ORDER BY hospital_code")


def test_a_v1_registry_means_what_it_meant_budget_managed_is_provincial(engine):
    # REGISTRY_ROWS: A 预算管理医院 = 是, B and C 否; no 预算管理级别 column.
    assert ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv").status == "accepted"
    assert authority(engine) == [(A, "省", True), (B, "无", False), (C, "无", False)]


@pytest.mark.parametrize("level, flag, stored", [
    ("国家", "是", ("国家", True)),
    ("省", "是", ("省", True)),
    ("无", "否", ("无", False)),
    ("", "是", ("省", True)),  # the cell left empty: v1's meaning
    ("", "否", ("无", False)),
])
def test_a_v2_registry_stores_the_budget_authority(engine, level, flag, stored):
    row = [*REGISTRY_ROWS[0][:8], flag, "", level]
    result = ingest(engine, registry_v2(row), "机构名录.csv")
    assert (result.status, result.errors) == ("accepted", [])
    assert authority(engine) == [(A, *stored)]


@pytest.mark.parametrize("level, flag, should", [("国家", "否", "是"), ("省", "否", "是"), ("无", "是", "否")])
def test_a_budget_authority_that_contradicts_budget_managed_is_an_error(engine, level, flag, should):
    rows = [[*REGISTRY_ROWS[1][:8], "否", "", "无"], [*REGISTRY_ROWS[0][:8], flag, "", level]]
    result = assert_rejected(engine, registry_v2(*rows), [(3, "budget_authority", "budget_authority_conflict")],
                             name="机构名录.csv")
    assert result.errors[0].message_zh == (
        f"第 3 行“预算管理级别”为“{level}”，但“预算管理医院”填的是“{flag}”，两者矛盾：国家或省预算管理医院的"
        f"“预算管理医院”应填“是”，预算管理级别为“无”时应填“否”。按“{level}”应填“{should}”，请核对")
    assert "contradicts 预算管理医院" in result.errors[0].message_en
    assert authority(engine) == []


def test_a_v1_registry_does_not_demote_a_national_budget_managed_hospital(engine):
    assert ingest(engine, registry_v2([*REGISTRY_ROWS[0][:8], "是", "", "国家"]), "名录v2.csv").status == "accepted"
    again = ingest(engine, registry(REGISTRY_ROWS[0]), "名录v1.csv")  # 是, no level: agrees with 国家
    assert (again.status, again.revisions_created) == ("unchanged", 0)
    assert authority(engine) == [(A, "国家", True)]
    no_longer = ingest(engine, registry([*REGISTRY_ROWS[0][:8], "否", ""]), "名录v1.csv")
    assert no_longer.status == "accepted"
    assert authority(engine) == [(A, "无", False)]


@pytest.mark.parametrize("affiliation", ["中央属", "委属委管"])
def test_the_v2_affiliations_are_accepted(engine, affiliation):
    row = [A, "吉林大学第一医院", "220102", "三级甲等", "综合医院", affiliation, "卫生健康委", "否", "是", "", "国家"]
    assert ingest(engine, registry_v2(row), "机构名录.csv").status == "accepted"
    assert query(engine, "SELECT affiliation, budget_authority FROM hospitals") == [(affiliation, "国家")]


def test_an_unknown_budget_authority_is_an_error(engine):
    row = [*REGISTRY_ROWS[0][:8], "是", "", "市"]
    assert_rejected(engine, registry_v2(row), [(2, "budget_authority", "bad_value")], name="机构名录.csv")


# --- Header cells: the long labels ---------------------------------------------------------------------------------


def header_file(code: str, cell: str, value: str) -> bytes:
    """A v1 monthly row plus one optional v2 column *code* under the header *cell*."""
    return table([[*(f.header for f in V1_MONTHLY), cell], [*(MONTH[f.code] for f in V1_MONTHLY), value]])


@pytest.mark.parametrize("cell, code", [
    ("医疗服务收入（挂号、床位、诊察、治疗、手术、药事服务、护理等，不含药品、耗材、检查、化验收入）", "medical_service_revenue"),
    ("医疗服务收入（挂号、床位、诊察、治疗、手术、药事服务、护理等，不含药品、耗材、检查、化验收入）（元）",
     "medical_service_revenue"),
    ("医疗服务收入(挂号、床位、诊察、治疗、手术、药事服务、护理等,不含药品、耗材、检查、化验收入)(元)", "medical_service_revenue"),
    (" 医疗服务收入 （挂号、床位、诊察、治疗、手术、药事服务、护理等， 不含药品、耗材、检查、化验收入） （元） ",
     "medical_service_revenue"),
    ("医疗服务收入", "medical_service_revenue"),  # without its own bracketed part, as 能源费用 in v1
    ("医疗服务收入（元）", "medical_service_revenue"),
    ("医疗活动收入（医疗活动收入费用明细表）（元）", "medical_activity_revenue"),
    ("医疗活动费用（医疗活动收入费用明细表）", "medical_activity_expense"),
    ("出院患者住院费用（元）", "discharged_patient_revenue"),
    ("中药饮片收入", "herbal_pieces_revenue"),
    ("应收医疗款—医保（元）", "insurance_receivable"),
    ("应收医疗款-医保", "insurance_receivable"),  # a typed hyphen for the label's dash
    ("应收医疗款——医保(元)", "insurance_receivable"),
    ("应付账款—药品及卫生材料（元）", "supplier_payable"),
    ("短期借款(元)", "short_term_loans"),
    ("长期应付款（含融资租赁）（元）", "long_term_payables"),
    ("长期应付款", "long_term_payables"),
    ("库存物资（单位：元）", "inventory"),
    ("inventory", "inventory"),
])
def test_a_v2_column_is_found_by_its_long_label(cell, code):
    p = parse(header_file(code, cell, "1,234.50"), "x.csv")
    assert p.problems == []
    assert p.columns[code] == cell
    assert p.frame.at[2, code] == 1234.5


def test_the_progress_and_registry_v2_columns_are_found_by_their_labels():
    fields = FIELDS["progress"]
    header = [f.label for f in fields[:-1]] + ["本轮活动以来优化业务流程数（2024年1月起）（个）"]
    p = parse(table([header, [PROGRESS[f.code] for f in fields[:-1]] + ["7"]]), "x.csv")
    assert (p.kind, p.problems, p.frame.at[2, "campaign_optimized_processes"]) == ("progress", [], 7)
    p = parse(registry_v2([*REGISTRY_ROWS[0][:8], "是", "", "国家"]), "x.csv")
    assert (p.kind, p.problems, p.frame.at[2, "budget_authority"]) == ("registry", [], "国家")


@pytest.mark.parametrize("cell, code, unit", [
    ("收入合计（万元）", "total_revenue", "万元"),
    ("医疗服务收入（千元）", "medical_service_revenue", "千元"),
    ("库存物资(单位:万元)", "inventory", "万元"),
    ("门急诊人次（万人次）", "outpatient_visits", "万人次"),
])
def test_a_column_in_another_unit_is_an_error_never_read_as_yuan(registered, cell, code, unit):
    header = [cell if f.code == code else f.header for f in V1_MONTHLY]
    values = [MONTH[f.code] for f in V1_MONTHLY]
    if code not in MONTH:
        header, values = [*header, cell], [*values, "1,150"]
    result = assert_rejected(registered, table([header, values]), [(1, code, "wrong_unit")])
    own = {"outpatient_visits": "人次"}.get(code, "元")
    label = FIELDS["monthly"][[f.code for f in FIELDS["monthly"]].index(code)].label
    assert result.errors[0].message_zh.startswith(f"第 1 行第 ")
    assert f"“{cell}”的单位是“{unit}”，但“{label}”应以“{own}”为单位填报" in result.errors[0].message_zh


def test_a_synonym_of_a_columns_own_unit_is_still_accepted():
    header = ["实际开放床位数（床）" if f.code == "open_beds" else f.header for f in V1_MONTHLY]
    p = parse(table([header, [MONTH[f.code] for f in V1_MONTHLY]]), "x.csv")
    assert p.problems == [] and p.frame.at[2, "open_beds"] == 500


# --- The templates: the explanation sheet and a filled-in round trip ------------------------------------------


SALARY_ARREARS = ("应付职工的工资、津贴补贴、绩效工资、社会保险费和住房公积金等，在月末已超过应付日期仍未支付的部分"
                  "（应付未付且已逾期）")


def guide(kind: str) -> dict[str, str]:
    """The explanation sheet's note by column code (and the free rows below the table by their first cell)."""
    wb = openpyxl.load_workbook(io.BytesIO(template.xlsx(kind, "2025-03")))
    rows = list(wb["填报说明"].iter_rows(min_row=2, values_only=True))
    return {(r[1] or r[0]): r[3] for r in rows if any(r)}


def test_the_monthly_guide_defines_salary_arrears():
    assert SALARY_ARREARS in guide("monthly")["salary_arrears"]


@pytest.mark.parametrize("code", MONTHLY_V2)
def test_the_monthly_guide_marks_the_v2_columns_optional_and_approximate_when_empty(code):
    note = guide("monthly")[code]
    assert "选填" in note and "留空时相关指标按原口径近似计算，并标注“近似”" in note


def test_the_monthly_guide_explains_approximate_values():
    note = guide("monthly")["关于“近似”"]
    assert "按原有口径近似计算" in note and "地区数值也标注“近似”" in note


def test_the_registry_and_progress_guides_explain_their_v2_columns():
    authority_note = guide("registry")["budget_authority"]
    assert "选填" in authority_note and "可选：国家、省、无" in authority_note
    assert "不填（无此列或留空）时，“预算管理医院”为“是”即视为“省”" in authority_note
    campaign = guide("progress")["campaign_optimized_processes"]
    assert "选填" in campaign and "2024年1月" in campaign and "近似" in campaign


def filled(kind: str, row: list[object]) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(template.xlsx(kind, "2025-03")))
    for col, value in enumerate(row, 1):
        wb.worksheets[0].cell(row=template.HEADER_ROW + 1, column=col, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_filled_in_v2_templates_round_trip_through_ingest(engine):
    reg = filled("registry", [A, "长春市第一医院", "220102", "三级甲等", "综合医院", "委属委管", "卫生健康委", "否", "是",
                              None, "国家"])
    assert ingest(engine, reg, "机构名录.xlsx").status == "accepted"
    assert query(engine, "SELECT affiliation, budget_authority, is_budget_managed FROM hospitals") == [
        ("委属委管", "国家", True)]

    numbers = {k: float(v.replace(",", "")) for k, v in month_v2().items()
               if k not in ("hospital_code", "period") and v != "-"}
    result = ingest(engine, filled("monthly", [A, "2025-03", *(numbers.get(f.code) for f in FIELDS["monthly"][2:])]),
                    "快报.xlsx")
    assert (result.status, result.errors, result.warnings) == ("accepted", [], [])
    assert stored_v2(engine, A) == [V2_STORED]

    prog = filled("progress", [A, "2025-03", "是", "是", "否", "已应用", 2, 10, "已完成", "是", "否", 6])
    result = ingest(engine, prog, "进展.xlsx")
    assert (result.status, result.errors) == ("accepted", [])
    assert query(engine, "SELECT ops_platform_status, optimized_processes, campaign_optimized_processes "
                         "FROM progress_values") == [("in_use", 10, 6)]


def test_one_broken_row_keeps_the_good_rows_of_a_v2_file_out_too(registered):
    before = snapshot(registered)
    bad = ingest(registered, monthly(month_v2(), month_v2(hospital_code=B, inventory="60,000,000.00"), v2=True),
                 "快报.csv")
    assert bad.status == "rejected" and where(bad.errors) == [(3, "inventory", "identity_violation")]
    assert snapshot(registered) == before and stored_v2(registered, A) == []
