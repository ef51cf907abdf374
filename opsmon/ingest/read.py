"""Read an upload's bytes into rows of cells, refusing files that would cost too much to read.

:func:`read_rows` sniffs what the file is — a workbook (.xlsx, its first sheet, read in
openpyxl's streaming mode), a CSV in UTF-8 or GB18030, or something else (an old .xls, a web page,
a binary) — and returns its rows as they stand in the file, cells as found (text for a CSV, cell
objects for a workbook; :func:`cell_text` shows one as text). Every refusal raises
:class:`NotATable` with the problem code that tells the clerk why: empty, too large, not a table,
or over one of the caps below, which are checked before the big Python structures are built.
Making sense of the rows is :mod:`opsmon.ingest.header`'s job and :mod:`opsmon.ingest.cells`'.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import re
import struct
import warnings
import xml.parsers.expat
import zipfile
import zlib
from typing import Any

import numpy as np

from opsmon.ingest.fields import FIELDS
from opsmon.ingest.problems import shown_value

MAX_BYTES = 20 * 1024 * 1024  # the largest upload, unless a caller passes its own max_bytes
XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97-2003), .et, encrypted .xlsx

# ---------------------------------------------------------------------------------------------
# Caps on the size of the table, checked before the big Python structures are built: a file
# under the 20 MB upload limit must not cost gigabytes (a 9.9 MB CSV of a million columns took
# 6.7 GB and 137 s before these caps; bench/hostile.py measures each hostile file now).
#
# Columns: the widest report has WIDEST columns (45 with v2's optional columns, 35 in v1;
# fields.py); 500 leaves room for hundreds of
# a clerk's own columns and still refuses the million-column file at once.
MAX_COLUMNS = 500
# Cells, rows × columns of the table as read (blank rows and columns inside it included; blank
# rows after the last one with content are not read). The largest real file is a national
# monthly file, 12,000 hospitals × 45 columns = 540,000 cells with v2's optional columns
# (420,000 for a v1 file of 35; a national registry is 12,000 × 15 = 180,000). 750,000 is 1.4×
# that: 12,000 rows with 17 columns of the clerk's own, or 16,000 rows of 45. Parsing costs
# ~170 bytes a cell for a CSV and ~240 for an .xlsx (measured on the 420,000-cell monthly file:
# +71 MB and +99 MB above idle); at the cap parse measured
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

WIDEST = max(len(fields) for fields in FIELDS.values())


class NotATable(Exception):
    """The file is refused: *code* (and *variant*) name the problem, *args* fill its message.

    A cap that names the row it found passed gives it as ``row``.
    """

    def __init__(self, code: str = "not_a_table", variant: str | None = None, **args: Any):
        super().__init__(code)
        self.code, self.variant, self.args_ = code, variant, args


def read_rows(content: bytes, max_bytes: int = MAX_BYTES) -> tuple[list[list[Any]], bool]:
    """The rows of *content* as they stand in the file, and whether it is a workbook.

    A CSV's cells are text; a workbook's (the first sheet's) are openpyxl's values — None,
    numbers, dates, text. Raises :class:`NotATable` when the file is refused.
    """
    if not content:
        raise NotATable("empty_file")
    if len(content) > max_bytes:
        raise NotATable("file_too_large", size=_size(len(content)), limit=_size(max_bytes))
    if content.startswith(OLE2_MAGIC):
        raise NotATable("unsupported_format")
    is_xlsx = content.startswith(XLSX_MAGIC)
    return (_read_xlsx(content) if is_xlsx else _read_csv(content)), is_xlsx


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


# ---------------------------------------------------------------------------------------------
# Reading a CSV.

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
        raise NotATable()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return codecs.decode(content, encoding)
        except UnicodeDecodeError:
            continue
    raise NotATable()


def _too_many_columns(row: int, count: int, variant: str | None = None) -> NotATable:
    return NotATable("too_many_columns", variant, row=row, count=f"{count:,}", limit=f"{MAX_COLUMNS:,}",
                      widest=WIDEST)


def _too_many_rows(rows: int) -> NotATable:
    return NotATable("too_many_rows", rows=f"{rows:,}", limit=f"{MAX_ROWS:,}")


def _too_many_cells(rows: int, cols: int) -> NotATable:
    return NotATable("too_many_cells", rows=f"{rows:,}", cols=f"{cols:,}", cells=f"{rows * cols:,}",
                      limit=f"{MAX_CELLS:,}")


def _read_csv(content: bytes) -> list[list[Any]]:
    text = _decode(content)
    if _MARKUP.match(text[:2000]):
        raise NotATable("unsupported_format", "html")
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
        raise NotATable() from exc
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
    raise NotATable()


def _too_many_elements(part: str) -> NotATable:
    return NotATable("file_too_large", "elements", part=shown_value(part))


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
        self.over: NotATable | None = None  # a cap this part passes as a sheet
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
        raise NotATable()
    (size,) = struct.unpack_from("<I", content, at + 12)
    locator = at - 20
    if locator >= 0 and content[locator:locator + 4] == _EOCD64_LOCATOR:  # zip64: the size is in its own record
        (offset,) = struct.unpack_from("<Q", content, locator + 8)
        if content[offset:offset + 4] != _EOCD64 or offset + 48 > len(content):
            raise NotATable()
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
        raise NotATable("file_too_large", "part", part=info.filename, limit=_size(MAX_PART))
    with contextlib.suppress(xml.parsers.expat.ExpatError):  # damaged: openpyxl refuses the file
        parser.Parse(zf.read(info), True)
    return types


def _scan_zip(content: bytes) -> dict[str, _PartScan]:
    """Check the sizes of the zip's members and read each one with :class:`_PartScan`."""
    if _directory_size(content) > MAX_DIRECTORY:
        raise NotATable()
    unpacked_limit = {"limit": _size(MAX_UNPACKED)}
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > MAX_UNPACKED:
                raise NotATable("file_too_large", "unpacked", **unpacked_limit)
            types = _content_types(zf)

            def is_sheet(name: str) -> bool:
                return (types.get(name) == _WORKSHEET_TYPE and name not in _NAMED_PARTS
                        and not name.endswith(".rels"))

            for i in infos:
                if not is_sheet(i.filename) and i.file_size > MAX_PART:
                    raise NotATable("file_too_large", "part", part=shown_value(i.filename), limit=_size(MAX_PART))
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
                            raise NotATable()
                        if total > MAX_UNPACKED:
                            raise NotATable("file_too_large", "unpacked", **unpacked_limit)
                        scan.feed(chunk)
                        if strings + scan.strings > MAX_CELLS:
                            raise NotATable("too_many_cells", "strings", limit=f"{MAX_CELLS:,}")
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
        raise NotATable() from exc
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
                    raise NotATable()
                ws = wb.worksheets[0]
                # The first sheet's extent from the scan (openpyxl's read-only sheet keeps its
                # part name here): refused past a cap, else read to its last row and column only.
                scan = scans.get(ws._worksheet_path.lstrip("/"))
                if scan is None or scan.broken:
                    raise NotATable()
                if scan.over is not None:
                    raise scan.over
                if not scan.width:
                    return []
                ws.reset_dimensions()  # some exporters write a wrong <dimension>; the scan counted every row
                return [list(r) for r in ws.iter_rows(max_row=scan.last_row, max_col=scan.width, values_only=True)]
            finally:
                wb.close()
    except NotATable:
        raise
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign zip
        raise NotATable() from exc


# ---------------------------------------------------------------------------------------------
def cell_text(v: Any) -> str:
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
