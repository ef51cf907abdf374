"""Read a hospital's file (CSV or XLSX) into typed columns, never raising for bad input.

``parse`` turns the bytes of an upload into a :class:`Parsed`: the kind of report, one
row per non-blank data row indexed by the row number a person sees in Excel, the
typed values, the original cell text, and the parse-level :class:`Problem` list
(file errors, header problems, cells that are not numbers / periods / allowed values).
The rules of the contract (missing values, codes, identities, plausibility) are in
:mod:`opsmon.ingest.validate`.

Everything a person reads comes from one table of message templates per module
(:data:`MESSAGES` here), Chinese and English side by side, built by :func:`make_problem`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import logging
import re
import struct
import unicodedata
import warnings
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from opsmon.ingest.fields import BOOL_TOKENS, FIELDS, KIND_MARKERS, KINDS, MISSING_TOKENS, Field, Kind
from opsmon.ingest.problems import MAX_ERRORS, Problem, Severity, capped, more_problems

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97-2003), .et, encrypted .xlsx

# ---------------------------------------------------------------------------------------------
# Caps on the size of the table, checked before the big Python structures are built: a file
# under the 20 MB upload limit must not cost gigabytes (a 9.9 MB CSV of a million columns took
# 6.7 GB and 137 s before these caps; bench/hostile.py measures each hostile file now).
#
# Columns: the widest report has WIDEST columns (35, fields.py); 500 leaves room for hundreds of
# a clerk's own columns and still refuses the million-column file at once.
MAX_COLUMNS = 500
# Cells, rows × columns of the table as read (blank rows and columns inside it included; blank
# rows after the last one with content are not read). The largest real file is a national
# monthly file, 12,000 hospitals × 35 columns = 420,000 cells (a national registry is
# 12,000 × 15 = 180,000). 750,000 is 1.8× that: 12,000 rows with 27 columns of the clerk's own,
# or 21,000 rows of 35. Parsing costs ~170 bytes a cell for a CSV and ~240 for an .xlsx (measured
# on the 420,000-cell monthly file: +71 MB and +99 MB above idle); at the cap parse measured
# +123 MB (a CSV of bad numbers), +169 MB (an .xlsx) and +189 MB (an .xlsx whose every cell is a
# shared string of its own) — under the 300 MB one upload may cost (bench/hostile.py).
MAX_CELLS = 750_000
# Rows, blank ones inside the table included: each costs ~0.7 KB beyond its cells in an .xlsx
# (openpyxl's row, the lists here; measured: 749,000 one-cell rows took 546 MB), so a tall, narrow
# table needs a cap of its own. The largest real file has 12,000 rows (a national month or
# registry); 50,000 is 4× that, and bounds the rows' own cost to ~35 MB.
MAX_ROWS = 50_000
# A record of a CSV with quotes is read by csv.reader, which builds the whole record before
# it can be counted: its raw commas are counted first, line by line. Quoted amounts with thousands
# separators ("1,234,567.89") have up to 5 commas of their own, so 10 a column is generous.
MAX_RECORD_COMMAS = 10 * MAX_COLUMNS
# An .xlsx is a zip, and may unpack to far more than its size. A 12,000-row monthly workbook
# written by the project's own writer (opsmon.demo.files, 35 columns, as bench/hostile.py builds
# it) is 3.4 MB and unpacks to 19.7 MB, nearly all of it the sheet (~47 bytes a cell). 100 MB is
# 5× that, and the cell cap holds any sheet under ~35 MB. The sizes the zip declares are checked
# before anything is unpacked, and the bytes actually unpacked are counted as they come (a member
# may lie about its size).
MAX_UNPACKED = 100 * 1024 * 1024
# openpyxl reads the parts other than the sheets whole even in read-only mode (the shared-strings
# table into a list, the styles into objects): each may unpack to at most this. A national
# registry's shared strings are ~1–2 MB (12,000 names and codes); a month exported with every
# number as text ~12 MB (420,000 strings of ~28 bytes); Excel's limit of 64,000 cell formats
# makes a styles part of a few MB.
MAX_PART = 16 * 1024 * 1024
# zipfile reads the central directory (one entry per member) whole when it opens the file: a
# workbook's is a few KB, while 20 MB of it would be ~230,000 members and ~120 MB of objects.
MAX_DIRECTORY = 1024 * 1024
MONEY_LIMIT = 1e16  # numeric(18,2)
COUNT_LIMIT = 2**31 - 1  # integer
SHOWN_VALUE_CHARS = 40

WIDEST = max(len(fields) for fields in FIELDS.values())

KIND_NAMES = {"monthly": ("月度经济运行快报", "a monthly financial report"),
              "progress": ("运营管理建设进展", "an operations-management progress report"),
              "registry": ("机构名录", "a hospital registry")}

# ---------------------------------------------------------------------------------------------
# Messages: problem code (or "code.variant") -> (Chinese, English). Placeholders: {row},
# {value}, {label} (the Chinese label), {col} ("label (code)"), plus per-message arguments.
MESSAGES: dict[str, tuple[str, str]] = {
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
        "（全国一个月的月报约 12,000 行 × 35 列 = 420,000 个）。"
        "请删除表格下方和右侧多余的行和列（包括看起来是空白、但有内容或格式的），或把文件拆成几个分别上传",
        "The table has at least {rows} rows × {cols} columns = {cells} cells, over the limit of {limit} (a national "
        "month is about 12,000 rows × 35 columns = 420,000); the file cannot be read. Delete the extra rows and "
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
    "missing_column": (
        "第 {row} 行表头中缺少必填栏目“{label}”，请使用系统提供的模板，不要删除列",
        "Row {row}: the required column {col} is missing from the header; use the template and keep all columns",
    ),
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
}


def _shown(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= SHOWN_VALUE_CHARS else text[: SHOWN_VALUE_CHARS - 1] + "…"


def make_problem(
    templates: Mapping[str, tuple[str, str]],
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
    """One :class:`Problem` from the template ``code`` (or ``code.variant``) of *templates*."""
    zh, en = templates[f"{code}.{variant}" if variant else code]
    fmt = {
        "row": row,
        "value": _shown(value),
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


def _problem(code: str, **kwargs: Any) -> Problem:
    return make_problem(MESSAGES, code, **kwargs)


# ---------------------------------------------------------------------------------------------
@dataclass
class Parsed:
    """A parsed file: typed values and original text, indexed by spreadsheet row number."""

    kind: Kind | None
    frame: pd.DataFrame
    raw: pd.DataFrame
    header_row: int | None
    columns: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


DTYPES = {"uscc": "string", "text": "string", "adcode": "string", "period": "string", "enum": "string",
          "money": "float64", "count": "Int64", "bool": "boolean"}


def empty_frames(fields: list[Field] | tuple[Field, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A typed frame and raw frame with no rows."""
    index = pd.Index([], dtype="int64", name="row")
    frame = pd.DataFrame({f.code: pd.Series(dtype=DTYPES[f.type], index=index) for f in fields}, index=index)
    raw = pd.DataFrame({f.code: pd.Series(dtype="string", index=index) for f in fields}, index=index)
    return frame, raw


