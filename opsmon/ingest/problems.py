"""Problems found in a submitted file: errors reject it whole, warnings never block.

Every problem a person reads is built by :func:`make_problem` from the one table of message
templates, :data:`MESSAGES` — Chinese and English side by side, for every code the stable JSON of
``opsmon ingest --format json`` can carry (docs/submission-format.md lists them all; its test
reads this table). Lists of problems are put in sheet order by :func:`in_sheet_order` and capped
by :func:`capped`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from opsmon.ingest.fields import FIELDS, Field, Kind

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One problem, pointing where a person would look in Excel.

    ``row`` is the spreadsheet row number (the header row counts as its own row);
    ``row`` and ``column`` are None when the problem is the whole file or row.
    ``column`` is the field code (the UI shows its Chinese label).
    """

    row: int | None
    column: str | None
    value: str | None
    code: str
    message_zh: str
    message_en: str
    severity: Severity = "error"

    def to_dict(self, language: str | None = None) -> dict[str, Any]:
        """JSON-ready form; with *language* ('zh'/'en') a single ``message`` instead of both."""
        d = asdict(self)
        del d["severity"]
        if language:
            d["message"] = d.pop("message_zh") if language == "zh" else d.pop("message_en")
            d.pop("message_zh", None)
            d.pop("message_en", None)
        return d


def errors(problems: list[Problem]) -> list[Problem]:
    """The problems that reject a file."""
    return [p for p in problems if p.severity == "error"]


def warnings(problems: list[Problem]) -> list[Problem]:
    """The problems that are only reported."""
    return [p for p in problems if p.severity == "warning"]


