"""The templates hospitals fill in: what they show, and that a filled-in template parses cleanly."""

from __future__ import annotations

import io

import openpyxl
import pytest

from opsmon.ingest import template
from opsmon.ingest.fields import FIELDS
from opsmon.ingest.parse import parse


def workbook(kind: str, period: str = "2026-10") -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(template.xlsx(kind, period)))


@pytest.mark.parametrize("kind", ["monthly", "progress", "registry"])
def test_xlsx_template_has_title_labels_frozen_header_and_a_guide(kind):
    wb = workbook(kind)
    sheet = wb.worksheets[0]
    header = [c.value for c in sheet[template.HEADER_ROW]]
    assert header == [f.header for f in FIELDS[kind]]  # e.g. 收入合计（元）
    assert "A1:" in " ".join(str(r) for r in sheet.merged_cells.ranges)  # merged title row
    assert sheet.freeze_panes is not None and sheet.freeze_panes.endswith(str(template.HEADER_ROW + 1))
    guide = wb["填报说明"]
    rows = list(guide.iter_rows(min_row=2, max_row=len(FIELDS[kind]) + 1, values_only=True))
    assert [row[1] for row in rows] == [f.code for f in FIELDS[kind]]


def test_monthly_note_names_the_period_and_its_due_date():
    note = workbook("monthly", "2026-12").worksheets[0]["A2"].value
    assert "2026-12" in note and "2027年01月10日" in note  # due the 10th of the following month


def test_progress_template_offers_drop_downs_for_yes_no_and_statuses():
    sheet = workbook("progress").worksheets[0]
    lists = {dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert '"是,否"' in lists
    assert '"未启动,建设中,已建成,已应用"' in lists
    assert '"未开始,进行中,已完成"' in lists


def test_a_filled_in_registry_template_parses_without_problems():
    wb = workbook("registry")
    sheet = wb.worksheets[0]
    row = ["12220102MB0000000X", "长春市第一医院（演示）", "220102", "三级甲等", "综合医院", "市属", "卫生健康委",
           "否", "是", None]
    for col, value in enumerate(row, 1):
        sheet.cell(row=template.HEADER_ROW + 1, column=col, value=value)
    buf = io.BytesIO()
    wb.save(buf)

    parsed = parse(buf.getvalue(), "机构名录.xlsx")

    assert parsed.kind == "registry" and parsed.problems == []
    assert parsed.frame.index.tolist() == [template.HEADER_ROW + 1]  # the row number a person sees
    assert parsed.frame["name"].tolist() == ["长春市第一医院（演示）"]


def test_csv_template_is_the_header_row_with_a_bom():
    content = template.csv("monthly")
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig").strip().split(",") == [f.header for f in FIELDS["monthly"]]
