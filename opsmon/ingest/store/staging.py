"""Staging: a file's rows COPYed into a temp table, for the set-based writers to compare and insert.

Monthly and progress rows go to ``stage`` (typed as :data:`STAGE_TYPES`), registry rows to
``stage_registry`` (typed as ``hospitals``); both are dropped when the storing transaction
ends. The COPY runs on the SQLAlchemy connection's own driver connection, so it belongs to
that transaction: a load that fails or is killed leaves nothing staged or stored.

COPY is in PostgreSQL's binary format where every column has a fixed width (a monthly
file: codes, dates, amounts, counts) — built with numpy, no text formatting per value, and
cheaper for the server to read than text; CSV otherwise (progress files' enum text,
the registry).
"""

from __future__ import annotations

import io
import re
from typing import IO

import numpy as np
import pandas as pd
import sqlalchemy as sa

from opsmon.ingest.fields import FIELDS, Kind, value_columns

# Column types of the staging table a file is copied into. Money is numeric without a typmod:
# the value table's numeric(18,2) is applied by the INSERT, so an amount too large for it
# fails there, in SQL, as it always has (not inside COPY).
STAGE_TYPES = {"money": "numeric", "count": "integer", "bool": "boolean", "enum": "text", "text": "text",
               "uscc": "char(18)", "period": "date", "adcode": "text"}

_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, header extension length
_PGCOPY_TRAILER = b"\xff\xff"
_PG_EPOCH = pd.Timestamp("2000-01-01")  # binary dates count days from it
_PERIOD = re.compile(r"[0-9]{4}-[0-9]{2}")
# numeric as sent: ndigits, weight, sign, dscale, then base-10000 digits — six of them, from
# 10000**4 down to 10000**-1, hold any amount in cents that fits an int64.
_NUMERIC_DIGITS = 6
_NUMERIC_HEAD = (_NUMERIC_DIGITS, 4, 0, 2)
_INT32 = (-(2**31), 2**31 - 1)
_CENTS_LIMIT = 9e18  # below 2**63: the cents convert to int64 exactly


def stage_report_rows(conn: sa.Connection, kind: Kind, frame: pd.DataFrame) -> None:
    """COPY *frame*'s monthly or progress rows into a new temp table ``stage``.

    ``stage`` has hospital_code, period (a date) and the value columns of *kind*;
    *frame* has periods as 'YYYY-MM'.
    """
    types = {f.code: STAGE_TYPES[f.type] for f in FIELDS[kind]}
    stage_cols = ["hospital_code", "period", *value_columns(kind)]
    conn.execute(sa.text(
        # hospital_code as the value table has it (char(18)): a text key would not use its index.
        "CREATE TEMP TABLE stage (" + ", ".join(f"{c} {types[c]}" for c in stage_cols) + ") ON COMMIT DROP"
    ))
    staged = frame.reindex(columns=stage_cols)
    data = _binary_rows(kind, staged)
    if data is not None:
        _copy_in(conn, "stage", stage_cols, "FORMAT binary", io.BytesIO(data))
        return
    staged = staged.copy()
    staged["period"] = _period_dates(staged["period"])
    for f in FIELDS[kind]:
        if f.type == "money" and f.code in staged:
            staged[f.code] = _decimal_text(staged[f.code])
    _copy_frame(conn, "stage", staged)


def stage_registry_rows(conn: sa.Connection, frame: pd.DataFrame) -> None:
    """COPY *frame*'s registry rows into a new temp table ``stage_registry`` (typed as ``hospitals``)."""
    cols = value_columns("registry")
    conn.execute(sa.text(
        f"CREATE TEMP TABLE stage_registry ON COMMIT DROP AS "
        f"SELECT hospital_code, {', '.join(cols)} FROM hospitals WITH NO DATA"
    ))
    _copy_frame(conn, "stage_registry", frame.reindex(columns=["hospital_code", *cols]))
    # A registry without budget_authority (v1, or the cell left empty) means what v1 meant:
    # 预算管理医院 = 是 is 省 — unless the hospital is stored as 国家 already (a v2 file said so):
    # a v1 file's 是 agrees with that and does not demote it; 否 makes it 无.
    conn.execute(sa.text(
        "UPDATE stage_registry s SET budget_authority = CASE WHEN NOT s.is_budget_managed THEN '无' "
        "ELSE coalesce((SELECT h.budget_authority FROM hospitals h "
        "               WHERE h.hospital_code = s.hospital_code AND h.budget_authority <> '无'), '省') END "
        "WHERE s.budget_authority IS NULL"))


def _copy_in(conn: sa.Connection, table: str, columns: list[str], options: str, data: IO) -> None:
    """COPY *data* into *table*'s *columns* through the driver connection under *conn* (its transaction)."""
    cursor = conn.connection.dbapi_connection.cursor()
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH ({options})", data)