# ---------------------------------------------------------------------------------------------
# Messages: problem code (or "code.variant") -> (Chinese, English). Placeholders: {row},
# {value}, {label} (the Chinese label), {col} ("label (code)"), plus per-message arguments.
MESSAGES: dict[str, tuple[str, str]] = {
    # Reading the file (opsmon.ingest.read): the whole file is refused.
    "empty_file": (
        "文件是空的，没有任何内容，请检查是否选错了文件",
        "The file is empty; check that you picked the right file",
    ),
    "file_too_large": (
        "文件大小 {size} 超过了上限 {limit}，请检查是否选错了文件，或拆成几个文件分别上传",
        "The file is {size}, over the {limit} limit; check the file or split it into several",
    ),
    "file_too_large.unpacked": (
        "这个 Excel 文件解压后超过 {limit}，系统不能读取，请删除无关的工作表或格式后重新保存",
        "This Excel file unpacks to more than {limit}; remove unrelated sheets or formatting and save it again",
    ),
    "file_too_large.part": (
        "这个 Excel 文件中的“{part}”部分解压后超过 {limit}，系统不能读取。请删除无关的工作表、图片或格式后重新保存，"
        "或把数据复制到系统提供的模板中再上传",
        'The part "{part}" of this Excel file unpacks to more than {limit}; remove unrelated sheets, pictures or '
        "formatting and save it again, or copy the data into the template from the system",
    ),
    "file_too_large.elements": (
        "这个 Excel 文件中的“{part}”部分结构过于复杂（XML 元素过多），系统不能读取。"
        "请删除无关的工作表、格式或批注后重新保存，或把数据复制到系统提供的模板中再上传",
        'The part "{part}" of this Excel file is too complex (too many XML elements); remove unrelated sheets, '
        "formatting or comments and save it again, or copy the data into the template from the system",
    ),
    "too_many_columns": (
        "第 {row} 行至少有 {count} 列，超过了上限 {limit} 列，系统不能读取。系统的报表最多 {widest} 列："
        "请删除表格右侧多余的列（包括看起来是空白、但有内容或格式的列），或把数据复制到系统提供的模板中再上传",
        "Row {row} has at least {count} columns, over the limit of {limit}; the file cannot be read. The reports "
        "have at most {widest} columns: delete the extra columns on the right (also ones that look empty but hold "
        "something or formatting), or copy the data into the template from the system, and upload again",
    ),
    "too_many_columns.commas": (
        "第 {row} 行有 {count} 个逗号（CSV 文件中列与列之间的分隔符），远超过上限 {limit} 列，系统不能读取。"
        "系统的报表最多 {widest} 列：请用 Excel 打开文件检查这一行，删除多余的列后重新保存",
        "Row {row} holds {count} commas (the separators between the columns of a CSV file), far more than the "
        "limit of {limit} columns; the file cannot be read. The reports have at most {widest} columns: open the "
        "file in Excel, check this row, delete the extra columns and save it again",
    ),
    "too_many_rows": (
        "表格至少有 {rows} 行，超过了上限 {limit} 行，系统不能读取（全国一个月的月报约 12,000 行）。"
        "请删除表格下方多余的行（包括看起来是空白、但有内容或格式的行），或把文件按月份拆成几个分别上传",
        "The table has at least {rows} rows, over the limit of {limit} (a national month is about 12,000 rows); "
        "the file cannot be read. Delete the extra rows below the table (also ones that look empty but hold "
        "something or formatting), or split the file by month into several",
    ),
    "too_many_cells": (
        "表格至少有 {rows} 行 × {cols} 列 = {cells} 个单元格，超过了上限 {limit} 个，系统不能读取"
        "（全国一个月的月报约 12,000 行 × 45 列 = 540,000 个）。"
        "请删除表格下方和右侧多余的行和列（包括看起来是空白、但有内容或格式的），或把文件拆成几个分别上传",
        "The table has at least {rows} rows × {cols} columns = {cells} cells, over the limit of {limit} (a national "
        "month is about 12,000 rows × 45 columns = 540,000); the file cannot be read. Delete the extra rows and "
        "columns below and to the right (also ones that look empty but hold something or formatting), or split "
        "the file into several",
    ),
    "too_many_cells.strings": (
        "这个 Excel 文件中的文字超过 {limit} 段，超过了一个文件允许的单元格数，系统不能读取。"
        "请删除无关的工作表后重新保存，或把文件拆成几个分别上传",
        "This Excel file holds more than {limit} pieces of text, more than the cells a file may have; it "
        "cannot be read. Delete unrelated sheets and save it again, or split the file into several",
    ),
    "not_a_table": (
        "无法读取这个文件：它不是 CSV 或 Excel（.xlsx）表格，或者文件已损坏。请在 Excel 中另存为 .xlsx 或 CSV 后重新上传",
        "This file is not a CSV or Excel (.xlsx) table, or it is damaged. "
        "Save it from Excel as .xlsx or CSV and upload it again",
    ),
    "parse_failed": (
        "系统读取这个文件时出错，这不是您的问题，请把文件发给管理员",
        "The system failed while reading this file; this is not your fault — send the file to the administrator",
    ),
    "unsupported_format": (
        "这是旧版 Excel 97-2003 工作簿（.xls）或设置了打开密码的文件，系统不能读取。"
        "请在 Excel 中选择“另存为” →“Excel 工作簿（*.xlsx）”（如有密码请先取消）后重新上传",
        "This is an old Excel 97-2003 workbook (.xls) or a password-protected file. In Excel choose "
        "Save As → Excel Workbook (*.xlsx) (remove any password first) and upload that file",
    ),
    "unsupported_format.html": (
        "这个文件是网页（HTML/XML）格式，只是扩展名像 Excel，系统不能读取。"
        "请用 Excel 打开后选择“另存为” →“Excel 工作簿（*.xlsx）”后重新上传",
        "This file is a web page (HTML/XML) with a spreadsheet-like name. Open it in Excel, choose "
        "Save As → Excel Workbook (*.xlsx) and upload that file",
    ),
    # The header row (opsmon.ingest.header).
    "no_header": (
        "没有找到表头行：表格中没有一行包含“机构代码”（或 hospital_code）列。请使用系统提供的模板，不要删除或改动表头",
        "No header row: no row contains a 机构代码 (hospital_code) column. "
        "Use the template from the system and keep its header",
    ),
    "unknown_kind": (
        "无法判断这是哪种报表（月度经济运行快报、运营管理建设进展或机构名录）：表头中缺少可识别的栏目。请使用系统提供的模板",
        "Cannot tell which report this is (monthly, progress or registry) from its header. "
        "Use the template from the system",
    ),
    "wrong_kind": (
        "这个文件看起来是“{found_zh}”，不是要上传的“{expected_zh}”，请确认选择了正确的文件和报表类型",
        "This file looks like a {found_en}, not a {expected_en}; check the file and the report type",
    ),
    "no_data_rows": (
        "第 {row} 行是表头，但表头下面没有任何数据行",
        "Row {row} is the header, but there are no data rows below it",
    ),
    "unknown_column": (
        "第 {row} 行第 {letter} 列的列名“{value}”不是本报表的栏目，该列已忽略",
        'Row {row}, column {letter}: "{value}" is not a column of this report; the column was ignored',
    ),
    "unknown_column.many": (
        "第 {row} 行表头中有 {count} 列不是本报表的栏目，这些列已忽略：{names_zh}",
        "Row {row}: {count} columns are not columns of this report and were ignored: {names_en}",
    ),
    "unknown_column.blank": (
        "第 {letter} 列没有列名（第 {row} 行为空），但下面有数据，该列已忽略",
        "Column {letter} has no name in header row {row} but holds data; the column was ignored",
    ),
    "unknown_column.blank_many": (
        "有 {count} 列没有列名（第 {row} 行为空），但下面有数据，这些列已忽略：{letters_zh}",
        "{count} columns have no name in header row {row} but hold data; they were ignored: columns {letters_en}",
    ),
    "duplicate_column": (
        "第 {row} 行表头中“{label}”出现了两次（第 {first_letter} 列“{first}”和第 {letter} 列“{value}”），请删除多余的一列",
        'Row {row}: {col} appears twice (column {first_letter} "{first}" and column {letter} "{value}"); '
        "delete one of them",
    ),
    "wrong_unit": (
        "第 {row} 行第 {letter} 列“{value}”的单位是“{unit}”，但“{label}”应以“{own}”为单位填报，"
        "请换算后把表头改为“{label}（{own}）”",
        'Row {row}, column {letter}: "{value}" is in {unit}, but {col} is reported in {own}; convert the values '
        "and name the column {label}（{own}）",
    ),
    "missing_column": (
        "第 {row} 行表头中缺少必填栏目“{label}”，请使用系统提供的模板，不要删除列",
        "Row {row}: the required column {col} is missing from the header; use the template and keep all columns",
    ),
    # Cells that are not numbers, periods or allowed values (opsmon.ingest.cells).
    "bad_number": (
        "第 {row} 行“{label}”的值“{value}”不是有效数字",
        'Row {row}, {col}: "{value}" is not a number',
    ),
    "bad_number.scientific": (
        "第 {row} 行“{label}”的值“{value}”是科学计数法，数字可能已被 Excel 截断，请把单元格设为“数值”格式后重新导出",
        'Row {row}, {col}: "{value}" is in scientific notation and may have been truncated by Excel; '
        "format the cells as numbers and export again",
    ),
    "bad_number.too_large": (
        "第 {row} 行“{label}”的值“{value}”大得不合理，请核对",
        'Row {row}, {col}: "{value}" is implausibly large',
    ),
    "too_many_decimals": (
        "第 {row} 行“{label}”的值“{value}”超过 2 位小数（金额以元为单位，最多精确到分）",
        'Row {row}, {col}: "{value}" has more than 2 decimals (amounts are in yuan, to the fen)',
    ),
    "not_integer": (
        "第 {row} 行“{label}”的值“{value}”应为整数",
        'Row {row}, {col}: "{value}" must be a whole number',
    ),
    "bad_period": (
        "第 {row} 行“{label}”的值“{value}”不是有效的年月，请写成 2025-03 这样的格式",
        'Row {row}, {col}: "{value}" is not a year and month; write it like 2025-03',
    ),
    "bad_period.ambiguous": (
        "第 {row} 行“{label}”的值“{value}”含义不明确：可能是 {year} 年 1 月，也可能是 Excel 把“{year}.10”变成了“{value}”，"
        "请写成 {year}-01 或 {year}-10",
        'Row {row}, {col}: "{value}" is ambiguous: January, or October after Excel dropped the trailing zero '
        "of {year}.10; write {year}-01 or {year}-10",
    ),
    "bad_value.bool": (
        "第 {row} 行“{label}”的值“{value}”无法识别，请填写“是”或“否”（也可以用 Y/N、yes/no、1/0、true/false、√/×）",
        'Row {row}, {col}: "{value}" is not recognised; write 是 or 否 (or Y/N, yes/no, 1/0, true/false, √/×)',
    ),
    "bad_value.enum": (
        "第 {row} 行“{label}”的值“{value}”不在可选范围内，可选值为：{allowed}",
        'Row {row}, {col}: "{value}" is not one of the allowed values: {allowed}',
    ),
    # The rules of the contract (opsmon.ingest.validate).
    "missing_value": (
        "第 {row} 行“{label}”是必填项，不能为空",
        "Row {row}, {col}: required, cannot be empty",
    ),
    "bad_hospital_code.length": (
        "第 {row} 行“{label}”的值“{value}”不是有效的统一社会信用代码：应为 18 位，实际为 {length} 位",
        'Row {row}, {col}: "{value}" is not a valid unified social credit code: it must have 18 characters, '
        "not {length}",
    ),
    "bad_hospital_code.chars": (
        "第 {row} 行“{label}”的值“{value}”不是有效的统一社会信用代码：含有不允许的字符"
        "（只用数字和大写字母，不用 I、O、Z、S、V）",
        'Row {row}, {col}: "{value}" is not a valid unified social credit code: it contains characters '
        "that are not allowed (digits and capitals without I, O, Z, S, V)",
    ),
    "bad_hospital_code.format": (
        "第 {row} 行“{label}”的值“{value}”不是有效的统一社会信用代码：第 3 至 8 位应为 6 位数字的行政区划代码",
        'Row {row}, {col}: "{value}" is not a valid unified social credit code: characters 3 to 8 must be '
        "the 6-digit division code",
    ),
    "bad_hospital_code.check": (
        "第 {row} 行“{label}”的值“{value}”不是有效的统一社会信用代码：校验位不对，请核对是否抄错",
        'Row {row}, {col}: "{value}" is not a valid unified social credit code: its check character is wrong; '
        "check for a typo",
    ),
    "unknown_hospital": (
        "第 {row} 行的机构代码“{value}”不在机构名录中，请核对代码，或联系管理员先把该机构加入名录",
        'Row {row}, {col}: "{value}" is not in the hospital registry; check the code or ask the administrator '
        "to add the hospital",
    ),
    "unknown_hospital.lead": (
        "第 {row} 行“{label}”的值“{value}”既不在机构名录中，也不在本文件中",
        'Row {row}, {col}: "{value}" is neither in the hospital registry nor in this file',
    ),
    "alliance_lead_self": (
        "第 {row} 行“{label}”不能填本机构自己的代码（本机构就是牵头医院时请留空）",
        "Row {row}, {col}: cannot be the hospital's own code (leave it empty for the lead hospital itself)",
    ),
    "out_of_scope": (
        "第 {row} 行的机构代码“{value}”不是您所在的机构，您只能上报本机构的数据",
        'Row {row}, {col}: "{value}" is not your hospital; you can only submit your own hospital\'s data',
    ),
    "hospital_closed": (
        "第 {row} 行：机构“{name}”已于 {closed} 关闭，不能上报 {period} 的数据",
        "Row {row}: {name} closed in {closed}; it cannot report {period}",
    ),
    "future_period": (
        "第 {row} 行“{label}”为 {period}，还没有到这个月（现在是 {current}），不能上报未来月份的数据",
        "Row {row}, {col}: {period} is after the current month ({current})",
    ),
    "duplicate_row": (
        "第 {row} 行与第 {first} 行重复：同一机构同一报告期（{key}）只能填一行",
        "Row {row} repeats row {first}: one row per hospital and period ({key})",
    ),
    "duplicate_row.registry": (
        "第 {row} 行与第 {first} 行重复：机构代码 {key} 只能出现一次",
        "Row {row} repeats row {first}: hospital code {key} may appear only once",
    ),
    "negative_value": (
        "第 {row} 行“{label}”的值“{value}”是负数，应大于或等于 0",
        'Row {row}, {col}: "{value}" is negative; it must be 0 or more',
    ),
    "identity_violation": (
        "第 {row} 行：{arith_zh}",
        "Row {row}: {arith_en}",
    ),
    "budget_authority_conflict": (
        "第 {row} 行“{label}”为“{value}”，但“预算管理医院”填的是“{flag}”，两者矛盾："
        "国家或省预算管理医院的“预算管理医院”应填“是”，预算管理级别为“无”时应填“否”。按“{value}”应填“{should}”，请核对",
        'Row {row}, {col}: "{value}" contradicts 预算管理医院 (is_budget_managed) = "{flag}": a national or '
        "provincial budget-managed hospital (国家/省) is budget-managed, 无 is not; with \"{value}\" it must be "
        "{should_en}",
    ),
    "unknown_adcode": (
        "第 {row} 行“{label}”的值“{value}”不是本省已知的县级行政区划代码（6 位数字）",
        'Row {row}, {col}: "{value}" is not a known county-level division code (6 digits)',
    ),
    # Plausibility warnings against the hospital's previous months (opsmon.ingest.validate).
    "unit_slip.smaller": (
        "第 {row} 行“{label}”为 {now}，约是上月（{prev_period}）{prev} 的千分之一，请检查是否把“元”填成了“千元”或“万元”",
        "Row {row}, {col}: {now} is about 1/1000 of last month's ({prev_period}) {prev}; "
        "was it entered in thousands or 万元 instead of yuan?",
    ),
    "unit_slip.larger": (
        "第 {row} 行“{label}”为 {now}，约是上月（{prev_period}）{prev} 的 1000 倍，请检查上月或本月是否填错了单位",
        "Row {row}, {col}: {now} is about 1000 times last month's ({prev_period}) {prev}; "
        "check the unit of this month or last month",
    ),
    "unusual_change": (
        "第 {row} 行“{label}”为 {now}，比上月（{prev_period}）的 {prev} {direction_zh} {pct}，"
        "远超本机构以往的月度波动，请核对",
        "Row {row}, {col}: {now} is {pct} {direction_en} than last month's ({prev_period}) {prev}, "
        "far outside this hospital's usual month-to-month range",
    ),
    "bound_exceeded": (
        "第 {row} 行“{label}”为 {now} 元，超过{bound_label} {bound} 元的 {factor} 倍（{limit} 元），请核对"
        "（出院患者费用可含以前月份发生的费用，本提示不影响上报）",
        "Row {row}, {col}: {now} is more than {factor} times {bound_en} {bound} ({limit}); please check "
        "(discharged patients' costs may include earlier months: this does not block the file)",
    ),
    "beds_jump": (
        "第 {row} 行“{label}”为 {now} 张，比上月（{prev_period}）的 {prev} 张{direction_zh} {pct}（超过 20%），请核对",
        "Row {row}, {col}: {now} beds, {pct} {direction_en} than last month's ({prev_period}) {prev} "
        "(more than 20 %)",
    ),
    # What the uploader may send (opsmon.ingest.api).
    "period_locked": (
        "报告期 {period} 已由 {locked_by} 于 {locked_at} 锁定，不能再修改。如需更正请联系省级管理员解锁。",
        "Period {period} was locked by {locked_by} at {locked_at}; ask the provincial administrator to unlock it.",
    ),
    "kind_not_permitted": (
        "您的账号不能上报{kind_zh}，请联系省级管理员。",
        "Your account may not submit {kind_en}; ask the provincial administrator.",
    ),
    # Problems left off a capped list (more_problems below).
    "more_problems.error": (
        "另有 {count} 条错误未列出（只列出前 {shown} 条）。请先按上面列出的错误改正文件（同类错误往往整列都有），"
        "重新上传后系统会再列出其余的错误",
        "{count} more errors not listed (only the first {shown} are shown). Correct the file for the errors above "
        "(the same mistake often runs down a whole column) and upload it again to see the rest",
    ),
    "more_problems.warning": (
        "另有 {count} 条提示未列出（只列出前 {shown} 条）",
        "{count} more warnings not listed (only the first {shown} are shown)",
    ),
}
# period_locked is built by opsmon.ingest.store.check_locks, with its message there.