def _fail(kind: Kind | None, code: str, *, header_row: int | None = None, **kwargs: Any) -> Parsed:
    frame, raw = empty_frames()
    return Parsed(kind, frame, raw, header_row, {}, [_problem(code, row=header_row, **kwargs)])


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


# ---------------------------------------------------------------------------------------------
# Reading the grid of cells.
class _NotATable(Exception):
    def __init__(self, code: str = "not_a_table", variant: str | None = None, **args: Any):
        super().__init__(code)
        self.code, self.variant, self.args_ = code, variant, args


# Control characters (tab, LF and CR aside) mean a binary file, not text. Looked for in the bytes:
# in UTF-8 and in GB18030 these bytes never occur inside a multi-byte character (GB18030's
# trailing bytes are 0x30–0x39, 0x40–0x7E and 0x80–0xFE), so the bytes hold one exactly when
# the decoded text does — and bytes.translate finds them ~10× faster than a regex over the text.
_CONTROL = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
_MARKUP = re.compile(r"^\s*<(\?xml|!doctype\s+html|html|table|meta|head)\b", re.IGNORECASE)
# Line breaks str.splitlines knows beyond CR / LF (the others are control characters, refused).
_OTHER_LINE_BREAKS = ("\x85", "\u2028", "\u2029")


def _decode(content: bytes) -> str:
    content = content.rstrip(b"\x1a")  # the end-of-file mark some old DOS/Windows tools append
    if len(content.translate(None, _CONTROL)) != len(content):  # a copy without them is shorter
        raise _NotATable()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return codecs.decode(content, encoding)
        except UnicodeDecodeError:
            continue
    raise _NotATable()


def _too_many_columns(row: int, count: int, variant: str | None = None) -> _NotATable:
    return _NotATable("too_many_columns", variant, row=row, count=f"{count:,}", limit=f"{MAX_COLUMNS:,}",
                      widest=WIDEST)


def _too_many_rows(rows: int) -> _NotATable:
    return _NotATable("too_many_rows", rows=f"{rows:,}", limit=f"{MAX_ROWS:,}")


def _too_many_cells(rows: int, cols: int) -> _NotATable:
    return _NotATable("too_many_cells", rows=f"{rows:,}", cols=f"{cols:,}", cells=f"{rows * cols:,}",
                      limit=f"{MAX_CELLS:,}")


def _read_csv(content: bytes) -> list[list[Any]]:
    text = _decode(content)
    if _MARKUP.match(text[:2000]):
        raise _NotATable("unsupported_format", "html")
    text = _without_trailing_blank_lines(text)
    rows = _split_unquoted(text)
    if rows is not None:
        return rows
    return _read_quoted(text)


_BLANK_CHARS = ", \t\r\n"


def _without_trailing_blank_lines(text: str) -> str:
    """*text* without the lines of only commas and spaces at its end (what Excel writes for a
    used range that runs on below the table), so they count against no cap; the rows before
    keep their numbers, and blank rows are skipped anyway."""
    end = len(text)
    while end:  # back from the end, 64 K characters at a time: no copy of the whole text
        start = max(0, end - 65536)
        kept = len(text[start:end].rstrip(_BLANK_CHARS))
        end = start + kept
        if kept:
            break
    breaks = [i for i in (text.find("\n", end), text.find("\r", end)) if i >= 0]
    cut = min(breaks) if end and breaks else end
    if text.count("\n", cut) + text.count("\r", cut) - text.count("\r\n", cut) <= 1:
        return text  # no blank line, at most the last line's own line break: no copy
    return text[:cut]


def _split_unquoted(text: str) -> list[list[str]] | None:
    """The rows of a CSV without a quote character, as ``csv.reader`` reads them, else None.

    Without quotes a record is a line (CR, LF or CR LF) and a field what lies between commas;
    ``str.split`` does that about twice as fast as the csv module. An empty line is ``[]``, as
    csv.reader gives it. Files with quotes, other line breaks or a field over csv's size limit
    (which csv.reader refuses) go through csv.reader.

    The lines and their commas are counted before anything is split (counting allocates
    nothing): a table over :data:`MAX_ROWS`, :data:`MAX_COLUMNS` or :data:`MAX_CELLS` is refused first.
    """
    if '"' in text or any(c in text for c in _OTHER_LINE_BREAKS):
        return None
    lines_count = text.count("\n") + text.count("\r") - text.count("\r\n") + bool(text and text[-1] not in "\r\n")
    if lines_count > MAX_ROWS:
        raise _too_many_rows(lines_count)
    lines = text.splitlines()
    commas = max((line.count(",") for line in lines), default=0)
    if commas >= MAX_COLUMNS:
        row = next(i for i, line in enumerate(lines) if line.count(",") >= MAX_COLUMNS)
        raise _too_many_columns(row + 1, lines[row].count(",") + 1)
    if len(lines) * (commas + 1) > MAX_CELLS:
        raise _too_many_cells(len(lines), commas + 1)
    if lines and max(map(len, lines)) > csv.field_size_limit():
        return None
    return [line.split(",") if line else [] for line in lines]


def _read_quoted(text: str) -> list[list[str]]:
    """The rows of a CSV with quotes, through ``csv.reader``, refused as soon as a cap is passed.

    csv.reader builds a whole record before it can be counted, and a record may run over many
    lines (a quoted field holds line breaks): the commas of the lines fed to the record being
    read are counted first (:data:`MAX_RECORD_COMMAS`), then each record's fields.
    """
    rows: list[list[str]] = []
    pending = 0  # commas in the lines of the record being read

    def lines() -> Any:
        nonlocal pending
        for line in io.StringIO(text, newline=""):
            pending += line.count(",")
            if pending > MAX_RECORD_COMMAS:
                raise _too_many_columns(len(rows) + 1, pending, "commas")
            yield line

    width = 0
    try:
        for record in csv.reader(lines()):
            pending = 0
            rows.append(record)
            if len(record) > MAX_COLUMNS:
                raise _too_many_columns(len(rows), len(record))
            if len(rows) > MAX_ROWS:
                raise _too_many_rows(len(rows))
            width = max(width, len(record), 1)
            if len(rows) * width > MAX_CELLS:
                raise _too_many_cells(len(rows), width)
    except csv.Error as exc:
        raise _NotATable() from exc
    return rows


# ---------------------------------------------------------------------------------------------
# Reading a workbook. Every member of the zip is unpacked once, in pieces, before openpyxl opens
# it: the bytes are counted (against what the member declares, and against MAX_UNPACKED), and
# the XML parts go through expat, which counts rows, cells, strings and elements without keeping
# any of them. openpyxl builds a whole row before it yields it, the whole shared-strings table
# before the first row, and a tree of every other part it reads (styles, workbook, properties):
# each must be known to be small before openpyxl sees it.
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main "  # expat: "namespace local-name"
_ROW, _CELL, _SHARED_STRING, _SHEET_DATA, _DIMENSION = (_MAIN + t for t in ("row", "c", "si", "sheetData",
                                                                            "dimension"))
_CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types "
_WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
# Parts openpyxl reads whole by their name, whatever [Content_Types].xml says they are.
_NAMED_PARTS = frozenset({"[Content_Types].xml", "xl/workbook.xml", "xl/styles.xml", "docProps/core.xml",
                          "docProps/app.xml", "docProps/custom.xml", "xl/theme/theme1.xml"})
# Elements of a part openpyxl reads as a tree (for a sheet: those before its rows, which it reads
# for every sheet when it opens the workbook). Excel's largest styles part (64,000 formats) has
# ~200,000; each costs openpyxl ~0.1–1 KB.
MAX_ELEMENTS = 300_000
# Elements of one cell (its value, formula, inline string and the runs of its rich text) or one
# shared string: openpyxl builds them all, as a tree and then as objects, before it goes on. A
# cell has 1–3, a rich-text string ~8 a run.
MAX_CELL_ELEMENTS = 1_000
_EOCD = b"PK\x05\x06"  # end of central directory record
_EOCD64_LOCATOR, _EOCD64 = b"PK\x06\x07", b"PK\x06\x06"


class _Stop(Exception):
    """Raised in an expat handler to stop reading a part."""


def _refuse_doctype(*_args: Any) -> None:
    raise _NotATable()


def _too_many_elements(part: str) -> _NotATable:
    return _NotATable("file_too_large", "elements", part=_shown(part))


def _column_numbers() -> dict[str, int]:
    """A → 1, AA → 27, …, ZZZ → 18,278: the column references openpyxl accepts."""
    letters = [chr(c) for c in range(65, 91)]
    names = letters + [a + b for a in letters for b in letters]
    names += [a + b for a in letters for b in names[26:]]
    return {name: n for n, name in enumerate(names, 1)}


_COLUMN_NUMBERS = _column_numbers()


class _PartScan:
    """One member of a workbook, read by expat as it is unpacked.

    Counts the elements before a sheet's rows (all of them, for a part that is not a sheet)
    and the shared strings. For a sheet also the extent openpyxl will give it: the last row
    with a cell and the widest column (a cell's ``r`` reference, else the column after the
    cell before, as openpyxl places them), and the first cap it passes (``over``), where the
    reading stops. A DTD (what entity expansion needs; never in a real workbook) is refused.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        # The names compared below, interned: expat hands back these very objects.
        names = {n: n for n in (_ROW, _CELL, _SHARED_STRING, _SHEET_DATA, _DIMENSION)}
        self.parser = xml.parsers.expat.ParserCreate(namespace_separator=" ", intern=names)
        self.parser.StartDoctypeDeclHandler = _refuse_doctype
        self.parser.StartElementHandler, self._sync = self._handler()
        self.elements = self.strings = 0
        self.cells = self.last_row = self.width = 0
        self.sheet = False  # has rows (a <sheetData>)
        self.dimension = False  # has a <dimension> before its rows
        self.over: _NotATable | None = None  # a cap this part passes as a sheet
        self.reading = True  # False once the part proved not XML, or a cap stopped it
        self.broken = False  # not XML openpyxl could read

    def _handler(self) -> tuple[Any, Any]:
        # A closure over local counters (faster than attributes): ~0.5 s for a 12,000-row month.
        row = col = in_row = cells = last_row = width = elements = in_cell = strings = in_string = 0
        in_rows = dimension = False
        numbers = _COLUMN_NUMBERS
        scan = self

        def start(name: str, attrs: dict[str, str]) -> None:
            nonlocal row, col, in_row, cells, last_row, width, elements, in_cell, strings, in_string, in_rows, \
                dimension
            if name is _CELL:
                in_cell = 0
                ref = attrs.get("r")
                if ref:
                    col = numbers.get(ref.rstrip("0123456789"), 0)
                    if not col:
                        scan.broken = True
                        raise _Stop()
                else:
                    col += 1
                in_row += 1
                cells += 1
                last_row = row
                if col > width:
                    width = col
                if col > MAX_COLUMNS or in_row > MAX_COLUMNS:
                    scan.over = _too_many_columns(row, max(col, in_row))
                    raise _Stop()
                if row > MAX_ROWS:
                    scan.over = _too_many_rows(row)
                    raise _Stop()
                if row * width > MAX_CELLS or cells > MAX_CELLS:
                    scan.over = _too_many_cells(row, width)
                    raise _Stop()
            elif name is _ROW:
                ref = attrs.get("r")
                if not ref:
                    row += 1
                elif ref.isdigit():
                    row = int(ref)
                else:
                    try:
                        row = int(float(ref))
                    except (ValueError, OverflowError):
                        scan.broken = True
                        raise _Stop() from None
                col = in_row = 0
            elif in_rows:  # in a sheet's rows: a cell's value, formula or inline string
                in_cell += 1
                if in_cell > MAX_CELL_ELEMENTS:
                    scan.over = _too_many_elements(scan.name)
                    raise _Stop()
            elif name is _SHARED_STRING:
                strings += 1
                in_string = 0
            else:
                elements += 1
                in_string += 1
                if strings and in_string > MAX_CELL_ELEMENTS:  # one shared string of too many runs
                    raise _too_many_elements(scan.name)
                in_rows = name is _SHEET_DATA
                dimension = dimension or name is _DIMENSION

        def sync() -> None:
            scan.cells, scan.last_row, scan.width, scan.elements = cells, last_row, width, elements
            scan.strings, scan.sheet, scan.dimension = strings, in_rows, dimension

        return start, sync

    def feed(self, data: bytes, final: bool = False) -> None:
        if not self.reading:
            return
        try:
            self.parser.Parse(data, final)
        except _Stop:
            self.reading = False
        except xml.parsers.expat.ExpatError:  # not XML (a picture), or damaged: openpyxl decides
            self.reading, self.broken = False, True
        finally:
            self._sync()


def _directory_size(content: bytes) -> int:
    """The size of the zip's central directory, from its end record (found as zipfile finds it)."""
    at = len(content) - 22
    if at < 0 or content[at:at + 4] != _EOCD:
        at = content.rfind(_EOCD, max(0, len(content) - 65_557), max(0, len(content) - 21))
    if at < 0:
        raise _NotATable()
    (size,) = struct.unpack_from("<I", content, at + 12)
    locator = at - 20
    if locator >= 0 and content[locator:locator + 4] == _EOCD64_LOCATOR:  # zip64: the size is in its own record
        (offset,) = struct.unpack_from("<Q", content, locator + 8)
        if content[offset:offset + 4] != _EOCD64 or offset + 48 > len(content):
            raise _NotATable()
        (size,) = struct.unpack_from("<Q", content, offset + 40)
    return size


