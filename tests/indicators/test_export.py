"""Exports: CSV and JSON give back exactly the query's values; XLSX is titled, dated and formatted."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import pandas as pd
import province_fixture as fx
import pytest
import v2_fixture as v2
from openpyxl import load_workbook

from opsmon.indicators import COLUMNS, catalogue, query
from opsmon.indicators.export import export_table, progress_table, progress_table_xlsx

IDS = ["surplus_rate", "energy_per_10k_revenue", "debt_ratio", "hospitals_expected", "medical_revenue_growth"]
SHARE = "医疗服务收入（不含药品、耗材、检查检验收入）占医疗收入比例"
AS_OF = datetime(2025, 3, 5, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def test_csv_and_json_round_trip_the_query(province):
    frame = query(province, IDS, "county", "2025-01", region="220100")
    csv = export_table(frame, "csv")
    assert csv.startswith(b"\xef\xbb\xbf")  # BOM: Excel on Chinese Windows reads UTF-8
    back = pd.read_csv(io.BytesIO(csv), dtype={"code": str, "parent_code": str}, encoding="utf-8-sig")
    assert list(back.columns) == COLUMNS
    pd.testing.assert_frame_equal(back, frame, check_dtype=False, check_exact=True)
    nanguan = back[(back["code"] == "220102") & (back["indicator"] == "surplus_rate")].iloc[0]
    assert nanguan["value"] == pytest.approx(100 / 2600)  # a fraction, not a percentage

    records = json.loads(export_table(frame, "json"))
    assert list(records[0]) == COLUMNS and len(records) == len(frame)
    from_json = pd.DataFrame(records)
    assert from_json["value"].tolist() == pytest.approx(frame["value"].tolist(), nan_ok=True)


def test_xlsx_has_title_as_of_chinese_headers_and_percentages(province):
    frame = query(province, IDS, "province", "2025-01")
    book = load_workbook(io.BytesIO(export_table(frame, "xlsx", title="吉林省指标", as_of=AS_OF)))
    ws = book.active
    assert ws["A1"].value == "吉林省指标" and ws["A2"].value == "数据截至：2025-03-05 09:30"
    headers = [c.value for c in ws[4]]
    assert headers[:3] == ["层级", "代码", "名称"] and "数值" in headers and "单位" in headers
    rows = {r[headers.index("指标代码")].value: r for r in ws.iter_rows(min_row=5)}
    surplus = rows["surplus_rate"][headers.index("数值")]
    assert surplus.value == pytest.approx(100 / 8800) and surplus.number_format == "0.0%"
    assert rows["surplus_rate"][headers.index("指标")].value == "收支结余率"
    assert rows["surplus_rate"][headers.index("单位")].value == "%"
    energy = rows["energy_per_10k_revenue"][headers.index("数值")]
    # energy 0.01E per 10 000 of R: 10 000 × 87 / 8800.
    assert energy.value == pytest.approx(870000 / 8800) and energy.number_format == "#,##0.00"
    assert rows["hospitals_expected"][headers.index("层级")].value == "省"


def test_every_format_carries_the_approximation_flag(province):
    # The fixture's rows have none of the v2 columns: medical_service_revenue_share is the v1
    # approximation for every hospital (近似); surplus_rate has no optional part.
    frame = query(province, ["medical_service_revenue_share", "surplus_rate"], "province", "2025-01")
    assert frame.set_index("indicator")["approx"].to_dict() == {"medical_service_revenue_share": True,
                                                               "surplus_rate": False}
    csv = export_table(frame, "csv").decode("utf-8-sig").splitlines()
    assert csv[0].split(",")[-1] == "approx"
    assert sorted(line.split(",")[-1] for line in csv[1:]) == ["false", "true"]
    back = pd.read_csv(io.BytesIO(export_table(frame, "csv")), dtype={"code": str}, encoding="utf-8-sig")
    assert back.set_index("indicator")["approx"].to_dict() == {"medical_service_revenue_share": True,
                                                              "surplus_rate": False}

    records = {r["indicator"]: r for r in json.loads(export_table(frame, "json"))}
    assert records["medical_service_revenue_share"]["approx"] is True
    assert records["surplus_rate"]["approx"] is False

    ws = load_workbook(io.BytesIO(export_table(frame, "xlsx", as_of=AS_OF))).active
    headers = [c.value for c in ws[4]]
    rows = {r[headers.index("指标代码")].value: r for r in ws.iter_rows(min_row=5)}
    assert rows["medical_service_revenue_share"][headers.index("近似")].value == "近似"
    assert rows["surplus_rate"][headers.index("近似")].value is None
    english = load_workbook(io.BytesIO(export_table(frame, "xlsx", as_of=AS_OF, language="en"))).active
    headers = [c.value for c in english[4]]
    marks = {r[headers.index("indicator")].value: r[headers.index("approx")].value
             for r in english.iter_rows(min_row=5)}
    assert marks == {"medical_service_revenue_share": "approximate", "surplus_rate": None}


def test_the_wide_xlsx_has_a_row_per_region_and_a_column_per_indicator(province):
    frame = query(province, ["medical_service_revenue_share", *IDS], "county", "2025-01", region="220100")
    ws = load_workbook(io.BytesIO(export_table(frame, "xlsx", title="长春市各县区", as_of=AS_OF,
                                               layout="wide"))).active
    assert ws["A1"].value == "长春市各县区" and ws["A2"].value == "数据截至：2025-03-05 09:30"
    headers = [c.value for c in ws[4]]
    # Catalogue order, each headed by its label and unit (a ratio without a unit says so).
    assert headers == ["层级", "代码", "名称", "上级代码", "报告期", "统计口径",
                       f"{SHARE}（%）", "万元收入能耗支出（元）", "收支结余率（%）", "资产负债率（%）",
                       "医疗收入增幅（%）", "应报医院数（家）", "近似"]
    rows = list(ws.iter_rows(min_row=5))
    assert [r[1].value for r in rows] == sorted(frame["code"].unique())  # each county once, by code
    by_code = {r[1].value: r for r in rows}
    for rec in frame.itertuples():  # every value of the query in its county's row and indicator's column
        cell = by_code[rec.code][headers.index(f"{catalogue.get(rec.indicator).label()}（"
                                               f"{catalogue.get(rec.indicator).unit}）")]
        assert cell.value == (pytest.approx(rec.value) if pd.notna(rec.value) else None)
    nanguan = by_code["220102"]
    assert nanguan[0].value == "县（市、区）" and nanguan[3].value == "220100" and nanguan[5].value == "当月"
    assert nanguan[headers.index("收支结余率（%）")].number_format == "0.0%"
    assert nanguan[headers.index("应报医院数（家）")].number_format == "#,##0"
    # The fixture's rows lack the v2 columns: the share is the v1 approximation, named in the row.
    assert nanguan[headers.index("近似")].value == SHARE
    # The deficit count always covers 12 months: its header says so beside the month's values.
    counts = query(province, ["surplus_rate", "deficit_hospitals"], "county", "2025-01", region="220100")
    ws = load_workbook(io.BytesIO(export_table(counts, "xlsx", layout="wide"))).active
    assert [c.value for c in ws[4]][5:] == ["统计口径", "收支结余率（%）", "收不抵支医院数（家，近12个月）", "近似"]
    assert {r[0] for r in ws.iter_rows(min_row=5, values_only=True, min_col=6, max_col=6)} == {"当月"}
    english = load_workbook(io.BytesIO(export_table(frame, "xlsx", language="en", layout="wide"))).active
    assert [c.value for c in english[4]][:2] == ["level", "code"]
    assert [c.value for c in english[4]][-1] == "approximate"


def test_bad_formats_and_frames_are_refused(province):
    frame = query(province, IDS, "province", "2025-01")
    with pytest.raises(ValueError, match="format"):
        export_table(frame, "pdf")
    with pytest.raises(ValueError, match="query frame"):
        export_table(frame.drop(columns="value"), "csv")
    for fmt in ("csv", "json"):  # the wide layout is a sheet for people
        with pytest.raises(ValueError, match="layout"):
            export_table(frame, fmt, layout="wide")
    with pytest.raises(ValueError, match="layout"):
        export_table(frame, "xlsx", layout="pivot")


def test_progress_table(province):
    table = progress_table(province, "2025-01").set_index("code")
    # Rows: the province's children (9 prefectures, 梅河口市), then the province's total.
    assert list(table.index)[-1] == "220000" and len(table) == 11 and "220581" in table.index
    changchun = table.loc["220100"]  # A, B, C open in 2025-01 (G closed)
    assert changchun["hospitals_expected"] == 3
    # A's report (2024-06) is more than two quarters old in 2025-01: 进展未更新, counted as not done.
    assert changchun["ops_platform_coverage_tertiary"] == pytest.approx(1 / 2)  # C in use
    assert (changchun["ops_committee_share__numerator"], changchun["ops_committee_share__denominator"]) == (2, 3)
    total = table.loc["220000"]
    assert total["ops_platform_coverage_tertiary"] == pytest.approx(1 / 3)  # C of A, C, F (F stale too)
    assert total["process_target_share"] == pytest.approx(2 / 5)  # B, C of A, B, C, D, F

    assert progress_table(province, "2025-01", scope=fx.CODE["A"]).empty  # hospital A: no region rows
    scoped = progress_table(province, "2025-01", region="220100", scope="220100")
    assert list(scoped["code"])[-1] == "220100" and set(scoped["code"]) <= {"220100", "220102", "220103", "220104",
                                                                          "220105", "220106", "220112", "220113",
                                                                          "220122", "220182", "220183", "220184"}

    ws = load_workbook(io.BytesIO(progress_table_xlsx(province, "2025-01", as_of=AS_OF))).active
    assert ws["A1"].value == "运营管理建设进展情况表（2025年1月）"
    headers = [c.value for c in ws[4]]
    last = [c for c in ws[ws.max_row]]
    assert last[0].value == "吉林省（合计）"
    cell = last[headers.index("三级公立医院运营管理信息集成平台覆盖率")]
    assert cell.value == pytest.approx(1 / 3) and cell.number_format == "0.0%"
    assert last[headers.index("三级公立医院运营管理信息集成平台覆盖率：达标医院数")].value == 1


def test_progress_table_counts_the_hospitals_without_a_current_status(province):
    # Open in 2025-01 (G closed): A 三级甲等 pilot 南关区 — its 2024-06 report is seven months old
    # (stale); B 二级甲等 (2024-12) and C 三级乙等 (2025-01) current; D 二级 (never reported) and
    # E 一级 (first report 2025-02) missing, both in 吉林市; F 三级 梅河口市, 2024-03: stale.
    table = progress_table(province, "2025-01").set_index("code")
    counts = ["progress_stale", "progress_missing", "progress_outdated"]
    assert table.loc["220100", counts].tolist() == [1, 0, 1]  # A
    assert table.loc["220200", counts].tolist() == [0, 2, 2]  # D, E
    assert table.loc["220581", counts].tolist() == [1, 0, 1]  # F
    assert table.loc["220500", counts].tolist() == [0, 0, 0]  # 通化市: F reports to the province directly
    assert table.loc["220000", counts].tolist() == [2, 2, 4]

    # Beside each ratio, the stale hospitals of its population (in its denominator, not its numerator).
    stale = {ind: table.loc["220000", f"{ind}__stale"] for ind in (
        "ops_platform_coverage_tertiary", "ops_platform_coverage_secondary", "ops_committee_share",
        "leaders_platform_share", "risk_register_share")}
    # 三级: A, F; 二级: B current, D missing (not stale); 二级+: A, F; pilots and 国家 budget
    # hospitals: A alone (C's 是 in a v1 registry means 省); every hospital: A, F.
    assert stale == {"ops_platform_coverage_tertiary": 2, "ops_platform_coverage_secondary": 0,
                     "ops_committee_share": 2, "leaders_platform_share": 1, "risk_register_share": 2}
    assert table.loc["220100", "ops_committee_share__stale"] == 1  # A
    assert table.loc["220100", "ops_committee_share__denominator"] == 3  # A stays counted: A, B, C

    # Collected, reported by no indicator: the operations department (二级+: A stale, B and C say 是,
    # D missing, F stale → 2 of 5) and the internal control review (every fixture report says 否).
    total = table.loc["220000"]
    assert (total["ops_department_share__numerator"], total["ops_department_share__denominator"]) == (2, 5)
    assert total["ops_department_share"] == pytest.approx(2 / 5)
    assert table.loc["220100", "ops_department_share"] == pytest.approx(2 / 3)  # B, C of A, B, C
    assert (total["internal_control_review_share__numerator"],
            total["internal_control_review_share__denominator"]) == (0, 6)
    assert total["internal_control_review_share"] == 0
    # Column order: the counts after the reporting rate, each ratio's parts after it.
    columns = list(table.reset_index().columns)
    assert columns[5:8] == counts
    at = columns.index("ops_committee_share")
    assert columns[at:at + 4] == ["ops_committee_share", "ops_committee_share__numerator",
                                  "ops_committee_share__denominator", "ops_committee_share__stale"]
    assert columns[-6:] == ["ops_department_share", "ops_department_share__numerator",
                            "ops_department_share__denominator", "internal_control_review_share",
                            "internal_control_review_share__numerator", "internal_control_review_share__denominator"]

    # A month earlier A's report is six months old and still counts: only F is stale; D, E (open from
    # 2024-12, first report 2025-02) and G (open up to 2024-12) have none.
    december = progress_table(province, "2024-12").set_index("code")
    assert december.loc["220000", counts].tolist() == [1, 3, 4]


def test_progress_table_xlsx_shows_the_outdated_column_and_lists_the_hospitals(province):
    book = load_workbook(io.BytesIO(progress_table_xlsx(province, "2025-01", as_of=AS_OF)))
    assert book.sheetnames[1] == "进展未更新医院名单"
    ws = book.worksheets[0]
    headers = [c.value for c in ws[4]]
    total = {h: c for h, c in zip(headers, ws[ws.max_row], strict=True)}
    assert total["地区"].value == "吉林省（合计）"
    assert total["进展未报送或未更新医院数"].value == 4 and total["其中：进展未更新（超过两个季度）"].value == 2
    assert headers.index("进展未报送或未更新医院数") == headers.index("月报报送率") + 1
    assert total["成立运营管理委员会医院占比：其中进展未更新"].value == 2
    assert total["成立运营管理委员会医院占比：统计医院数"].value == 5
    department = total["设立运营管理部门医院占比"]
    assert department.value == pytest.approx(2 / 5) and department.number_format == "0.0%"
    assert total["开展内部控制评价医院占比：统计医院数"].value == 6
    assert total["开展内部控制评价医院占比"].value == 0

    names = book.worksheets[1]
    assert [c.value for c in names[4]] == ["医院代码", "医院名称", "区划代码", "级别", "状态", "最近一次进展报告"]
    listed = [[c.value for c in row] for row in names.iter_rows(min_row=5)]
    # Stale first (A, F), then missing (D, E), by region and code.
    assert [r[0] for r in listed] == [fx.CODE[k] for k in ("A", "F", "D", "E")]
    assert [r[4] for r in listed] == ["进展未更新", "进展未更新", "未报送进展", "未报送进展"]
    assert [r[5] for r in listed] == ["2024-06", "2024-03", "—", "—"]
    assert listed[0][1] == f"测试医院{fx.CODE['A'][-4:]}（演示）"

    # A prefecture's table lists its own hospitals only: 长春市 → A.
    mine = load_workbook(io.BytesIO(progress_table_xlsx(province, "2025-01", region="220100", as_of=AS_OF)))
    assert [row[0].value for row in mine.worksheets[1].iter_rows(min_row=5)] == [fx.CODE["A"]]


def test_progress_table_refuses_filters(province):
    # The stale counts are by region only: a filtered table would put them beside other hospitals' values.
    with pytest.raises(ValueError, match="filters"):
        progress_table(province, "2025-01", filters={"tier": "三级"})
    assert not progress_table(province, "2025-01", filters={"tier": None}).empty  # no filter set: fine


def test_progress_table_marks_the_process_target_approximate_where_a_report_lacks_the_campaign_count(engine):
    # P (长春市) reports the campaign count, Q (长春市) does not, S (吉林市) does.
    v2.load(engine)
    table = progress_table(engine, "2025-02").set_index("code")
    assert bool(table.loc["220100", "process_target_share__approx"]) is True
    assert bool(table.loc["220200", "process_target_share__approx"]) is False
    assert bool(table.loc["220000", "process_target_share__approx"]) is True  # any contributing hospital
    sheet = load_workbook(io.BytesIO(progress_table_xlsx(engine, "2025-02"))).worksheets[0]
    header_row = next(r for r in sheet.iter_rows(values_only=True) if r and r[0] == "地区")
    col = header_row.index("业务流程优化达标医院占比：口径")
    values = {r[0]: r[col] for r in sheet.iter_rows(values_only=True) if r and r[0] in ("长春市", "吉林市")}
    assert values == {"长春市": "近似", "吉林市": None}