def _copy_frame(conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY *frame* (columns named as *table*'s) into *table*, as CSV."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, na_rep="")
    buf.seek(0)
    _copy_in(conn, table, list(frame.columns), "FORMAT csv, NULL ''", buf)


def _period_dates(periods: pd.Series) -> pd.Series:
    return periods.astype("string") + "-01"


def _cents(values: pd.Series) -> np.ndarray:
    # The parser has rounded every amount to the fen; * 100 and round make it exact.
    return np.round(values.to_numpy(dtype="float64", na_value=np.nan) * 100)


def _decimal_text(values: pd.Series) -> pd.Series:
    """Amounts as exact decimal text from their cents ('1234.50'; NA stays NA), for the CSV path."""
    cents = _cents(values)
    null = np.isnan(cents)
    c = np.where(null, 0, cents).astype(np.int64)
    sign = pd.Series(np.where(c < 0, "-", ""), index=values.index, dtype="string")
    whole = pd.Series(np.abs(c) // 100, index=values.index).astype("string")
    fen = pd.Series(np.abs(c) % 100, index=values.index).astype("string").str.zfill(2)
    return (sign + whole + "." + fen).where(~null)


def _binary_rows(kind: Kind, staged: pd.DataFrame) -> bytes | None:
    """*staged* in COPY's binary format, or None when a column is not of a fixed width or a
    value would not go through it exactly as through text (the CSV path then reports it)."""
    n = len(staged)
    fields = {f.code: f for f in FIELDS[kind]}
    columns: list[tuple[str, int, np.ndarray, np.ndarray]] = []  # (numpy type, size, values, null)
    for c in staged.columns:
        col = staged[c]
        null = col.isna().to_numpy(dtype=bool)
        f = fields[c]
        if f.type == "uscc":
            if null.any():
                return None
            codes = col.to_numpy(dtype=object)
            joined = "".join(codes)
            # 18 characters on average and at most 18: all of 18 (validation made them so).
            if not joined.isascii() or len(joined) != 18 * n or (n and max(map(len, codes)) != 18):
                return None
            columns.append(("S18", 18, np.frombuffer(joined.encode("ascii"), dtype="S18"), null))
        elif f.type == "period":
            if null.any():
                return None
            which, uniques = pd.factorize(col.to_numpy(dtype=object))  # a file holds a few periods
            days = []
            for p in uniques:
                if not (isinstance(p, str) and _PERIOD.fullmatch(p) and 1 <= int(p[5:]) <= 12):
                    return None
                days.append((pd.Timestamp(f"{p}-01") - _PG_EPOCH).days)
            columns.append((">i4", 4, np.array(days, dtype=np.int64)[which], null))
        elif f.type == "money":
            cents = _cents(col)
            if (np.abs(cents[~null]) >= _CENTS_LIMIT).any():
                return None
            columns.append(((">i2", (4 + _NUMERIC_DIGITS,)), 2 * (4 + _NUMERIC_DIGITS),
                            _numeric(np.where(null, 0, cents).astype(np.int64)), null))
        elif f.type == "count":
            values = col.to_numpy(dtype="float64", na_value=np.nan)
            ok = values[~null]
            if ((ok < _INT32[0]) | (ok > _INT32[1]) | (ok != np.round(ok))).any():
                return None
            columns.append((">i4", 4, np.where(null, 0, values).astype(np.int64), null))
        else:  # text of any length: not a fixed layout
            return None

    # A row's layout depends on which of its fields are NULL (length -1, no bytes): one
    # block of rows per pattern of NULLs. Row order in the stage does not matter.
    nulls = np.column_stack([null for *_, null in columns])
    nullable = np.flatnonzero(nulls.any(axis=0))  # usually the few optional columns
    if len(nullable) > 62:
        return None
    keys = nulls[:, nullable].astype(np.int64) @ (np.int64(1) << np.arange(len(nullable), dtype=np.int64))
    parts = [_PGCOPY_HEADER]
    for key in np.unique(keys):
        rows = np.flatnonzero(keys == key)
        pattern = nulls[rows[0]]
        layout = [("count", ">i2")]
        for j, (dtype, _, _, _) in enumerate(columns):
            layout.append((f"len{j}", ">i4"))
            if not pattern[j]:
                layout.append((f"value{j}", dtype))
        block = np.empty(len(rows), dtype=layout)
        block["count"] = len(columns)
        every = len(rows) == n
        for j, (_, size, values, _) in enumerate(columns):
            block[f"len{j}"] = -1 if pattern[j] else size
            if not pattern[j]:
                block[f"value{j}"] = values if every else values[rows]
        parts.append(block.tobytes())
    parts.append(_PGCOPY_TRAILER)
    return b"".join(parts)


def _numeric(cents: np.ndarray) -> np.ndarray:
    """Amounts in cents as the fields of binary numerics: header, then base-10000 digits.

    The receiving side drops leading and trailing zero digits, so every value can be sent
    with the same six digits (weight 4, display scale 2: 1234.50 stays 1234.50).
    """
    out = np.empty((len(cents), 4 + _NUMERIC_DIGITS), dtype=np.int64)
    out[:, :4] = _NUMERIC_HEAD
    out[:, 2] = np.where(cents < 0, 0x4000, 0)
    a = np.abs(cents)
    whole, fen = a // 100, a % 100
    for i in range(_NUMERIC_DIGITS - 1):
        out[:, 4 + i] = whole // 10000 ** (_NUMERIC_DIGITS - 2 - i) % 10000
    out[:, -1] = fen * 100
    return out
