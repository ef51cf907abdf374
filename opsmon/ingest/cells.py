"""Cells to typed values: numbers, periods, allowed values, yes/no, codes and text.

:func:`typed_frames` converts the data rows a column at a time (vectorised over the rows) into
the typed frame and the frame of original cell text, with a :class:`Problem` for each cell that
is not what its column holds — at most MAX_ERRORS of them. A CSV's plain cells (numbers,
periods, codes) take numpy fast paths (see "Fast paths" below). :func:`missing_mask` serves
:mod:`opsmon.ingest.validate` too, :func:`ascii_codes` :mod:`opsmon.ingest.uscc`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opsmon.ingest.fields import BOOL_TOKENS, MISSING_TOKENS, Field
from opsmon.ingest.problems import MAX_ERRORS, Problem, make_problem, more_problems


# The largest values the database columns hold.
MONEY_LIMIT = 1e16  # numeric(18,2)
COUNT_LIMIT = 2**31 - 1  # integer

# The typed frame's dtype of each field type.
DTYPES = {"uscc": "string", "text": "string", "adcode": "string", "period": "string", "enum": "string",
          "money": "float64", "count": "Int64", "bool": "boolean"}

_WS = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------
def typed_frames(grid: list[list[Any]] | None, texts: list[list[str]], index: pd.Index, present: list[Field],
                 positions: dict[str, int]) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """The typed frame, the raw frame and the cell problems of the data rows.

    *grid* holds a workbook's cell objects (None for a CSV); *texts* the cells as text;
    *index* the rows' spreadsheet row numbers; *positions* the column of each field of *present*.
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
            problems.append(make_problem(code, variant=variant or None, row=row, field=f, value=raw.at[row],
                                         **extra))
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

