"""Read a hospital's file (CSV or XLSX) into typed columns, never raising for bad input.

``parse`` turns the bytes of an upload into a :class:`Parsed`: the kind of report, one
row per non-blank data row indexed by the row number a person sees in Excel, the
typed values, the original cell text, and the parse-level :class:`Problem` list
(file errors, header problems, cells that are not numbers / periods / allowed values).
The rules of the contract (missing values, codes, identities, plausibility) are in
:mod:`opsmon.ingest.validate`.

The steps are modules of their own: :mod:`opsmon.ingest.read` (bytes → rows of cells, and the
caps on hostile files), :mod:`opsmon.ingest.header` (the header row, the kind of report, the
columns) and :mod:`opsmon.ingest.cells` (cells → typed values); every message comes from
:mod:`opsmon.ingest.problems`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from opsmon.ingest.cells import DTYPES, typed_frames
from opsmon.ingest.fields import FIELDS, KIND_MARKERS, KINDS, Field, Kind
from opsmon.ingest.header import detect_kind, find_header_row, first_data_row, match_columns, match_header
from opsmon.ingest.problems import Problem, capped, in_sheet_order, make_problem

# The caps are re-exported: opsmon/dashboard and bench/hostile.py import them from here.
from opsmon.ingest.read import (
    MAX_BYTES,
    MAX_CELLS,
    MAX_COLUMNS,
    MAX_ROWS,
    MAX_UNPACKED,
    NotATable,
    cell_text,
    read_rows,
)

__all__ = ["KIND_NAMES", "MAX_BYTES", "MAX_CELLS", "MAX_COLUMNS", "MAX_ROWS", "MAX_UNPACKED", "Parsed",
           "empty_frames", "parse"]

log = logging.getLogger(__name__)

KIND_NAMES = {"monthly": ("月度经济运行快报", "a monthly financial report"),
              "progress": ("运营管理建设进展", "an operations-management progress report"),
              "registry": ("机构名录", "a hospital registry")}


@dataclass
class Parsed:
    """A parsed file: typed values and original text, indexed by spreadsheet row number."""

    kind: Kind | None
    frame: pd.DataFrame
    raw: pd.DataFrame
    header_row: int | None
    columns: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def empty_frames(fields: list[Field] | tuple[Field, ...] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A typed frame and raw frame with no rows."""
    index = pd.Index([], dtype="int64", name="row")
    frame = pd.DataFrame({f.code: pd.Series(dtype=DTYPES[f.type], index=index) for f in fields}, index=index)
    raw = pd.DataFrame({f.code: pd.Series(dtype="string", index=index) for f in fields}, index=index)
    return frame, raw


def _fail(kind: Kind | None, code: str, *, header_row: int | None = None, **kwargs: Any) -> Parsed:
    frame, raw = empty_frames()
    return Parsed(kind, frame, raw, header_row, {}, [make_problem(code, row=header_row, **kwargs)])


# ---------------------------------------------------------------------------------------------
def parse(content: bytes, file_name: str, kind: Kind | None = None, max_bytes: int = MAX_BYTES) -> Parsed:
    """Parse one uploaded file; every failure becomes a :class:`Problem`, nothing is raised."""
    try:
        return _parse(bytes(content or b""), file_name, kind if kind in KINDS else None, max_bytes)
    except Exception:  # a last guard: a clerk gets a message, the log gets the stack trace
        log.exception("parse failed on %r (%d bytes)", file_name, len(content or b""))
        return _fail(kind if kind in KINDS else None, "parse_failed")


def _parse(content: bytes, file_name: str, kind: Kind | None, max_bytes: int) -> Parsed:
    try:
        rows, is_xlsx = read_rows(content, max_bytes)
    except NotATable as exc:
        args = dict(exc.args_)  # a cap names the row it found passed: the problem points there
        return _fail(kind, exc.code, header_row=args.pop("row", None), variant=exc.variant, **args)

    # A row is blank when every cell is empty or spaces.
    texts = [[cell_text(v) for v in r] for r in rows] if is_xlsx else rows
    nonblank = [any(map(str.strip, r)) for r in texts]
    if not any(nonblank):
        return _fail(kind, "empty_file")

    header_at = find_header_row(texts)
    if header_at is None:
        return _fail(kind, "no_header")
    header_row = header_at + 1
    header = texts[header_at]

    detected = detect_kind(header)
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

    # Data rows: after the header (and the rows repeating it), non-blank.
    body = [i for i in range(first_data_row(texts, header_at, kind), len(texts)) if nonblank[i]]

    positions, columns, problems = match_columns(header, header_row, [texts[i] for i in body], kind)
    present = [f for f in FIELDS[kind] if f.code in positions]
    if not body:
        frame, raw = empty_frames(present)
        problems.append(make_problem("no_data_rows", row=header_row))
        return Parsed(kind, frame, raw, header_row, columns, in_sheet_order(problems, kind))

    index = pd.Index([i + 1 for i in body], dtype="int64", name="row")
    grid = [rows[i] for i in body] if is_xlsx else None
    frame, raw, cell_problems = typed_frames(grid, [texts[i] for i in body], index, present, positions)
    # capped: the count of the cell problems typed_frames left off goes last.
    return Parsed(kind, frame, raw, header_row, columns, capped(in_sheet_order(problems + cell_problems, kind)))
