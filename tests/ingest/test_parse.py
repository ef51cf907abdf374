"""parse(): every file form the contract (spec/submission-format.md) allows, and every way a file is refused.

Stored fixtures (tests/ingest/fixtures, written by make_fixtures.py) are files as hospitals really
produce them; the small helpers below write variations of them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsmon.ingest.fields import FIELDS, MONTHLY_V2
from opsmon.ingest.parse import Parsed, parse
from opsmon.ingest.problems import errors, warnings

FIXTURES = Path(__file__).parent / "fixtures"
HOSPITAL_A = "12220102412345670G"
HOSPITAL_B = "12220103412345689U"
# The monthly columns of a v1 file (contract v1: no optional v2 columns); MONTH below is one.
V1_MONTHLY = [f for f in FIELDS["monthly"] if f.code not in MONTHLY_V2]

# A valid month in plain numbers (every identity holds), by field code.
MONTH = {
    "hospital_code": HOSPITAL_A, "period": "2025-03",
    "total_revenue": "1150", "medical_revenue": "1000", "outpatient_revenue": "600", "inpatient_revenue": "400",
    "drug_revenue": "300", "consumables_revenue": "100", "exam_revenue": "100", "lab_revenue": "100",
    "fiscal_subsidy_revenue": "100", "other_revenue": "50", "total_expense": "950", "business_expense": "800",
    "admin_expense": "100", "other_expense": "50", "personnel_expense": "400", "drug_expense": "200",
    "consumables_expense": "50", "depreciation_expense": "30", "energy_expense": "20", "total_assets": "10000",
    "current_assets": "5000", "cash": "2000", "total_liabilities": "4000", "current_liabilities": "2000",
    "long_term_loans": "1000", "construction_debt": "500", "salary_arrears": "0", "outpatient_visits": "1000",
    "discharges": "100", "inpatient_bed_days": "900", "open_beds": "50", "doctors": "20", "nurses": "30",
}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def csv_file(rows: list[list[str]], *, encoding: str = "utf-8", newline: str = "\r\n") -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue().encode(encoding)


def monthly_csv(*months: dict[str, str], header: list[str] | None = None, above: int = 0) -> bytes:
    """A v1 monthly CSV with Chinese headers (units included), *above* title rows, one row per month."""
    codes = list(MONTH)
    head = header or [f.header for f in V1_MONTHLY]
    rows = [["月度经济运行快报"]] * above + [head] + [[m.get(c, "") for c in codes] for m in months]
    return csv_file(rows)


def month(**changes: str) -> dict[str, str]:
    return {**MONTH, **changes}


def cell(value: str, code: str) -> Parsed:
    """Parse a one-row monthly file whose *code* cell holds *value* (header on row 1, data on row 2)."""
    return parse(monthly_csv(month(**{code: value})), "快报.csv")


def xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def codes(p: Parsed) -> list[str]:
    return [x.code for x in p.problems]


def where(p: Parsed) -> list[tuple[int | None, str | None, str]]:
    return [(x.row, x.column, x.code) for x in p.problems]


# --- Files as hospitals produce them -------------------------------------------------------------


def test_gbk_csv_saved_by_excel_on_chinese_windows():
    p = parse(fixture("monthly_excel_gbk.csv"), "3月快报.csv")
    assert p.problems == []
    assert p.kind == "monthly"
    assert p.header_row == 2  # the title row above is skipped
    assert list(p.frame.index) == [3, 4]
    assert p.columns["total_revenue"] == "收入合计（元）"
    assert p.frame.at[3, "total_revenue"] == 11_500_000.89  # "11,500,000.89"
    assert p.frame["period"].tolist() == ["2025-03", "2025-03"]  # "2025年3月" and "2025/3/1"
    assert pd.isna(p.frame.at[3, "depreciation_expense"])  # "-" is missing, never zero
    assert p.frame.at[3, "outpatient_visits"] == 30_000
    assert p.raw.at[3, "total_revenue"] == "11,500,000.89"


def test_utf8_csv_with_bom_lf_and_column_codes():
    p = parse(fixture("monthly_utf8_bom.csv"), "export.csv")
    assert p.problems == []
    assert (p.kind, p.header_row, list(p.frame.index)) == ("monthly", 1, [2])
    assert p.columns["hospital_code"] == "hospital_code"  # the BOM is not part of the first header
    assert p.frame.at[2, "doctors"] == 200  # "２００"
    assert p.frame[["drug_expense", "depreciation_expense"]].isna().all(axis=None)  # 无, —


def test_xlsx_with_merged_title_and_note_rows_numeric_and_date_cells():
    p = parse(fixture("monthly_title_note.xlsx"), "快报.xlsx")
    assert p.problems == []
    assert (p.kind, p.header_row) == ("monthly", 3)
    assert list(p.frame.index) == [4, 6]  # the blank row 5 is skipped, numbers stay true
    assert p.frame["period"].tolist() == ["2025-03", "2025-03"]  # a date cell gives its month
    assert p.frame["fiscal_subsidy_revenue"].tolist() == [1_000_000.00, 1_000_000.00]  # 999999.9999999999
    assert p.frame["doctors"].tolist() == [200, 200]  # 200 and 200.0


def test_column_types():
    p = parse(fixture("monthly_excel_gbk.csv"), "x.csv")
    types = {f.type: str(p.frame[f.code].dtype) for f in V1_MONTHLY}
    assert types == {"uscc": "string", "period": "string", "money": "float64", "count": "Int64"}
    assert list(p.frame.columns) == [f.code for f in V1_MONTHLY]  # a v1 file: no v2 columns made up
    assert list(p.raw.columns) == list(p.frame.columns)


def test_progress_booleans_and_enums():
    p = parse(fixture("progress.csv"), "进展.csv")
    assert p.problems == []
    assert p.kind == "progress"
    bools = ["ops_committee", "ops_department", "chief_accountant", "risk_register", "internal_control_review"]
    assert p.frame.loc[2, bools].tolist() == [True] * 5  # 是, Y, √, yes, 1
    assert p.frame.loc[3, bools].tolist() == [False] * 5  # 否, n, ×, FALSE, 0
    assert p.frame["ops_platform_status"].tolist() == ["in_use", "building"]  # label or stored value
    assert p.frame["caliber_mapping"].tolist() == ["done", "in_progress"]
    assert str(p.frame["ops_committee"].dtype) == "boolean"


def test_registry():
    header = ["机构代码", "机构名称", "所在县区代码", "医院等级", "机构类别", "隶属关系", "主管部门",
              "高质量发展试点医院", "预算管理医院", "医联体牵头医院代码"]
    p = parse(csv_file([header, [HOSPITAL_A, " 长春市第一医院 ", "220102", "三级甲等", "综合医院", "市属",
                                 "卫生健康委", "是", "否", ""]]), "名录.csv")
    assert p.problems == []
    assert p.kind == "registry"
    assert p.frame.loc[2, ["name", "adcode", "level"]].tolist() == ["长春市第一医院", "220102", "三级甲等"]
    assert pd.isna(p.frame.at[2, "alliance_lead_code"])


def test_xlsx_is_detected_by_content_not_by_name():
    p = parse(fixture("monthly_title_note.xlsx"), "快报.csv")
    assert p.problems == [] and list(p.frame.index) == [4, 6]


def test_gbk_and_lf_and_given_kind():
    content = monthly_csv(MONTH).decode("utf-8").replace("\r\n", "\n").encode("gb18030")
    p = parse(content, "x.csv", kind="monthly")
    assert p.problems == [] and p.frame.at[2, "total_revenue"] == 1150.0


@pytest.mark.parametrize("text, value", [
    ("1234567.89", 1234567.89),
    ("1,234,567.89", 1234567.89),
    ("１２３", 123.0),
    ("１，２３４．５", 1234.5),
    ("  1150  ", 1150.0),
    ("¥1,150.00", 1150.0),
    ("(1,150.00)", -1150.0),  # Excel's accounting format; negative_value is validate's business
    ("12.500", 12.5),  # trailing zeros are not extra decimals
])
def test_numbers(text, value):
    p = cell(text, "total_revenue")
    assert errors(p.problems) == []
    assert p.frame.at[2, "total_revenue"] == value


@pytest.mark.parametrize("token", ["", "-", "—", "/", "无", "  ", "－", "／"])
def test_missing_tokens_are_missing_never_zero(token):
    p = cell(token, "drug_expense")
    assert p.problems == []
    assert pd.isna(p.frame.at[2, "drug_expense"])


@pytest.mark.parametrize("text", ["2025-03", "2025/03", "202503", "2025年3月", "2025 年 3 月", "2025.03", "2025-3",
                                  "2025-03-01", "2025/3/1", "2025-03-01 00:00:00", "2025年3月1日", "２０２５－０３"])
def test_periods(text):
    p = cell(text, "period")
    assert p.problems == []
    assert p.frame.at[2, "period"] == "2025-03"


def test_excel_number_and_date_cells():
    header = [f.header for f in V1_MONTHLY]
    values: list[object] = [float(v) if f.type == "money" else int(v) if f.type == "count" else v
                            for f, v in zip(V1_MONTHLY, MONTH.values(), strict=True)]
    values[1] = dt.date(2025, 3, 31)
    other = [*values]
    other[1] = 202503  # a period typed as a number
    p = parse(xlsx([header, values, other]), "x.xlsx")
    assert p.problems == []
    assert p.frame["period"].tolist() == ["2025-03", "2025-03"]
    assert p.frame.at[2, "total_revenue"] == 1150.0


@pytest.mark.parametrize("header_cell, code", [
    ("收入合计（元）", "total_revenue"),
    ("收入合计(元)", "total_revenue"),
    (" 收入 合计 （元） ", "total_revenue"),
    ("ＴＯＴＡＬ_ＲＥＶＥＮＵＥ", "total_revenue"),
    ("Total_Revenue", "total_revenue"),
    ("执业（助理）医师数", "doctors"),
    ("执业(助理)医师数（人）", "doctors"),
    ("能源费用（水电气热）", "energy_expense"),
    ("能源费用（水电气热）（元）", "energy_expense"),
    ("能源费用（元）", "energy_expense"),
])
def test_header_cells_by_code_or_label(header_cell, code):
    codes = list(MONTH)
    header = [header_cell if c == code else c for c in codes]
    p = parse(csv_file([header, list(MONTH.values())]), "x.csv")
    assert p.problems == []
    assert p.columns[code] == header_cell


def test_blank_rows_are_ignored_and_row_numbers_stay_true():
    content = csv_file([["标题"], [], list(MONTH), [""] * 3, list(MONTH.values()), [], [" "] * 35,
                        list(month(hospital_code=HOSPITAL_B).values())])
    p = parse(content, "x.csv")
    assert p.problems == []
    assert (p.header_row, list(p.frame.index)) == (3, [5, 8])


def test_a_second_header_row_of_codes_under_the_labels_is_skipped():
    labels = [f.header for f in V1_MONTHLY]
    p = parse(csv_file([labels, list(MONTH), list(MONTH.values())]), "x.csv")
    assert p.problems == [] and list(p.frame.index) == [3]


def test_unknown_column_is_a_warning_and_ignored():
    p = parse(csv_file([[*MONTH, "备注"], [*MONTH.values(), "已核对"]]), "x.csv")
    assert where(p) == [(1, None, "unknown_column")]
    assert warnings(p.problems) == p.problems
    assert "备注" in p.problems[0].message_zh and "AJ" in p.problems[0].message_zh
    assert "备注" not in p.frame


def test_optional_columns_may_be_left_out():
    codes = [c for c in MONTH if c not in ("drug_expense", "consumables_expense", "depreciation_expense")]
    p = parse(csv_file([codes, [MONTH[c] for c in codes]]), "x.csv")
    assert p.problems == []
    assert "drug_expense" not in p.frame


# --- Files that are refused: one test per reject path, with its exact row, column and code ----------


@pytest.mark.parametrize("content", [b"", b"\r\n\r\n", b"\xef\xbb\xbf", b" , ,\n,,\n"])
def test_empty_file(content):
    p = parse(content, "x.csv")
    assert where(p) == [(None, None, "empty_file")]
    assert p.frame.empty


def test_empty_workbook():
    assert where(parse(xlsx([]), "x.xlsx")) == [(None, None, "empty_file")]


def test_file_too_large_is_checked_before_parsing():
    p = parse(b"\x00" * 101, "x.csv", max_bytes=100)
    assert where(p) == [(None, None, "file_too_large")]


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 4,  # binary junk
    b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    b"PK\x03\x04" + b"\x00" * 200,  # a corrupt zip
    b"\xff\xfe\x00\x00garbage\x00",
])
def test_not_a_table(content):
    p = parse(content, "x.xlsx")
    assert where(p) == [(None, None, "not_a_table")]
    assert "CSV" in p.problems[0].message_zh


def test_a_zip_that_is_not_a_workbook():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert where(parse(buf.getvalue(), "x.xlsx")) == [(None, None, "not_a_table")]


def test_old_xls_is_unsupported_with_advice_to_save_as_xlsx():
    p = parse(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504, "快报.xls")
    assert where(p) == [(None, None, "unsupported_format")]
    assert "xlsx" in p.problems[0].message_zh and "另存为" in p.problems[0].message_zh


def test_html_saved_as_xls_by_an_hrp_system_is_unsupported():
    p = parse("<html><body><table><tr><td>机构代码</td></tr></table></body></html>".encode(), "导出.xls")
    assert where(p) == [(None, None, "unsupported_format")]


def test_no_header():
    p = parse(csv_file([["单位", "收入合计"], ["某医院", "100"]]), "x.csv")
    assert where(p) == [(None, None, "no_header")]
    assert "机构代码" in p.problems[0].message_zh


def test_unknown_kind():
    p = parse(csv_file([["机构代码", "报告期"], [HOSPITAL_A, "2025-03"]]), "x.csv")
    assert where(p) == [(1, None, "unknown_kind")]
    assert p.kind is None


def test_wrong_kind():
    p = parse(fixture("progress.csv"), "x.csv", kind="monthly")
    assert where(p) == [(1, None, "wrong_kind")]
    assert "运营管理建设进展" in p.problems[0].message_zh and "月度经济运行快报" in p.problems[0].message_zh


def test_no_data_rows():
    p = parse(monthly_csv(above=1), "x.csv")
    assert where(p) == [(2, None, "no_data_rows")]
    assert p.kind == "monthly" and p.frame.empty and "total_revenue" in p.frame


def test_duplicate_column_by_code_and_label():
    header = [*MONTH, "收入合计（元）"]
    p = parse(csv_file([header, [*MONTH.values(), "1150"]]), "x.csv")
    assert where(p) == [(1, "total_revenue", "duplicate_column")]
    assert p.problems[0].message_zh == (
        "第 1 行表头中“收入合计”出现了两次（第 C 列“total_revenue”和第 AJ 列“收入合计（元）”），请删除多余的一列")


def test_missing_required_column():
    codes = [c for c in MONTH if c != "medical_revenue"]
    p = parse(csv_file([["标题"], codes, [MONTH[c] for c in codes]]), "x.csv")
    assert where(p) == [(2, "medical_revenue", "missing_column")]
    assert "医疗收入" in p.problems[0].message_zh


def test_bad_number_message_reads_like_the_spec():
    months = [month() for _ in range(10)]
    months[-1]["total_revenue"] = "12,3a4"
    p = parse(monthly_csv(*months, above=1), "x.csv")  # title row 1, header row 2, data rows 3–12
    assert where(p) == [(12, "total_revenue", "bad_number")]
    assert p.problems[0].value == "12,3a4"
    assert p.problems[0].message_zh == "第 12 行“收入合计”的值“12,3a4”不是有效数字"
    assert p.problems[0].message_en == 'Row 12, 收入合计 (total_revenue): "12,3a4" is not a number'
    assert pd.isna(p.frame.at[12, "total_revenue"])


@pytest.mark.parametrize("text, code", [
    ("abc", "bad_number"),
    ("1,2345", "bad_number"),  # misplaced thousands separator
    ("12%", "bad_number"),
    ("1.2E+07", "bad_number"),  # scientific notation: Excel may have cut digits
    ("1e20", "bad_number"),
    ("99999999999999999", "bad_number"),  # too large to store
    ("1150.123", "too_many_decimals"),
])
def test_bad_money(text, code):
    p = cell(text, "total_revenue")
    assert where(p) == [(2, "total_revenue", code)]


@pytest.mark.parametrize("text, code", [("12.5", "not_integer"), ("十二", "bad_number"), ("3000000000", "bad_number")])
def test_bad_count(text, code):
    assert where(cell(text, "doctors")) == [(2, "doctors", code)]


def test_excel_number_cells_with_extra_decimals_or_fractions():
    header = list(MONTH)
    values: list[object] = list(MONTH.values())
    values[header.index("total_revenue")] = 1150.125
    values[header.index("doctors")] = 12.5
    p = parse(xlsx([header, values]), "x.xlsx")
    assert where(p) == [(2, "total_revenue", "too_many_decimals"), (2, "doctors", "not_integer")]
    assert p.problems[0].value == "1150.125"


@pytest.mark.parametrize("text", ["2025-13", "2025年", "March 2025", "25-03", "2025-00", "45717", "2025-03-45"])
def test_bad_period(text):
    p = cell(text, "period")
    assert where(p) == [(2, "period", "bad_period")]
    assert "2025-03" in p.problems[0].message_zh


def test_period_2025_dot_1_is_ambiguous():
    p = cell("2025.1", "period")  # January, or 2025.10 after Excel dropped the zero
    assert where(p) == [(2, "period", "bad_period")]
    assert "2025-01" in p.problems[0].message_zh and "2025-10" in p.problems[0].message_zh


def test_bad_boolean_lists_the_accepted_spellings():
    content = fixture("progress.csv").replace(b",yes,", b",maybe,")
    p = parse(content, "x.csv")
    assert where(p) == [(2, "risk_register", "bad_value")]
    assert "是" in p.problems[0].message_zh and "√/×" in p.problems[0].message_zh


def test_bad_enum_lists_the_allowed_labels():
    p = parse(fixture("progress.csv").replace("已应用".encode(), "已上线".encode()), "x.csv")
    assert where(p) == [(2, "ops_platform_status", "bad_value")]
    assert "未启动、建设中、已建成、已应用" in p.problems[0].message_zh


def test_many_bad_cells_are_all_reported_in_row_and_column_order():
    p = parse(monthly_csv(month(doctors="x", total_revenue="y"), month(period="13月")), "x.csv")
    assert where(p) == [(2, "total_revenue", "bad_number"), (2, "doctors", "bad_number"), (3, "period", "bad_period")]


# --- Never raises -------------------------------------------------------------------------------

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_give_a_parsed_never_an_exception(content):
    p = parse(content, "x.csv")
    assert isinstance(p, Parsed)
    assert all(x.message_zh and x.message_en for x in p.problems)
    assert "parse_failed" not in codes(p)  # the last-resort guard never fired


MAGIC = [b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf", b""]


@SETTINGS
@given(st.sampled_from(MAGIC), st.binary(max_size=500))
def test_arbitrary_bytes_after_a_magic_number(magic, rest):
    p = parse(magic + rest, "x.xlsx")
    assert isinstance(p, Parsed) and "parse_failed" not in codes(p)


@SETTINGS
@given(st.lists(st.lists(st.text(max_size=12), max_size=6), max_size=6), st.sampled_from(["utf-8", "gb18030"]))
def test_arbitrary_small_tables(rows, encoding):
    content = csv_file([["机构代码", "total_revenue"], *rows], encoding=encoding)
    p = parse(content, "x.csv")
    assert isinstance(p, Parsed) and "parse_failed" not in codes(p)


def test_names_keep_their_full_width_brackets():
    content = ("机构代码,机构名称,所在县区代码,医院等级,机构类别,隶属关系,主管部门,高质量发展试点医院,预算管理医院\r\n"
               "12220102MB0000000X,长春市第一医院（演示）,220102,三级甲等,综合医院,市属,卫生健康委,否,否\r\n")
    parsed = parse(content.encode("gbk"), "机构名录.csv")
    assert parsed.frame["name"].tolist() == ["长春市第一医院（演示）"]
