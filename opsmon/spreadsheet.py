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

XLSX is written by openpyxl in its write-only mode (``Workbook(write_only=True)``),
which streams rows to the sheet as they come instead of keeping a cell object for
each. What is prepared here is prepared a column at a time with numpy and pandas
(in blocks of :data:`BLOCK_ROWS` rows, so memory stays bounded by the block): text
is neutralised once per distinct value, missing values become empty cells, and
only a styled cell (the title, the header, a value with a number format) is a
cell object, the style of each number format made once; every other value goes
to openpyxl as a plain Python value.

How long a national table takes — 125 000 rows × 15 columns, the counties × all
indicators, on the 2-core benchmark machine: 35–38 s through openpyxl's ordinary
mode, about 25 s (24–36 s from run to run) through its write-only mode as used
here. That is still far from the 5 s aimed at (issue 19), and it is openpyxl's own
work per cell: preparing the values takes 0.2 s, making the 380 000 cells that
carry a number format about 2 s, and openpyxl writing the rows the rest.
A hand-written SpreadsheetML writer did it in about 1.5–3 s but was not kept:
the house rule is not to hand-write a file format a maintained library writes,
and Excel's acceptance of a hand-written file could not be tested here.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, time
from itertools import zip_longest
from typing import IO, Any

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange

#: First characters that make a spreadsheet program read text as a formula (OWASP's list).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = b"\xef\xbb\xbf"
HEADER_ROW = 4  # title, subtitle, a blank row, then the header
FIRST_DATA_ROW = HEADER_ROW + 1
MAX_SHEET_NAME = 31  # Excel's limit
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
#: Rows prepared (XLSX) or formatted (CSV) at a time.
BLOCK_ROWS = 8192

_TITLE_FONT = Font(bold=True, size=14)
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDE7F0")
_HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
# Characters Excel refuses in sheet names → their full-width forms (the text still reads the same).
SHEET_UNSAFE = str.maketrans({":": "：", "/": "／", "\\": "＼", "?": "？", "*": "＊", "[": "【", "]": "】"})

#: A table's rows: a frame (its columns by position) or any iterable of row sequences.
Rows = pd.DataFrame | Iterable[Sequence[Any]]
#: Excel number formats by column index: one for the whole column, or one per data row (None: none).
ColumnFormats = Mapping[int, str | Sequence[str | None]]


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


def _neutralised_column(column: pd.Series) -> pd.Series:
    """A text-bearing column with every ``str`` neutralised — once per distinct value, not per row."""
    values = column.astype(object)
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    except TypeError:  # unhashable values (lists …): one at a time
        return pd.Series([neutralise(v) for v in values], index=column.index, dtype=object)
    out = values.to_numpy(dtype=object, copy=True)  # missing values stay as they are
    known = codes >= 0
    out[known] = np.array([neutralise(u) for u in uniques] + [None], dtype=object)[codes[known]]
    return pd.Series(out, index=column.index, dtype=object)


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
            out[i] = _neutralised_column(column)
    out.columns = [neutralise(c) for c in frame.columns]
    return out


def csv_chunks(frame: pd.DataFrame, *, preamble: Sequence[str] = ()) -> Iterator[bytes]:
    """:func:`csv_bytes` in pieces of :data:`BLOCK_ROWS` rows, for a streamed response (joined: the same bytes)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for line in preamble:
        writer.writerow([neutralise(f"# {' '.join(line.split())}")])
    for start in range(0, max(len(frame), 1), BLOCK_ROWS):
        neutralised_frame(frame.iloc[start:start + BLOCK_ROWS]).to_csv(buf, index=False, header=start == 0,
                                                                       lineterminator="\n")
        yield (BOM if start == 0 else b"") + buf.getvalue().encode("utf-8")
        buf.seek(0)
        buf.truncate()


def csv_bytes(frame: pd.DataFrame, *, preamble: Sequence[str] = ()) -> bytes:
    """*frame* as CSV: UTF-8 with a BOM (Excel on Chinese Windows), no index, text neutralised.

    Each line of *preamble* is written first as ``# line`` (whitespace collapsed)
    — one cell per line, quoted if the text needs it, so a comma in a title does
    not open a second cell. Values are formatted by pandas (a float as ``-5.0``,
    a missing value as an empty field).
    """
    return b"".join(csv_chunks(frame, preamble=preamble))


def default_width(header: str, padding: int = 2) -> float:
    """A column's width from its header: two units per character plus *padding*, between 10 and 40."""
    return max(10, min(40, 2 * len(header) + padding))


