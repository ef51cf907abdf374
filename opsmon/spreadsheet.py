"""The one writer of CSV and XLSX bytes that every export goes through.

Exports carry text that others typed (hospital names, codes, notes). A
spreadsheet program reads a cell starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return as a formula — ``=HYPERLINK(…)`` in a hospital name would run
when a colleague opens the file ("CSV injection", OWASP). So every text cell of
every export — headers, titles and data, CSV and XLSX — goes through
:func:`neutralise`, which prefixes such text with a single quote, as OWASP
recommends. Numbers are never touched: ``-5.0`` is a number and stays one.

The CLI (``opsmon export``, via :mod:`opsmon.indicators.export`) and the
dashboard's downloads (:mod:`opsmon.dashboard.exports`) both write through here,
so there is one rule in one place. This module imports neither: it sits below
both in the layering (``dashboard → indicators → sql``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

#: First characters that make a spreadsheet program read text as a formula (OWASP's list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = b"\xef\xbb\xbf"
HEADER_ROW = 4  # title, subtitle, a blank row, then the header
FIRST_DATA_ROW = HEADER_ROW + 1
MAX_SHEET_NAME = 31  # Excel's limit

_TITLE_FONT = Font(bold=True, size=14)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE7F0")
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
# Characters Excel refuses in sheet names → their full-width forms (the text still reads the same).
SHEET_UNSAFE = str.maketrans({":": "：", "/": "／", "\\": "＼", "?": "？", "*": "＊", "[": "【", "]": "】"})


def neutralise(value: Any) -> Any:
    """*value* made safe as a spreadsheet cell: text that would start a formula gets a leading ``'``.

    Only ``str`` values are changed, and only those starting with one of
    :data:`FORMULA_TRIGGERS`; every other value (numbers, negative ones included,
    ``None``, NaN, dates) is returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def cell(value: Any, format_timestamp: Callable[[datetime], str] | None = None) -> Any:
    """*value* (from a frame) as an XLSX cell value, text neutralised.

    Missing values (None, NaN, ``pd.NA``, ``NaT``) become an empty cell; numpy
    scalars become Python ones; a ``pd.Timestamp`` becomes a ``datetime``, or the
    text *format_timestamp* makes of it when given.
    """
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        stamp = value.to_pydatetime()
        value = format_timestamp(stamp) if format_timestamp else stamp
    elif isinstance(value, np.generic):
        value = value.item()  # openpyxl writes Python scalars only
    return neutralise(value)


def sheet_name(title: str) -> str:
    """*title* as a worksheet name Excel accepts: refused characters full-width, at most 31 characters."""
    return title.translate(SHEET_UNSAFE)[:MAX_SHEET_NAME] or "Sheet1"


def neutralised_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of *frame* with every text value — and every text column name — neutralised.

    Only columns that can hold ``str`` (object, string and categorical dtypes)
    are looked at; numeric columns are kept as they are, so pandas writes their
    numbers exactly as before.
    """
    out = frame.copy()
    out.columns = range(frame.shape[1])  # by position: duplicate or non-str column names are fine
    for i in range(frame.shape[1]):
        column = frame.iloc[:, i]
        if column.dtype == object or isinstance(column.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            out[i] = pd.Series([neutralise(v) for v in column.astype(object)], index=frame.index, dtype=object)
    out.columns = [neutralise(c) for c in frame.columns]
    return out


def csv_bytes(frame: pd.DataFrame, *, preamble: Sequence[str] = ()) -> bytes:
    """*frame* as CSV: UTF-8 with a BOM (Excel on Chinese Windows), no index, text neutralised.

    Each line of *preamble* is written first as ``# line`` (whitespace collapsed)
    — one cell per line, quoted if the text needs it, so a comma in a title does
    not open a second cell. Values are formatted by pandas (a float as ``-5.0``,
    a missing value as an empty field).
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for line in preamble:
        writer.writerow([neutralise(f"# {' '.join(line.split())}")])
    neutralised_frame(frame).to_csv(buf, index=False, lineterminator="\n")
    return BOM + buf.getvalue().encode("utf-8")


def default_width(header: str, padding: int = 2) -> float:
    """A column's width from its header: two units per character plus *padding*, between 10 and 40."""
    return max(10, min(40, 2 * len(header) + padding))


def xlsx_bytes(title: str, subtitle: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
               column_formats: Mapping[int, str] | None = None,
               row_formats: Sequence[Mapping[int, str]] | None = None,
               widths: Sequence[float] | None = None, merge_title: bool = False, sheet: str | None = None,
               format_timestamp: Callable[[datetime], str] | None = None) -> bytes:
    """One worksheet as XLSX bytes, every cell through :func:`cell` (text neutralised).

    Row 1 holds *title* (bold), row 2 *subtitle* (the filters and/or the as-of
    time), row 3 is blank, row 4 the styled *headers*, and the *rows* follow from
    row 5; panes are frozen below the header. *column_formats* maps a column
    index (0-based) to an Excel number format; ``row_formats[n]`` adds or
    overrides formats for the n-th row. *widths* default to
    :func:`default_width` of each header. *merge_title* merges row 1 across the
    table. The sheet is named *sheet* (default: *title*), made acceptable to
    Excel by :func:`sheet_name`.
    """
    book = Workbook()
    ws = book.active
    ws.title = sheet_name(sheet if sheet is not None else title)
    ws.append([cell(title)])
    ws["A1"].font = _TITLE_FONT
    ws.append([cell(subtitle)])
    ws.append([])
    ws.append([cell(h) for h in headers])
    for header_cell in ws[HEADER_ROW]:
        header_cell.font, header_cell.fill, header_cell.alignment = _HEADER_FONT, _HEADER_FILL, _HEADER_ALIGNMENT
    for n, row in enumerate(rows):
        ws.append([cell(v, format_timestamp) for v in row])
        excel_row = FIRST_DATA_ROW + n  # counted here: ws.max_row is O(cells)
        for col, fmt in {**(column_formats or {}), **(row_formats[n] if row_formats else {})}.items():
            ws.cell(row=excel_row, column=col + 1).number_format = fmt
    if merge_title:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(len(headers), 1))
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"
    for col, header in enumerate(headers, start=1):
        width = widths[col - 1] if widths is not None else default_width(str(header))
        ws.column_dimensions[get_column_letter(col)].width = width
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