def _content_types(zf: zipfile.ZipFile) -> dict[str, str]:
    """Part name → content type, from the Override entries of [Content_Types].xml (no DTD)."""
    types: dict[str, str] = {}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == _CONTENT_TYPES_NS + "Override" and "PartName" in attrs:
            types.setdefault(attrs["PartName"].lstrip("/"), attrs.get("ContentType", ""))

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.StartElementHandler = start
    try:
        info = zf.getinfo("[Content_Types].xml")
    except KeyError:
        return types  # openpyxl refuses the file
    if info.file_size > MAX_PART:
        raise _NotATable("file_too_large", "part", part=info.filename, limit=_size(MAX_PART))
    with contextlib.suppress(xml.parsers.expat.ExpatError):  # damaged: openpyxl refuses the file
        parser.Parse(zf.read(info), True)
    return types


def _scan_zip(content: bytes) -> dict[str, _PartScan]:
    """Check the sizes of the zip's members and read each one with :class:`_PartScan`."""
    if _directory_size(content) > MAX_DIRECTORY:
        raise _NotATable()
    unpacked_limit = {"limit": _size(MAX_UNPACKED)}
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > MAX_UNPACKED:
                raise _NotATable("file_too_large", "unpacked", **unpacked_limit)
            types = _content_types(zf)

            def is_sheet(name: str) -> bool:
                return (types.get(name) == _WORKSHEET_TYPE and name not in _NAMED_PARTS
                        and not name.endswith(".rels"))

            for i in infos:
                if not is_sheet(i.filename) and i.file_size > MAX_PART:
                    raise _NotATable("file_too_large", "part", part=_shown(i.filename), limit=_size(MAX_PART))
            scans: dict[str, _PartScan] = {}
            total = strings = 0
            for i in infos:
                scan = scans[i.filename] = _PartScan(i.filename)
                unpacked = 0
                with zf.open(i) as member:
                    while chunk := member.read(1024 * 1024):
                        unpacked += len(chunk)
                        total += len(chunk)
                        if unpacked > i.file_size:  # more than it declared (zipfile stops there itself)
                            raise _NotATable()
                        if total > MAX_UNPACKED:
                            raise _NotATable("file_too_large", "unpacked", **unpacked_limit)
                        scan.feed(chunk)
                        if strings + scan.strings > MAX_CELLS:
                            raise _NotATable("too_many_cells", "strings", limit=f"{MAX_CELLS:,}")
                        if scan.elements > MAX_ELEMENTS and types.get(i.filename) != _SHARED_STRINGS_TYPE:
                            raise _too_many_elements(i.filename)
                scan.feed(b"", final=True)
                strings += scan.strings
                if scan.sheet and not scan.dimension and scan.over is not None:
                    # openpyxl reads every sheet up to its <dimension> when it opens the workbook,
                    # keeping an element a row: without one, the whole sheet — it must be in the caps.
                    raise scan.over
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError,
            ValueError, struct.error) as exc:
        raise _NotATable() from exc
    return scans


def _read_xlsx(content: bytes) -> list[list[Any]]:
    import openpyxl  # noqa: PLC0415 - only for xlsx files

    scans = _scan_zip(content)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                if not wb.worksheets:
                    raise _NotATable()
                ws = wb.worksheets[0]
                # The first sheet's extent from the scan (openpyxl's read-only sheet keeps its
                # part name here): refused past a cap, else read to its last row and column only.
                scan = scans.get(ws._worksheet_path.lstrip("/"))
                if scan is None or scan.broken:
                    raise _NotATable()
                if scan.over is not None:
                    raise scan.over
                if not scan.width:
                    return []
                ws.reset_dimensions()  # some exporters write a wrong <dimension>; the scan counted every row
                return [list(r) for r in ws.iter_rows(max_row=scan.last_row, max_col=scan.width, values_only=True)]
            finally:
                wb.close()
    except _NotATable:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign zip
        raise _NotATable() from exc


def _cell_text(v: Any) -> str:
    """A cell as the text a person would see (roughly Excel's General format)."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if np.isfinite(v) and v.is_integer() and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d") if v.time() == dt.time() else v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)


# ---------------------------------------------------------------------------------------------
# Header matching.
_WS = re.compile(r"\s+")
_TRAILING_GROUP = re.compile(r"(\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】)$")


def _norm(text: str) -> str:
    return _WS.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _lookup(kind: Kind) -> dict[str, str]:
    """Normalised code / label / label without its own trailing bracket group → field code."""
    table: dict[str, str] = {}
    for f in FIELDS[kind]:
        label = _norm(f.label)
        table.setdefault(_TRAILING_GROUP.sub("", label), f.code)  # 能源费用（水电气热） also as 能源费用
    for f in FIELDS[kind]:
        table[_norm(f.label)] = f.code
        table[_norm(f.code)] = f.code
    return table


LOOKUPS: dict[Kind, dict[str, str]] = {k: _lookup(k) for k in KINDS}


def match_header(text: str, kind: Kind) -> str | None:
    """The field code a header cell names in *kind* (full label first, then without a trailing unit)."""
    n = _norm(text)
    table = LOOKUPS[kind]
    for _ in range(3):
        if n in table:
            return table[n]
        stripped = _TRAILING_GROUP.sub("", n)
        if stripped == n or not stripped:
            return None
        n = stripped
    return None


def _is_hospital_code_header(text: str) -> bool:
    return match_header(text, "monthly") == "hospital_code"


def _column_letter(j: int) -> str:
    letters = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _detect_kind(header: list[str]) -> Kind | None:
    scores: dict[Kind, int] = {}
    for k in KINDS:
        codes = {match_header(h, k) for h in header if h}
        if any(m in codes for m in KIND_MARKERS[k]):
            scores[k] = len(codes - {None, "hospital_code", "period"})
    if not scores:
        return None
    best = max(scores.values())
    winners = [k for k, s in scores.items() if s == best]
    return winners[0] if len(winners) == 1 else None


# ---------------------------------------------------------------------------------------------
# Cell conversion, one column at a time (vectorised over the rows).
def _nfkc(s: pd.Series) -> pd.Series:
    return s.astype("string").fillna("").str.normalize("NFKC")


def missing_mask(raw: pd.Series) -> pd.Series:
    """True where the original cell text means "missing" (empty, -, —, /, 无)."""
    return _nfkc(raw).str.strip().isin(MISSING_TOKENS).astype(bool)


def _is_number_cell(cells: pd.Series) -> pd.Series:
    types = cells.map(type)
    return types.isin([int, float, np.int64, np.float64]).astype(bool)


# A number as typed: optional sign, digits with or without thousands separators, decimals.
_NUMBER = r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)"
_SCIENTIFIC = r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+"


@dataclass
class _Column:
    """The outcome of converting one column: values plus masks of the failures."""

    values: pd.Series
    failures: dict[str, pd.Series]  # "code" or "code.variant" -> mask


# ---------------------------------------------------------------------------------------------
# Fast paths. The rules below (_numbers_full, the period patterns, the code clean-up) run a
# Python-level regex or string method per cell: ~2.6 µs a cell, 1 s for a 12,000-row month.
# Almost every cell of a CSV is a plain form — 1234.56, 1,234.56, 2025-03, an upper-case code —
# that the rules leave as it is. Those are recognised over a matrix of character codes with numpy
# (no Python per cell) and converted there; every other cell goes through the full rules, so
# the results are the same cell for cell (tests/ingest/test_fast_path.py compares both).

# Cells at least this long skip the fast paths (numpy's fixed-width strings cut them).
_FAST_WIDTH = 24
# At most 15 digits: the digits as an integer are exact in a float64, and so is 10**k for
# k <= 22; their quotient is then correctly rounded — the float Python's parser gives.
_FAST_DIGITS = 15
_POW10 = np.array([float(10**k) for k in range(_FAST_WIDTH + 1)])


def ascii_codes(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cells of *t* (an object array of str) as a matrix of ASCII codes, for the fast paths.

    Returns which cells the matrix holds exactly (ASCII only, shorter than ``_FAST_WIDTH``;
    the others are not plain, whatever the matrix says of them), the codes as a
    ``(width, cells)`` uint8 matrix — row j the j-th character of every cell, zero-padded, as
    wide as the longest cell — and the lengths. Only for text without NUL (numpy's
    fixed-width strings drop trailing NULs): CSV text, whose control characters are refused.
    """
    n = len(t)
    try:  # all ASCII, the usual case: one byte a character
        codes = t.astype(f"S{_FAST_WIDTH}").view(np.uint8).reshape(n, _FAST_WIDTH)
        usable = codes[:, -1] == 0  # longer cells were cut
        chars = codes.T
    except UnicodeEncodeError:  # some cell is not: code points, then bytes where they are ASCII
        cp = t.astype(f"U{_FAST_WIDTH}").view(np.uint32).reshape(n, _FAST_WIDTH)
        usable = (cp.max(axis=1, initial=0) < 128) & (cp[:, -1] == 0)
        chars = cp.T.astype(np.uint8)
    width = _FAST_WIDTH
    while width and not chars[width - 1].any():
        width -= 1
    chars = np.ascontiguousarray(chars[:width])
    length = np.zeros(n, dtype=np.uint8)
    for row in chars:  # a row of every cell at a time: vectorised over the cells
        length += row != 0
    return usable, chars, length


