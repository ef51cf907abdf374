"""The templates hospitals fill in, generated from the field table (``fields.py``).

XLSX: a title row, a note row with the reporting period and due date, the
header row of Chinese labels with units, drop-downs for 是/否 and status
values, number formats, a frozen header, and a second sheet explaining each
column. CSV: the header row only, UTF-8 with BOM so Excel on Chinese Windows
opens it without mojibake.
"""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from opsmon.ingest.fields import FIELDS, Field, Kind
from opsmon.periods import DEFAULT_DUE_DAY, due_date

TITLES: dict[Kind, str] = {
    "monthly": "月度经济运行快报",
    "progress": "运营管理建设进展",
    "registry": "机构名录",
}
TYPE_NOTES = {
    "uscc": "18位统一社会信用代码（大写字母），校验位须正确",
    "period": "报告期，格式 YYYY-MM，如 2026-10",
    "money": "金额，单位元，最多两位小数；流量填本月数，存量填期末数",
    "count": "非负整数",
    "bool": "是 / 否",
    "enum": "从下拉列表选择",
    "text": "文字",
    "adcode": "6位县级行政区划代码（GB/T 2260）",
}
HEADER_ROW = 3  # title, note, header: what the parser finds by its 机构代码 cell
DATA_ROWS = 500  # rows the drop-downs and number formats cover


def _allowed(f: Field) -> list[str]:
    return ["是", "否"] if f.type == "bool" else list(f.values)


def _note(f: Field) -> str:
    parts = [TYPE_NOTES[f.type]]
    if f.type == "enum":
        parts.append("可选：" + "、".join(f.values))
    if f.type == "money":
        parts[0] = TYPE_NOTES["money"].split("；")[0] + ("（期末数）" if f.stock else "（本月数）")
    parts.append("必填" if f.required else "选填，可留空")
    return "；".join(parts)


def xlsx(kind: Kind, period: str | None = None, due_day: int = DEFAULT_DUE_DAY) -> bytes:
    """The XLSX template for *kind*; *period* ('YYYY-MM') fills the note row."""
    fields = FIELDS[kind]
    wb = Workbook()
    ws = wb.active
    ws.title = TITLES[kind]
    last = get_column_letter(len(fields))

    ws["A1"] = TITLES[kind] + ("" if kind == "registry" else f"（{period or 'YYYY-MM'}）")
    ws["A1"].font = Font(size=14, bold=True)
    ws.merge_cells(f"A1:{last}1")
    note = "金额单位：元。每行一家医院一个报告期；空白单元格表示缺报，不等于0。"
    if period and kind != "registry":
        note = f"报告期：{period}；报送截止：{due_date(period, due_day):%Y年%m月%d日}。" + note
    ws["A2"] = note
    ws.merge_cells(f"A2:{last}2")
    ws["A2"].alignment = Alignment(wrap_text=True)

    header_fill = PatternFill("solid", fgColor="1F4E79")
    for col, f in enumerate(fields, 1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=f.header)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = max(12, min(28, len(f.header) * 2 + 2))
        data_range = f"{letter}{HEADER_ROW + 1}:{letter}{HEADER_ROW + DATA_ROWS}"
        if f.type in ("bool", "enum"):
            dv = DataValidation(type="list", formula1='"' + ",".join(_allowed(f)) + '"', allow_blank=not f.required,
                                showErrorMessage=True, errorTitle="取值无效", error="请从下拉列表中选择")
            dv.add(data_range)
            ws.add_data_validation(dv)
        number_format = {"money": "#,##0.00", "count": "0", "uscc": "@", "period": "@", "adcode": "@"}.get(f.type)
        if number_format:
            for row in ws[data_range]:
                row[0].number_format = number_format
    ws.row_dimensions[HEADER_ROW].height = 36
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=3 if kind != "registry" else 2)

    guide = wb.create_sheet("填报说明")
    guide.append(["列名（中文标签）", "代码", "单位", "说明"])
    for cell in guide[1]:
        cell.font = Font(bold=True)
    for f in fields:
        guide.append([f.label, f.code, f.unit or "", _note(f)])
    for letter, width in zip("ABCD", (30, 26, 8, 80), strict=True):
        guide.column_dimensions[letter].width = width

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv(kind: Kind) -> bytes:
    """The CSV template for *kind*: the header row, UTF-8 with BOM, CRLF."""
    return ("\ufeff" + ",".join(f.header for f in FIELDS[kind]) + "\r\n").encode("utf-8")
