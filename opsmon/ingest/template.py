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

from opsmon.ingest.fields import FIELDS, MONTHLY_V2, Field, Kind
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
# What a column means beyond its type, where the spec defines it (spec/submission-format.md).
SALARY_ARREARS_DEFINITION = (
    "拖欠职工薪酬：应付职工的工资、津贴补贴、绩效工资、社会保险费和住房公积金等，"
    "在月末已超过应付日期仍未支付的部分（应付未付且已逾期）；未到应付日期的应付职工薪酬不计入"
)
# The v2 optional columns: what they feed, and what happens when they are left empty.
APPROXIMATE = "留空时相关指标按原口径近似计算，并标注“近似”"
FIELD_NOTES: dict[str, str] = {
    "salary_arrears": SALARY_ARREARS_DEFINITION,
    "medical_service_revenue": "用于医疗服务收入占医疗收入比例（国考31）；不得大于医疗收入",
    "medical_activity_revenue": "取自医疗活动收入费用明细表；用于医疗盈余率（国考35）",
    "medical_activity_expense": "取自医疗活动收入费用明细表；用于医疗盈余率（国考35）",
    "discharged_patient_revenue": "本月出院患者的住院费用；用于出院患者次均费用（国考40）；"
                                  "超过住院收入的1.5倍时给出提示（不影响上报）",
    "herbal_pieces_revenue": "用于药占比（不含中药饮片）；不得大于药品收入",
    "insurance_receivable": "应收医疗款中应收医保款的期末余额；用于应收医保款周转天数",
    "supplier_payable": "应付账款中应付药品及卫生材料款的期末余额；用于应付药品耗材款周转天数",
    "short_term_loans": "用于偿债风险；不得大于流动负债",
    "long_term_payables": "含融资租赁；用于长期债务",
    "inventory": "用于速动比率；不得大于流动资产",
    "construction_debt": "不得大于负债总额",
    "budget_authority": "国家：国家卫生健康委/国家中医药局预算管理医院；省：省卫生健康委/省中医药局预算管理医院；"
                        "须与“预算管理医院”一致（国家、省填“是”，无填“否”）；"
                        "不填（无此列或留空）时，“预算管理医院”为“是”即视为“省”",
    "is_budget_managed": "国家或省预算管理医院填“是”",
    "affiliation": "中央属、委属委管：如国家部委所属的大学附属医院",
    "campaign_optimized_processes": "2024年1月本轮活动开始以来优化的业务流程数，不得大于累计优化业务流程数；"
                                    "留空时用累计优化业务流程数近似，并标注“近似”",
}
V2_OPTIONAL: frozenset[str] = frozenset(MONTHLY_V2)
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
    if f.code in V2_OPTIONAL:
        parts.append(APPROXIMATE)
    if f.code in FIELD_NOTES:
        parts.append(FIELD_NOTES[f.code])
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
    for row in guide.iter_rows(min_row=2, min_col=4, max_col=4):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    for letter, width in zip("ABCD", (30, 26, 8, 80), strict=True):
        guide.column_dimensions[letter].width = width
    if any(f.code in V2_OPTIONAL or f.code == "campaign_optimized_processes" for f in fields):
        # Below the table (the parser reads the first sheet only): the rule for the optional columns.
        guide.append([])
        guide.append(["关于“近似”", "", "", "说明中写有“近似”的选填栏目（第2版新增）可以留空或整列不要，文件照常接收。"
                      "某医院某期留空时，用到该栏目的指标按原有口径近似计算，数值旁标注“近似”；"
                      "地区数值中只要有一家医院是近似值，地区数值也标注“近似”。"])

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv(kind: Kind) -> bytes:
    """The CSV template for *kind*: the header row, UTF-8 with BOM, CRLF."""
    return ("\ufeff" + ",".join(f.header for f in FIELDS[kind]) + "\r\n").encode("utf-8")