def xlsx_bytes(title: str, subtitle: str, headers: Sequence[str], rows: Rows, *,
               column_formats: ColumnFormats | None = None,
               row_formats: Sequence[Mapping[int, str]] | None = None,
               widths: Sequence[float] | None = None, merge_title: bool = False, sheet: str | None = None,
               format_timestamp: Callable[[datetime], str] | None = None) -> bytes:
    """One worksheet as XLSX bytes: :func:`write_xlsx` into memory."""
    buf = io.BytesIO()
    write_xlsx(buf, title, subtitle, headers, rows, column_formats=column_formats, row_formats=row_formats,
               widths=widths, merge_title=merge_title, sheet=sheet, format_timestamp=format_timestamp)
    return buf.getvalue()


def write_xlsx(target: IO[bytes], title: str, subtitle: str, headers: Sequence[str], rows: Rows, *,
               column_formats: ColumnFormats | None = None,
               row_formats: Sequence[Mapping[int, str]] | None = None,
               widths: Sequence[float] | None = None, merge_title: bool = False, sheet: str | None = None,
               format_timestamp: Callable[[datetime], str] | None = None) -> int:
    """Write one worksheet as an XLSX file to *target* (a binary file); the number of data rows written.

    Row 1 holds *title* (bold), row 2 *subtitle* (the filters and/or the as-of
    time), row 3 is blank, row 4 the styled *headers*, and the *rows* (a frame,
    or row sequences) follow from row 5; panes are frozen below the header.
    Every cell goes through :func:`cell` (text neutralised; missing values, NaN
    and ±inf empty). *column_formats* maps a column index (0-based) to an Excel
    number format, or to a sequence of formats, one per data row;
    ``row_formats[n]`` adds or overrides formats for the n-th row. Dates and
    times without a format get openpyxl's ``yyyy-mm-dd h:mm:ss`` /
    ``yyyy-mm-dd`` / ``h:mm:ss``. *widths* default to :func:`default_width` of
    each header. *merge_title* merges row 1 across the table. The sheet is named
    *sheet* (default: *title*), made acceptable to Excel by :func:`sheet_name`.
    """
    frame = _as_frame(rows)
    formats = _formats(column_formats, row_formats, len(frame))
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet_name(sheet if sheet is not None else title))
    # Write-only: the columns and the panes go out with the first row, so they are set before it.
    for col, header in enumerate(headers, start=1):
        width = widths[col - 1] if widths is not None else default_width(str(header))
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"
    if merge_title and len(headers) > 1:  # (one header: nothing to merge)
        ws.merged_cells.add(CellRange(min_col=1, min_row=1, max_col=len(headers), max_row=1))
    ws.append([_styled(ws, title, font=_TITLE_FONT)])
    ws.append([_xlsx_text(cell(subtitle))])
    ws.append([])
    ws.append([_styled(ws, h, font=_HEADER_FONT, fill=_HEADER_FILL, alignment=_HEADER_ALIGNMENT) for h in headers])
    styles = _NumberStyles(ws)
    for start in range(0, len(frame), BLOCK_ROWS):
        block = frame.iloc[start:start + BLOCK_ROWS]
        columns = []
        for i in range(block.shape[1]):
            values = _values(block.iloc[:, i], format_timestamp)
            fmt = formats.get(i)
            if fmt is not None:
                values = styles.apply(values, fmt if isinstance(fmt, str) else fmt[start:start + BLOCK_ROWS])
            columns.append(values)
        for row in zip(*columns):
            ws.append(row)
    book.save(target)
    return len(frame)


def _styled(ws: Any, value: Any, **style: Any) -> Cell:
    """A title or header cell: *value* through :func:`cell`, with *style* (font, fill, alignment)."""
    styled = WriteOnlyCell(ws, _xlsx_text(cell(value)))
    for name, setting in style.items():
        setattr(styled, name, setting)
    return styled


def _as_frame(rows: Rows) -> pd.DataFrame:
    """*rows* as a frame with positional columns (rows of unequal length padded with empty cells)."""
    if isinstance(rows, pd.DataFrame):
        return rows.set_axis(range(rows.shape[1]), axis="columns").reset_index(drop=True)
    columns = list(zip_longest(*rows))
    return pd.DataFrame({i: pd.Series(col, dtype=object) for i, col in enumerate(columns)})


