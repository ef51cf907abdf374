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
import csv
import datetime as dt
import io
import logging
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from opsmon.ingest.fields import BOOL_TOKENS, FIELDS, KIND_MARKERS, KINDS, MISSING_TOKENS, Field, Kind
from opsmon.ingest.problems import Problem, Severity

log = logging.getLogger(__name__)

MAX_BYTES = 20 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97-2003), .et, encrypted .xlsx
# An .xlsx may unpack to far more than its size; refuse one that would unpack past this multiple.
MAX_UNPACK_RATIO = 25
MONEY_LIMIT = 1e16  # numeric(18,2)
COUNT_LIMIT = 2**31 - 1  # integer
SHOWN_VALUE_CHARS = 40

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
    "unknown_column.blank": (
        "第 {letter} 列没有列名（第 {row} 行为空），但下面有数据，该列已忽略",
        "Column {letter} has no name in header row {row} but holds data; the column was ignored",
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


def _read_csv(content: bytes) -> list[list[Any]]:
    text = _decode(content)
    if _MARKUP.match(text[:2000]):
        raise _NotATable("unsupported_format", "html")
    rows = _split_unquoted(text)
    if rows is not None:
        return rows
    try:
        return [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as exc:
        raise _NotATable() from exc


def _split_unquoted(text: str) -> list[list[str]] | None:
    """The rows of a CSV without a quote character, as ``csv.reader`` reads them, else None.

    Without quotes a record is a line (CR, LF or CR LF) and a field what lies between commas;
    ``str.split`` does that about twice as fast as the csv module. An empty line is ``[]``, as
    csv.reader gives it. Files with quotes, other line breaks or a field over csv's size limit
    (which csv.reader refuses) go through csv.reader.
    """
    if '"' in text or any(c in text for c in _OTHER_LINE_BREAKS):
        return None
    lines = text.splitlines()
    if lines and max(map(len, lines)) > csv.field_size_limit():
        return None
    return [line.split(",") if line else [] for line in lines]


def _read_xlsx(content: bytes, max_bytes: int) -> list[list[Any]]:
    import openpyxl  # noqa: PLC0415 - only for xlsx files

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            unpacked = sum(i.file_size for i in zf.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _NotATable() from exc
    if unpacked > MAX_UNPACK_RATIO * max_bytes:
        raise _NotATable("file_too_large", "unpacked", limit=_size(MAX_UNPACK_RATIO * max_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
            try:
                if not wb.worksheets:
                    raise _NotATable()
                ws = wb.worksheets[0]
                ws.reset_dimensions()  # some exporters write a wrong <dimension>; read every row
                return [list(r) for r in ws.iter_rows(values_only=True)]
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
        rows = _read_xlsx(content, max_bytes) if is_xlsx else _read_csv(content)
    except _NotATable as exc:
        return _fail(kind, exc.code, variant=exc.variant, **exc.args_)

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
    return Parsed(kind, frame, raw, header_row, columns, _sorted(problems + cell_problems, fields))


def _match_columns(header: list[str], header_row: int, body: list[list[str]], kind: Kind
                   ) -> tuple[dict[str, int], dict[str, str], list[Problem]]:
    """Field code → column position and header text, with the header's problems."""
    by_code = {f.code: f for f in FIELDS[kind]}
    positions: dict[str, int] = {}
    columns: dict[str, str] = {}
    problems: list[Problem] = []
    width = max([len(header), *(len(r) for r in body)])
    for j in range(width):
        text = header[j] if j < len(header) else ""
        letter = _column_letter(j)
        if not text.strip():
            if any(j < len(r) and r[j].strip() for r in body):
                problems.append(_problem("unknown_column", variant="blank", row=header_row, value=text,
                                         severity="warning", letter=letter))
            continue
        code = match_header(text, kind)
        if code is None:
            problems.append(_problem("unknown_column", row=header_row, value=text, severity="warning",
                                     letter=letter))
        elif code in positions:
            first = positions[code]
            problems.append(_problem("duplicate_column", row=header_row, field=by_code[code], value=text,
                                     letter=letter, first=header[first], first_letter=_column_letter(first)))
        else:
            positions[code] = j
            columns[code] = text
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

    problems = []
    for f, key, mask in failures:
        if not mask.any():
            continue
        code, _, variant = key.partition(".")
        raw = raw_cols[f.code]
        for row in index[mask]:
            extra = {"allowed": "、".join(f.values)} if f.type == "enum" else {}
            if key == "bad_period.ambiguous":
                extra["year"] = unicodedata.normalize("NFKC", raw.at[row]).strip()[:4]
            problems.append(_problem(code, variant=variant or None, row=row, field=f, value=raw.at[row], **extra))
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