def _plain_numbers(chars: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which cells are plain numbers, their values and their decimals (trailing zeros aside).

    Plain: ASCII digits, at most one point, commas only as thousands separators (1,234,567.89),
    1–15 digits — a subset of what ``_NUMBER`` accepts that needs no clean-up (no sign, space,
    full-width digit, ¥ or brackets). *chars* and *length* as :func:`ascii_codes` gives them.
    """
    width, n = chars.shape
    ok = np.ones(n, dtype=bool)  # digits, points, commas and padding only
    digits = np.zeros(n, dtype=np.uint8)
    points = np.zeros(n, dtype=np.uint8)
    commas = np.zeros(n, dtype=bool)
    mantissa = np.zeros(n, dtype=np.int64)  # the digits as an integer, point and commas aside
    fraction = np.zeros(n, dtype=np.int64)  # digits after the point
    decimals = np.zeros(n, dtype=np.int64)  # ... up to the last non-zero one: 12.50 has 1
    after = np.zeros(n, dtype=bool)  # past the point
    # Left to right, one character of every cell at a time (vectorised over the cells).
    for c in chars:
        digit = (c - 48) <= 9  # unsigned: below '0' wraps round to a large number
        point = c == 46
        comma = c == 44
        ok &= digit | point | comma | (c == 0)
        digits += digit
        points += point
        commas |= comma
        np.multiply(mantissa, 10, out=mantissa, where=digit)
        np.add(mantissa, c - 48, out=mantissa, where=digit)
        decimal = digit & after
        fraction += decimal
        np.copyto(decimals, fraction, where=decimal & (c != 48))
        after |= point
    plain = ok & (points <= 1) & (digits >= 1) & (digits <= _FAST_DIGITS)
    if commas.any():
        # A comma at every 4th place counted back from the point, and nowhere else (none first).
        at = np.where(points == 1, (chars == 46).argmax(axis=0), length)  # where the integer part ends
        pos = np.arange(width)[:, None]
        grouped = ((chars == 44) == ((pos < at) & ((at - pos) % 4 == 0))).all(axis=0) & (chars[0] != 44)
        plain &= ~commas | grouped
    return plain, mantissa / _POW10[fraction], decimals


def _numbers(cells: pd.Series | None, raw: pd.Series, money: pd.Series, *, fast: bool = True) -> _Column:
    """Money (where *money*) and count cells, all number columns at once as one long Series.

    *cells* holds the workbook's cell objects (None for a CSV, where every cell is text).
    A CSV's plain and empty cells take the fast path; the rest (and *fast* False, and every
    workbook) go through :func:`_numbers_full`.
    """
    if not fast or cells is not None or not len(raw):
        return _numbers_full(cells, raw, money)
    t = raw.to_numpy(dtype=object)  # an NA reads "<NA>": not plain, so the full rules take it (missing)
    m = money.to_numpy(dtype=bool)
    n = len(t)
    usable, chars, length = ascii_codes(t)
    plain, value, decimals = _plain_numbers(chars, length)
    plain &= usable
    done = plain | (usable & (length == 0))  # an empty cell is missing: NaN, no problem
    v = np.where(plain, value, np.nan)
    dec = np.where(plain, decimals, 0)

    # As _numbers_full does it for a plain number: too large, then too many decimals
    # (money: beyond the fen; counts: any), then rounded to the fen or the unit.
    too_large = v > np.where(m, MONEY_LIMIT, COUNT_LIMIT)  # NaN compares False
    v[too_large] = np.nan
    extra = m & (dec > 2) & ~too_large
    fractional = ~m & (dec > 0) & ~too_large
    out = np.where(m, np.round(v, 2), np.round(v, 0))
    out[extra | fractional] = np.nan
    no = np.zeros(n, dtype=bool)
    failures = {"bad_number": no, "bad_number.scientific": no.copy(), "bad_number.too_large": too_large,
                "too_many_decimals": extra, "not_integer": fractional}
    rest = ~done
    if rest.any():
        full = _numbers_full(None, raw[rest], money[rest])
        out[rest] = full.values.to_numpy(dtype="float64")
        for key, mask in full.failures.items():
            failures[key][rest] = mask.to_numpy(dtype=bool)
    return _Column(pd.Series(out, index=raw.index),
                   {key: pd.Series(mask, index=raw.index) for key, mask in failures.items()})


def _numbers_full(cells: pd.Series | None, raw: pd.Series, money: pd.Series) -> _Column:
    """The full rules for money and count cells (see :func:`_numbers`), cell by cell."""
    # Plain Python strings (object dtype): the string work below runs over every number cell.
    t = pd.Series(_nfkc(raw).str.strip().to_numpy(dtype=object), index=raw.index, dtype=object)
    missing = t.isin(MISSING_TOKENS)
    numeric_cell = (_is_number_cell(cells) & ~missing) if cells is not None else pd.Series(False, index=raw.index)

    # Text: full-width digits (NFKC), surrounding spaces, thousands separators, and what Excel
    # writes for currency / accounting formats: ¥1,234.00, (1,234.00) for a negative amount.
    ok_text = t.str.fullmatch(_NUMBER).astype(bool) & ~numeric_cell & ~missing
    paren = pd.Series(False, index=raw.index)
    other = ~ok_text & ~numeric_cell & ~missing
    if other.any():
        u = t[other]
        p = u.str.startswith("(") & u.str.endswith(")") & ~u.str.match(r"\([+-]")
        u = u.where(~p, u.str.slice(1, -1)).str.replace(r"^([+-]?)¥", r"\1", regex=True)
        ok = u.str.fullmatch(_NUMBER).astype(bool)
        paren[other], ok_text[other], t[other] = p & ok, ok, u.where(ok, t[other])
    text_value = pd.to_numeric(t.where(ok_text, "").str.replace(",", "", regex=False), errors="coerce")
    text_value = text_value.astype("float64").where(~paren, -text_value)
    # Decimals typed beyond the 2nd (money) or any (counts), trailing zeros aside.
    dotted = ok_text & t.str.contains(".", regex=False).astype(bool)
    text_extra = pd.Series(False, index=raw.index)
    text_fraction = pd.Series(False, index=raw.index)
    for mask, target, pattern in ((dotted & money, text_extra, r"\.\d\d0*[1-9]"),
                                  (dotted & ~money, text_fraction, r"\.\d*[1-9]")):
        if mask.any():
            target[mask] = t[mask].str.contains(pattern).astype(bool)

    cell_value = pd.Series(np.nan, index=raw.index)
    if numeric_cell.any():
        cell_value = pd.to_numeric(cells.where(numeric_cell), errors="coerce").astype("float64")
        cell_value = cell_value.where(np.isfinite(cell_value))
    value = cell_value.where(numeric_cell, text_value)

    bad = ~missing & value.isna()
    scientific = pd.Series(False, index=raw.index)
    if bad.any():
        scientific[bad] = t[bad].str.fullmatch(_SCIENTIFIC).astype(bool)
    too_large = (value.abs() > np.where(money, MONEY_LIMIT, COUNT_LIMIT)).fillna(False).astype(bool)
    value = value.where(~too_large)

    # Money: at most 2 decimals. Excel stores 0.1 + 0.2 style binary floats, so a number cell
    # within 1e-6 of a 2-decimal value is that value.
    cents = value.round(2)
    extra = money & ((numeric_cell & ((value - cents).abs() > 1e-6)) | text_extra)
    # Counts: whole numbers (a number cell 12.0 or the text 12.00 is 12).
    whole = value.round(0)
    fractional = ~money & ((numeric_cell & ((value - whole).abs() > 1e-9)) | text_fraction)
    extra, fractional = (m.fillna(False).astype(bool) & ~too_large for m in (extra, fractional))
    out = cents.where(money, whole).where(~extra & ~fractional)
    return _Column(out.astype("float64"), {
        "bad_number": bad & ~scientific,
        "bad_number.scientific": scientific,
        "bad_number.too_large": too_large,
        "too_many_decimals": extra,
        "not_integer": fractional,
    })


_PERIOD_PATTERNS = (
    r"(?P<y>\d{4})(?P<sep>[-/.])(?P<m>\d{1,2})",
    r"(?P<y>\d{4})(?P<m>\d{2})",
    r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月?",
    r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?",
    r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*日",
)


def _periods(cells: pd.Series | None, raw: pd.Series, *, fast: bool = True) -> _Column:
    """Period cells; a CSV's ``YYYY-MM`` cells (year from 1900, month 01–12) and empty cells
    take the fast path: the full rules keep them as they are."""
    if not fast or cells is not None or not len(raw):
        return _periods_full(cells, raw)
    t = raw.to_numpy(dtype=object)
    usable, chars, length = ascii_codes(t)
    done = usable & (length == 0)  # an empty cell is missing: NA, no problem
    if len(chars) >= 7:
        c = chars[:7].astype(np.int64) - 48  # '-' is -3
        digits = ((c[[0, 1, 2, 3, 5, 6]] >= 0) & (c[[0, 1, 2, 3, 5, 6]] <= 9)).all(axis=0)
        year = c[0] * 1000 + c[1] * 100 + c[2] * 10 + c[3]
        month = c[5] * 10 + c[6]
        done |= (usable & (length == 7) & digits & (c[4] == -3) & (year >= 1900) & (month >= 1)
                 & (month <= 12))
    values = pd.Series(np.where(done & (length > 0), t, None), index=raw.index, dtype="string")
    no = pd.Series(False, index=raw.index)
    failures = {"bad_period": no, "bad_period.ambiguous": no.copy()}
    rest = ~done
    if rest.any():
        full = _periods_full(None, raw[rest])
        values[rest] = full.values.to_numpy(dtype=object)
        for key, mask in full.failures.items():
            failures[key][rest] = mask.to_numpy(dtype=bool)
    return _Column(values, failures)


def _periods_full(cells: pd.Series | None, raw: pd.Series) -> _Column:
    """The full rules for period cells."""
    missing = missing_mask(raw)
    is_date = pd.Series(False, index=raw.index)
    if cells is not None:
        is_date = cells.map(lambda v: isinstance(v, dt.date)).astype(bool)  # datetime is a date
    t = _nfkc(raw).str.strip()
    year = pd.Series(pd.NA, index=raw.index, dtype="string")
    month = year.copy()
    day = year.copy()
    sep = year.copy()
    for pattern in _PERIOD_PATTERNS:
        todo = year.isna() & ~is_date & ~missing
        if not todo.any():
            break
        m = t[todo].str.extract(f"^{pattern}$")
        found = m["y"].notna()
        idx = m.index[found]
        year[idx], month[idx] = m.loc[found, "y"], m.loc[found, "m"]
        if "d" in m:
            day[idx] = m.loc[found, "d"]
        if "sep" in m:
            sep[idx] = m.loc[found, "sep"]
    y = pd.to_numeric(year, errors="coerce")
    mo = pd.to_numeric(month, errors="coerce")
    d = pd.to_numeric(day, errors="coerce")
    valid = (y >= 1900) & (mo >= 1) & (mo <= 12) & (d.isna() | ((d >= 1) & (d <= 31)))
    valid = valid.fillna(False).astype(bool)
    text_period = (year + "-" + month.str.zfill(2)).where(valid)
    # 2025.1 is January, or October after Excel turned 2025.10 into the number 2025.1.
    ambiguous = (valid & (sep == ".") & (month == "1") & d.isna()).fillna(False).astype(bool)
    if cells is not None and is_date.any():
        months = cells[is_date].map(lambda v: f"{v.year:04d}-{v.month:02d}")
        text_period[is_date] = months.astype("string")
    values = text_period.where(~ambiguous).astype("string")
    bad = ~missing & ~is_date & ~valid
    return _Column(values, {"bad_period": bad, "bad_period.ambiguous": ambiguous})


def _tokens(raw: pd.Series, mapping: Mapping[str, Any], dtype: str, failure: str) -> _Column:
    missing = missing_mask(raw)
    t = _nfkc(raw).str.replace(_WS, "", regex=True)
    exact = t.map(mapping)
    folded = t.str.lower().map({k.lower(): v for k, v in mapping.items()})
    values = exact.where(exact.notna(), folded).astype(dtype)
    return _Column(values, {failure: ~missing & values.isna()})


def _codes(raw: pd.Series, f: Field) -> _Column:
    """A CSV's uscc / adcode column: cells of ASCII digits and capitals stay as they are
    (the full rules would fold, strip and upper-case nothing in them), the rest go through
    :func:`_convert`."""
    t = raw.to_numpy(dtype=object)
    usable, chars, length = ascii_codes(t)
    done = usable & (((chars - 48) <= 9) | ((chars - 65) <= 25) | (chars == 0)).all(axis=0)
    values = pd.Series(np.where(done & (length > 0), t, None), index=raw.index, dtype="string")
    rest = ~done
    if rest.any():
        values[rest] = _convert(None, raw[rest], f, fast=False).values.to_numpy(dtype=object)
    return _Column(values, {})


def _convert(cells: pd.Series | None, raw: pd.Series, f: Field, *, fast: bool = True) -> _Column:
    """One column that is not a number column (*fast*: a CSV's plain cells take a fast path)."""
    if f.type == "period":
        return _periods(cells, raw, fast=fast)
    if fast and cells is None and f.type in ("uscc", "adcode") and len(raw):
        return _codes(raw, f)
    if f.type == "bool":
        return _tokens(raw, {unicodedata.normalize("NFKC", k): v for k, v in BOOL_TOKENS.items()},
                       "boolean", "bad_value.bool")
    if f.type == "enum":
        accepted = {unicodedata.normalize("NFKC", k): v for k, v in f.values.items()}
        accepted.update({v: v for v in f.values.values()})
        return _tokens(raw, accepted, "string", "bad_value.enum")
    # uscc / adcode / text
    missing = missing_mask(raw)
    # Names keep their full-width punctuation (（演示）); codes are folded to half-width.
    t = raw.astype("string").fillna("").str.strip() if f.type == "text" else _nfkc(raw).str.strip()
    if f.type in ("uscc", "adcode"):
        t = t.str.replace(_WS, "", regex=True)
    if f.type == "uscc":
        t = t.str.upper()
    return _Column(t.where(~missing).astype("string"), {})


# ---------------------------------------------------------------------------------------------
def parse(content: bytes, file_name: str, kind: Kind | None = None, max_bytes: int = MAX_BYTES) -> Parsed:
    """Parse one uploaded file; every failure becomes a :class:`Problem`, nothing is raised."""
    try:
        return _parse(bytes(content or b""), file_name, kind if kind in KINDS else None, max_bytes)
    except Exception:  # a last guard: a clerk gets a message, the log gets the stack trace
        log.exception("parse failed on %r (%d bytes)", file_name, len(content or b""))
        return _fail(kind if kind in KINDS else None, "parse_failed")


def _parse(content: bytes, file_name: str, kind: Kind | None, max_bytes: int) -> Parsed:
    if not content:
        return _fail(kind, "empty_file")
    if len(content) > max_bytes:
        return _fail(kind, "file_too_large", size=_size(len(content)), limit=_size(max_bytes))
    try:
        if content.startswith(OLE2_MAGIC):
            raise _NotATable("unsupported_format")
        is_xlsx = content.startswith(XLSX_MAGIC)
        rows = _read_xlsx(content) if is_xlsx else _read_csv(content)
    except _NotATable as exc:
        args = dict(exc.args_)  # a cap names the row it found passed: the problem points there
        return _fail(kind, exc.code, header_row=args.pop("row", None), variant=exc.variant, **args)

    # A row is blank when every cell is empty or spaces.
    texts = [[_cell_text(v) for v in r] for r in rows] if is_xlsx else rows
    nonblank = [any(map(str.strip, r)) for r in texts]
    if not any(nonblank):
        return _fail(kind, "empty_file")

    header_at = next((i for i, r in enumerate(texts) if any(_is_hospital_code_header(c) for c in r)), None)
    if header_at is None:
        return _fail(kind, "no_header")
    header_row = header_at + 1
    header = texts[header_at]

    detected = _detect_kind(header)
    if kind is None:
        if detected is None:
            return _fail(None, "unknown_kind", header_row=header_row)
        kind = detected
    elif detected is not None and detected != kind and not any(
        match_header(h, kind) in KIND_MARKERS[kind] for h in header if h
    ):
        return _fail(kind, "wrong_kind", header_row=header_row,
                     found_zh=KIND_NAMES[detected][0], found_en=KIND_NAMES[detected][1],
                     expected_zh=KIND_NAMES[kind][0], expected_en=KIND_NAMES[kind][1])

    fields = FIELDS[kind]
    # Data rows: after the header, non-blank, skipping repeated header rows right below it
    # (a template may carry a row of codes under the row of labels).
    body = list(range(header_at + 1, len(texts)))
    code_cols = [j for j, h in enumerate(header) if match_header(h, kind) == "hospital_code"]
    while body and any(j < len(texts[body[0]]) and _is_hospital_code_header(texts[body[0]][j]) for j in code_cols):
        body.pop(0)
    body = [i for i in body if nonblank[i]]

    positions, columns, problems = _match_columns(header, header_row, [texts[i] for i in body], kind)
    present = [f for f in fields if f.code in positions]
    if not body:
        frame, raw = empty_frames(present)
        problems.append(_problem("no_data_rows", row=header_row))
        return Parsed(kind, frame, raw, header_row, columns, _sorted(problems, fields))

    index = pd.Index([i + 1 for i in body], dtype="int64", name="row")
    grid = [rows[i] for i in body] if is_xlsx else None
    frame, raw, cell_problems = _typed(grid, [texts[i] for i in body], index, present, positions)
    # capped: the count of the cell problems _typed left off goes last.
    return Parsed(kind, frame, raw, header_row, columns, capped(_sorted(problems + cell_problems, fields)))


# An unknown or unnamed column is one warning for all of them, naming this many.
SHOWN_COLUMNS = 5


def _match_columns(header: list[str], header_row: int, body: list[list[str]], kind: Kind
                   ) -> tuple[dict[str, int], dict[str, str], list[Problem]]:
    """Field code → column position and header text, with the header's problems.

    Columns that are not the report's are one warning (and unnamed columns holding data
    another), however many there are: it counts them and names the first few.
    """
    by_code = {f.code: f for f in FIELDS[kind]}
    positions: dict[str, int] = {}
    columns: dict[str, str] = {}
    problems: list[Problem] = []
    unknown: list[int] = []
    unnamed: list[int] = []
    width = max([len(header), *(len(r) for r in body)])
    for j in range(width):
        text = header[j] if j < len(header) else ""
        if not text.strip():
            if any(j < len(r) and r[j].strip() for r in body):
                unnamed.append(j)
            continue
        code = match_header(text, kind)
        if code is None:
            unknown.append(j)
        elif code in positions:
            first = positions[code]
            problems.append(_problem("duplicate_column", row=header_row, field=by_code[code], value=text,
                                     letter=_column_letter(j), first=header[first],
                                     first_letter=_column_letter(first)))
        else:
            positions[code] = j
            columns[code] = text
    if len(unknown) == 1:
        (j,) = unknown
        problems.append(_problem("unknown_column", row=header_row, value=header[j], severity="warning",
                                 letter=_column_letter(j)))
    elif unknown:
        shown = unknown[:SHOWN_COLUMNS]
        more = len(unknown) > len(shown)
        zh = "、".join(f"第 {_column_letter(j)} 列“{_shown(header[j])}”" for j in shown) + ("等" if more else "")
        en = ", ".join(f'{_column_letter(j)} "{_shown(header[j])}"' for j in shown) + (", …" if more else "")
        problems.append(_problem("unknown_column", variant="many", row=header_row, severity="warning",
                                 count=f"{len(unknown):,}", names_zh=zh, names_en=en))
    if len(unnamed) == 1:
        (j,) = unnamed
        problems.append(_problem("unknown_column", variant="blank", row=header_row, value="", severity="warning",
                                 letter=_column_letter(j)))
    elif unnamed:
        shown = [_column_letter(j) for j in unnamed[:SHOWN_COLUMNS]]
        more = len(unnamed) > len(shown)
        problems.append(_problem("unknown_column", variant="blank_many", row=header_row, severity="warning",
                                 count=f"{len(unnamed):,}",
                                 letters_zh="第 " + "、".join(shown) + (" 等列" if more else " 列"),
                                 letters_en=", ".join(shown) + (", …" if more else "")))
    problems += [_problem("missing_column", row=header_row, field=f)
                 for f in FIELDS[kind] if f.required and f.code not in positions]
    return positions, columns, problems


def _typed(grid: list[list[Any]] | None, texts: list[list[str]], index: pd.Index, present: list[Field],
           positions: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """The typed frame, the raw frame and the cell problems of the data rows.

    *grid* holds a workbook's cell objects (None for a CSV); *texts* the cells as text.
    """
    # Rows padded to one width, as 2-D object arrays: a column is then a slice, not a
    # Python loop over the rows (short rows read as empty cells, None in a workbook).
    width = max([max(positions.values(), default=-1) + 1, *map(len, texts)])
    text_grid = _rectangle(texts, width, "")
    cell_grid = None if grid is None else _rectangle(grid, width, None)

    def column(f: Field) -> tuple[pd.Series | None, pd.Series]:
        j = positions[f.code]
        raw = pd.Series(text_grid[:, j], index=index, dtype="string")
        if cell_grid is None:
            return None, raw
        return pd.Series(cell_grid[:, j], index=index, dtype=object), raw

    frame_cols: dict[str, pd.Series] = {}
    raw_cols: dict[str, pd.Series] = {}
    failures: list[tuple[Field, str, np.ndarray]] = []  # (field, "code[.variant]", mask)
    numbers = [f for f in present if f.type in ("money", "count")]
    if numbers:
        # All number columns at once: one long Series, one pass of the vectorised work.
        cols = [positions[f.code] for f in numbers]
        long_cells = None if cell_grid is None else pd.Series(cell_grid[:, cols].T.ravel(), dtype=object)
        long_raw = pd.Series(text_grid[:, cols].T.ravel(), dtype=object)
        money = pd.Series(np.repeat([f.type == "money" for f in numbers], len(index)))
        converted = _numbers(long_cells, long_raw, money)
        shape = (len(numbers), len(index))
        values = converted.values.to_numpy(dtype="float64").reshape(shape)
        masks = {k: m.to_numpy(dtype=bool).reshape(shape) for k, m in converted.failures.items()}
        for n, (f, j) in enumerate(zip(numbers, cols, strict=True)):
            frame_cols[f.code] = pd.Series(values[n], index=index).astype(DTYPES[f.type])
            raw_cols[f.code] = pd.Series(text_grid[:, j], index=index, dtype="string")
            failures += [(f, k, m[n]) for k, m in masks.items()]
    for f in present:
        if f.code not in frame_cols:
            cells, raw = column(f)
            converted = _convert(cells, raw, f)
            frame_cols[f.code] = converted.values.astype(DTYPES[f.type])
            raw_cols[f.code] = raw
            failures += [(f, k, m.to_numpy(dtype=bool)) for k, m in converted.failures.items()]

    # One problem a failed cell — but at most MAX_ERRORS of them are made (the first in sheet
    # order), the rest only counted: a file of 750,000 bad cells would otherwise cost ~0.5 KB
    # a problem before anything caps the list. (problems.capped counts them in again.)
    failures = [(f, key, np.flatnonzero(mask)) for f, key, mask in failures if mask.any()]
    failed = sum(len(at) for _, _, at in failures)
    if failed > MAX_ERRORS:
        order = {f.code: i for i, f in enumerate(present)}
        # Each failed cell as row position × fields + field position: sheet order as one number.
        keys = np.concatenate([at * len(present) + order[f.code] for f, _, at in failures])
        cutoff = np.partition(keys, MAX_ERRORS - 1)[MAX_ERRORS - 1]
        failures = [(f, key, at[at * len(present) + order[f.code] <= cutoff]) for f, key, at in failures]
    problems = []
    for f, key, at in failures:
        code, _, variant = key.partition(".")
        raw = raw_cols[f.code]
        for row in index[at]:
            extra = {"allowed": "、".join(f.values)} if f.type == "enum" else {}
            if key == "bad_period.ambiguous":
                extra["year"] = unicodedata.normalize("NFKC", raw.at[row]).strip()[:4]
            problems.append(_problem(code, variant=variant or None, row=row, field=f, value=raw.at[row], **extra))
    if failed > len(problems):
        problems.append(more_problems("error", failed - len(problems), len(problems)))
    frame = pd.DataFrame({f.code: frame_cols[f.code] for f in present}, index=index)
    raw_frame = pd.DataFrame({f.code: raw_cols[f.code] for f in present}, index=index)
    return frame, raw_frame, problems


def _rectangle(rows: list[list[Any]], width: int, fill: Any) -> np.ndarray:
    """*rows* as a (rows, width) object array, short rows padded with *fill*."""
    out = np.empty((len(rows), width), dtype=object)
    if all(len(r) == width for r in rows):
        out[:] = rows
    else:
        out.fill(fill)
        for i, r in enumerate(rows):
            out[i, :len(r)] = r
    return out


def _sorted(problems: list[Problem], fields: tuple[Field, ...]) -> list[Problem]:
    order = {f.code: i for i, f in enumerate(fields)}
    return sorted(problems, key=lambda p: (p.row is not None, p.row or 0, order.get(p.column or "", -1)))