SHOWN_VALUE_CHARS = 40


def shown_value(value: Any) -> str:
    """*value* as a message shows it: at most SHOWN_VALUE_CHARS characters."""
    text = "" if value is None else str(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def make_problem(
    code: str,
    *,
    row: int | None = None,
    field: Field | None = None,
    column: str | None = None,
    value: Any = None,
    variant: str | None = None,
    severity: Severity = "error",
    **args: Any,
) -> Problem:
    """One :class:`Problem` from the template ``code`` (or ``code.variant``) of :data:`MESSAGES`.

    *row* and *field* (or a *column* that is no field) say where it is, *value* what the cell
    holds; *args* fill the template's own placeholders.
    """
    zh, en = MESSAGES[f"{code}.{variant}" if variant else code]
    fmt = {
        "row": row,
        "value": shown_value(value),
        "label": field.label if field else "",
        "col": f"{field.label} ({field.code})" if field else "",
        **args,
    }
    return Problem(
        row=None if row is None else int(row),
        column=field.code if field else column,
        value=None if value is None else str(value),
        code=code,
        message_zh=zh.format(**fmt),
        message_en=en.format(**fmt),
        severity=severity,
    )


# ---------------------------------------------------------------------------------------------
def in_sheet_order(problems: Iterable[Problem], kind: Kind) -> list[Problem]:
    """File-level problems first, then by row and column as the sheet shows them (stable)."""
    order = {f.code: i for i, f in enumerate(FIELDS[kind])}
    return sorted(problems, key=lambda p: (p.row is not None, p.row or 0, order.get(p.column or "", -1)))


# ---------------------------------------------------------------------------------------------
# At most this many problems of each severity are listed for a file; the rest are counted in one
# last problem. A clerk reads the first screenful, fixes the pattern and uploads again: a list of
# 400,000 identical messages helps nobody, and it is what made one small upload a 242 MB JSON
# document and a 546 MB preview (each problem is ~0.5 KB as a Python object, more as JSON / HTML).
MAX_ERRORS = 1_000
MAX_WARNINGS = 200
MORE_PROBLEMS = "more_problems"


def more_problems(severity: Severity, count: int, shown: int) -> Problem:
    """The problem that stands for *count* further problems of *severity* left off a list of *shown*."""
    return make_problem(MORE_PROBLEMS, variant=severity, severity=severity, value=count,
                        count=f"{count:,}", shown=f"{shown:,}")


def capped(problems: list[Problem], max_errors: int = MAX_ERRORS, max_warnings: int = MAX_WARNINGS) -> list[Problem]:
    """*problems* with at most *max_errors* errors and *max_warnings* warnings, in their order.

    The problems left off are counted in one last ``more_problems`` problem of their severity,
    which also takes in the counts of ``more_problems`` already in the list (a list capped before,
    as :func:`opsmon.ingest.parse.parse` caps its cell problems). A list with an error keeps one,
    so a file that is rejected stays rejected.
    """
    limits = {"error": max_errors, "warning": max_warnings}
    kept: list[Problem] = []
    shown = {"error": 0, "warning": 0}
    hidden = {"error": 0, "warning": 0}
    for p in problems:
        if p.code == MORE_PROBLEMS:
            hidden[p.severity] += int(p.value or 0)
        elif shown[p.severity] < limits[p.severity]:
            kept.append(p)
            shown[p.severity] += 1
        else:
            hidden[p.severity] += 1
    return kept + [more_problems(s, hidden[s], shown[s]) for s in ("error", "warning") if hidden[s]]


def total(problems: list[Problem]) -> int:
    """How many problems *problems* stands for: the listed ones and those a ``more_problems`` counts."""
    return sum(int(p.value or 0) if p.code == MORE_PROBLEMS else 1 for p in problems)