def _formats(column_formats: ColumnFormats | None, row_formats: Sequence[Mapping[int, str]] | None,
             n: int) -> dict[int, str | np.ndarray]:
    """Each formatted column's format: one string, or an object array with one per row."""
    out: dict[int, str | np.ndarray] = {}
    for col, fmt in (column_formats or {}).items():
        if isinstance(fmt, str):
            out[col] = fmt
        else:
            out[col] = np.asarray(list(fmt), dtype=object)
            if len(out[col]) != n:
                raise ValueError(f"column {col}: {len(out[col])} formats for {n} rows")
    if row_formats:
        for col in {c for formats in row_formats for c in formats}:
            base = out.get(col)
            per_row = (np.full(n, base, dtype=object) if base is None or isinstance(base, str)
                       else base.copy())
            for i, formats in enumerate(row_formats):
                if col in formats:
                    per_row[i] = formats[col]
            out[col] = per_row
    return out


def _xlsx_text(value: Any) -> Any:
    """*value* as openpyxl takes it: text with a control character XML forbids gets it as Excel's
    ``_xHHHH_`` (openpyxl refuses such text); empty text is an empty cell; anything else unchanged."""
    if isinstance(value, str):
        if not value:
            return None
        if ILLEGAL_CHARACTERS_RE.search(value):
            return ILLEGAL_CHARACTERS_RE.sub(lambda m: f"_x{ord(m.group()):04X}_", value)
    return value


def _values(values: pd.Series, format_timestamp: Callable[[datetime], str] | None) -> np.ndarray:
    """A column's cell values as openpyxl takes them: Python scalars, text neutralised, None for an empty cell.

    Booleans, numbers and text are converted a column at a time (text once per distinct value); any
    other column a cell at a time by :func:`cell`.
    """
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biu":
        return values.to_numpy().astype(object)  # Python bools and ints
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        floats = values.to_numpy()
        out = floats.astype(object)  # Python floats
        out[~np.isfinite(floats)] = None  # NaN, ±inf: an empty cell
        return out
    if (dtype == object or isinstance(dtype, pd.StringDtype)) and pd.api.types.infer_dtype(
            values, skipna=True) in ("string", "empty"):
        codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
        texts = np.array([_xlsx_text(neutralise(str(u))) for u in uniques] + [None], dtype=object)
        return texts[codes]  # (code -1, a missing value: the None at the end)
    out = np.empty(len(values), dtype=object)
    for i, raw in enumerate(values.tolist()):
        value = _xlsx_text(cell(raw, format_timestamp))
        out[i] = None if isinstance(value, float) and not math.isfinite(value) else value
    return out


class _NumberStyles:
    """Cells with a number format: the style of each distinct format made once, copied by every cell with it."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.arrays: dict[str, Any] = {}

    def style(self, fmt: str) -> Any:
        """The style array of a cell with number format *fmt* (made once, then copied by each cell)."""
        if fmt not in self.arrays:
            template = WriteOnlyCell(self.ws)
            template.number_format = fmt
            self.arrays[fmt] = template._style
        return self.arrays[fmt]

    def apply(self, values: np.ndarray, fmt: str | np.ndarray) -> np.ndarray:
        """*values* as cells carrying their format (one for all, or one per value; None: none) — empty
        ones too, as the ordinary openpyxl worksheet wrote them."""
        out = np.empty(len(values), dtype=object)
        if isinstance(fmt, str):
            if fmt == "General":
                return values
            style, ws = self.style(fmt), self.ws
            # (At A1 like a WriteOnlyCell: openpyxl names the cell while it takes it for the row.)
            out[:] = [self.dated(v, fmt) if isinstance(v, (date, time)) else Cell(ws, 1, 1, v, style)
                      for v in values.tolist()]
            return out
        out[:] = [self.cell(v, f) if f and f != "General" else v for v, f in zip(values.tolist(), fmt.tolist())]
        return out

    def cell(self, value: Any, fmt: str) -> Cell:
        """*value* as a cell with number format *fmt*."""
        if isinstance(value, (date, time)):
            return self.dated(value, fmt)
        return Cell(self.ws, 1, 1, value, self.style(fmt))

    def dated(self, value: date | time, fmt: str) -> Cell:
        """A date or time with number format *fmt*: set after the value, which would otherwise replace
        a format that is not a date's with a date's."""
        dated = WriteOnlyCell(self.ws, value)
        dated.number_format = fmt
        return dated
