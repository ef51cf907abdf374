"""Store a validated file: one transaction, set-based SQL, revisions, the submissions log.

A file is accepted whole or not at all. Rows go through ``COPY`` into a temporary
staging table; set-based statements then find which (hospital, period) rows
differ from their current revision, retire those revisions and insert the new
ones. Writers of a value table are serialised by a table lock taken at the start
of the transaction (readers are not blocked), so two uploads for the same
hospital and period become revisions 1 and 2, in order, without a deadlock.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from opsmon.ingest.fields import FIELDS, KEYS, Kind, value_columns
from opsmon.ingest.problems import Problem

VALUE_TABLES: dict[str, str] = {"monthly": "monthly_values", "progress": "progress_values"}
# Column types of the staging table a file is copied into. Money is numeric without a typmod:
# the value table's numeric(18,2) is applied by the INSERT, so an amount too large for it
# fails there, in SQL, as it always has (not inside COPY).
STAGE_TYPES = {"money": "numeric", "count": "integer", "bool": "boolean", "enum": "text", "text": "text",
               "uscc": "char(18)", "period": "date", "adcode": "text"}


@dataclass(frozen=True)
class StoreResult:
    """What a store did: revisions (or registry rows) written, rows already identical.

    ``changes`` (only when asked for) lists the rows written: the key columns
    ('YYYY-MM' periods), ``revision`` (reports: the new revision number; registry:
    1 for a new hospital, 2 for a changed one) and ``change`` ('new' or 'changed').
    """

    revisions_created: int
    unchanged_rows: int
    periods: list[str]
    changes: pd.DataFrame | None = None


class PeriodLocked(Exception):
    """A period in the file is locked; carries the problems to report."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems[0].message_en)
        self.problems = problems


def open_submission(
    conn: sa.Connection,
    *,
    kind: Kind | None,
    username: str,
    file_name: str,
    sha256: str,
    size_bytes: int,
    received_at: datetime | None,
) -> int:
    """Record a file attempt as 'processing' and return its id.

    Call it on its own committed connection: the row must survive a load that dies.
    """
    return conn.execute(
        sa.text(
            "INSERT INTO submissions (kind, username, file_name, sha256, size_bytes, received_at, status) "
            "VALUES (:kind, :user, :file, :sha, :size, coalesce(:at, now()), 'processing') "
            "RETURNING submission_id"
        ),
        {"kind": kind, "user": username, "file": file_name, "sha": sha256, "size": size_bytes, "at": received_at},
    ).scalar_one()


def close_submission(
    conn: sa.Connection,
    submission_id: int,
    *,
    kind: Kind | None,
    status: str,
    rows_total: int,
    rows_accepted: int,
    revisions_created: int,
    errors: list[Problem],
    warnings: list[Problem],
) -> None:
    """Write a submission's outcome."""
    conn.execute(
        sa.text(
            "UPDATE submissions SET kind = :kind, status = :status, finished_at = clock_timestamp(), "
            "rows_total = :total, rows_accepted = :accepted, revisions_created = :revs, "
            "errors = CAST(:errors AS jsonb), warnings = CAST(:warnings AS jsonb) "
            "WHERE submission_id = :id"
        ),
        {
            "id": submission_id,
            "kind": kind,
            "status": status,
            "total": rows_total,
            "accepted": rows_accepted,
            "revs": revisions_created,
            "errors": json.dumps([p.to_dict() for p in errors], ensure_ascii=False),
            "warnings": json.dumps([p.to_dict() for p in warnings], ensure_ascii=False),
        },
    )


def _read(conn: sa.Connection, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    return pd.read_sql_query(sa.text(sql), conn, params=params or {})


def read_copy(conn: sa.Connection, sql: str, params: dict[str, Any] | None = None,
              dtype: dict[str, str] | None = None) -> pd.DataFrame:
    """Run a SELECT through ``COPY … TO STDOUT`` and parse it with pandas' C reader.

    For large reads: psycopg2 would build a Python object (a Decimal for every numeric)
    per cell; CSV parsing is an order of magnitude faster. NULL becomes NaN / NA.
    """
    cursor = conn.connection.dbapi_connection.cursor()
    query = cursor.mogrify(sql, params or {}).decode()
    buf = io.BytesIO()
    cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)", buf)
    buf.seek(0)
    return pd.read_csv(buf, dtype=dtype, keep_default_na=False, na_values=[""])


def _period_dates(periods: pd.Series) -> pd.Series:
    return periods.astype("string") + "-01"


def _copy_frame(conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY *frame* (columns named as *table*'s) into *table*."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, na_rep="")
    buf.seek(0)
    cursor = conn.connection.dbapi_connection.cursor()
    cols = ", ".join(frame.columns)
    cursor.copy_expert(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '')", buf)


def check_locks(conn: sa.Connection, periods: list[str]) -> None:
    """Raise :class:`PeriodLocked` when any of *periods* ('YYYY-MM') is locked.

    Holds a SHARE lock on ``period_locks`` until the storing transaction ends: a lock
    being taken meanwhile waits for this upload to finish, so no upload lands in a
    period locked while it was being stored.
    """
    conn.execute(sa.text("LOCK TABLE period_locks IN SHARE MODE"))
    rows = conn.execute(
        sa.text(
            "SELECT to_char(period, 'YYYY-MM') AS period, locked_by, "
            "to_char(locked_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS locked_at "
            "FROM period_locks WHERE to_char(period, 'YYYY-MM') = ANY(:p) ORDER BY period"
        ),
        {"p": periods},
    ).all()
    if rows:
        raise PeriodLocked([
            Problem(
                None, "period", r.period, "period_locked",
                f"报告期 {r.period} 已由 {r.locked_by} 于 {r.locked_at} 锁定，不能再修改。如需更正请联系省级管理员解锁。",
                f"Period {r.period} was locked by {r.locked_by} at {r.locked_at}; "
                "ask the provincial administrator to unlock it.",
            )
            for r in rows
        ])


def store_values(conn: sa.Connection, kind: Kind, frame: pd.DataFrame, submission_id: int, *,
                 report_changes: bool = False) -> StoreResult:
    """Store monthly or progress rows as new revisions where they differ from the current one.

    With *report_changes* the result lists the (hospital, period) rows written (a dry
    run's preview); otherwise that read is skipped.
    """
    table = VALUE_TABLES[kind]
    cols = value_columns(kind)
    conn.execute(sa.text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    periods = sorted(frame["period"].unique().tolist())
    check_locks(conn, periods)

    types = {f.code: STAGE_TYPES[f.type] for f in FIELDS[kind]}
    stage_cols = ["hospital_code", "period", *cols]
    conn.execute(sa.text(
        # hospital_code as the value table has it (char(18)): a text key would not use its index.
        "CREATE TEMP TABLE stage (" + ", ".join(f"{c} {types[c]}" for c in stage_cols) + ") ON COMMIT DROP"
    ))
    _stage_rows(conn, kind, frame.reindex(columns=stage_cols))

    col_list = ", ".join(cols)
    s_cols = ", ".join(f"s.{c}" for c in cols)
    c_cols = ", ".join(f"c.{c}" for c in cols)
    # The file's periods, spelled out beside the key joins (which imply them): the planner
    # then reads the current rows of those months through the period index instead of
    # hashing every current row of the table — which grows with each month stored.
    in_periods = "period = ANY(CAST(:periods AS date[]))"
    dates = {"periods": [f"{p}-01" for p in periods]}
    # The keys whose values differ from the current revision (or that have none), with
    # their next revision number — found before anything is written: a query of the value
    # table inside the INSERT would scan the rows it is adding (quadratic on a fresh table).
    conn.execute(sa.text(
        f"CREATE TEMP TABLE changed ON COMMIT DROP AS "
        f"SELECT s.hospital_code, s.period, coalesce(last.revision, 0) + 1 AS revision FROM stage s "
        f"LEFT JOIN {table} c ON c.hospital_code = s.hospital_code AND c.period = s.period AND c.is_current "
        f"  AND c.{in_periods} "
        f"LEFT JOIN LATERAL (SELECT max(revision) AS revision FROM {table} m "
        f"  WHERE m.hospital_code = s.hospital_code AND m.period = s.period) last ON true "
        f"WHERE c.hospital_code IS NULL OR ROW({s_cols}) IS DISTINCT FROM ROW({c_cols})"
    ), dates)
    conn.execute(sa.text(
        f"UPDATE {table} m SET is_current = false FROM changed ch "
        f"WHERE m.hospital_code = ch.hospital_code AND m.period = ch.period AND m.is_current AND m.{in_periods}"
    ), dates)
    insert = (
        f"INSERT INTO {table} (hospital_code, period, revision, submission_id, is_current, {col_list}) "
        f"SELECT s.hospital_code, s.period, ch.revision, :sid, true, {s_cols} "
        f"FROM stage s JOIN changed ch ON ch.hospital_code = s.hospital_code AND ch.period = s.period"
    )
    changes = None
    if report_changes:
        changes = _read(conn, (
            "SELECT CAST(hospital_code AS text) AS hospital_code, to_char(period, 'YYYY-MM') AS period, revision, "
            "CASE WHEN revision = 1 THEN 'new' ELSE 'changed' END AS change "
            "FROM changed ORDER BY hospital_code, period"))
    created = conn.execute(sa.text(insert), {"sid": submission_id}).rowcount
    return StoreResult(created, len(frame) - created, periods, changes)


# ---------------------------------------------------------------------------------------------
# Staging: COPY in PostgreSQL's binary format where every column has a fixed width (a monthly
# file: codes, dates, amounts, counts) — built with numpy, no text formatting per value, and
# cheaper for the server to read than text; CSV otherwise (progress files' enum text).
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


def _stage_rows(conn: sa.Connection, kind: Kind, staged: pd.DataFrame) -> None:
    """COPY *staged* (hospital_code, period 'YYYY-MM', value columns) into the table ``stage``."""
    data = _binary_rows(kind, staged)
    if data is not None:
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.copy_expert(f"COPY stage ({', '.join(staged.columns)}) FROM STDIN WITH (FORMAT binary)",
                           io.BytesIO(data))
        return
    staged = staged.copy()
    staged["period"] = _period_dates(staged["period"])
    for f in FIELDS[kind]:
        if f.type == "money" and f.code in staged:
            staged[f.code] = _decimal_text(staged[f.code])
    _copy_frame(conn, "stage", staged)


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


def store_registry(conn: sa.Connection, frame: pd.DataFrame, *, report_changes: bool = False) -> StoreResult:
    """Upsert hospitals keyed by hospital_code; rows identical to the stored ones count as unchanged.

    With *report_changes* the result lists the hospitals written, new or changed.
    """
    cols = value_columns("registry")
    conn.execute(sa.text("LOCK TABLE hospitals IN SHARE ROW EXCLUSIVE MODE"))
    conn.execute(sa.text(
        f"CREATE TEMP TABLE stage_registry ON COMMIT DROP AS "
        f"SELECT hospital_code, {', '.join(cols)} FROM hospitals WITH NO DATA"
    ))
    _copy_frame(conn, "stage_registry", frame.reindex(columns=["hospital_code", *cols]))
    set_cols = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    s_cols = ", ".join(f"s.{c}" for c in cols)
    h_cols = ", ".join(f"h.{c}" for c in cols)
    changes = None
    if report_changes:  # read before the upsert: afterwards every row matches
        changes = _read(conn, (
            "SELECT CAST(s.hospital_code AS text) AS hospital_code, "
            "CASE WHEN h.hospital_code IS NULL THEN 1 ELSE 2 END AS revision, "
            "CASE WHEN h.hospital_code IS NULL THEN 'new' ELSE 'changed' END AS change "
            f"FROM stage_registry s LEFT JOIN hospitals h USING (hospital_code) "
            f"WHERE h.hospital_code IS NULL OR ROW({s_cols}) IS DISTINCT FROM ROW({h_cols}) "
            "ORDER BY s.hospital_code"))
    # Alliance leads may be new hospitals of the same file: insert without them first,
    # then set them, so the self-reference never points at a row not yet there.
    written = conn.execute(sa.text(
        f"INSERT INTO hospitals (hospital_code, {', '.join(cols)}) "
        f"SELECT s.hospital_code, {s_cols.replace('s.alliance_lead_code', 'h.alliance_lead_code')} "
        f"FROM stage_registry s LEFT JOIN hospitals h USING (hospital_code) "
        f"WHERE h.hospital_code IS NULL OR ROW({s_cols}) IS DISTINCT FROM ROW({h_cols}) "
        f"ON CONFLICT (hospital_code) DO UPDATE SET {set_cols}, updated_at = now()"
    )).rowcount
    conn.execute(sa.text(
        "UPDATE hospitals h SET alliance_lead_code = s.alliance_lead_code FROM stage_registry s "
        "WHERE h.hospital_code = s.hospital_code "
        "AND h.alliance_lead_code IS DISTINCT FROM s.alliance_lead_code"
    ))
    return StoreResult(written, len(frame) - written, [], changes)


def bump_data_version(conn: sa.Connection) -> int:
    """Tell caches the data changed; returns the new version."""
    return conn.execute(sa.text(
        "UPDATE data_state SET version = version + 1, changed_at = now() RETURNING version"
    )).scalar_one()


# ---------------------------------------------------------------------------------------------
# Reading back: current values (a preview's comparison), revisions, the submissions log, settings.
def current_values(conn: sa.Connection, kind: Kind, keys: pd.DataFrame) -> pd.DataFrame:
    """The stored current values for the keys of *keys* (hospital_code, and period 'YYYY-MM' for reports).

    Columns as a parsed file has them: key columns, then the value columns of *kind*
    (periods 'YYYY-MM', enums as their stored codes). Keys with nothing stored are absent.
    """
    cols = value_columns(kind)
    key_cols = list(KEYS[kind])
    keys = keys.reindex(columns=key_cols).dropna().drop_duplicates()
    # Keys as char(18), the column's type: compared as text, the key index would not be used.
    select = ", ".join(f"t.{c}" for c in cols)
    if kind == "registry":
        sql = (f"SELECT CAST(t.hospital_code AS text) AS hospital_code, {select} FROM hospitals t "
               "JOIN unnest(CAST(:codes AS char(18)[])) AS k(hospital_code) ON t.hospital_code = k.hospital_code")
        params: dict[str, Any] = {"codes": keys["hospital_code"].astype(str).tolist()}
    else:
        sql = (f"SELECT CAST(t.hospital_code AS text) AS hospital_code, to_char(t.period, 'YYYY-MM') AS period, "
               f"{select} FROM {VALUE_TABLES[kind]} t "
               "JOIN unnest(CAST(:codes AS char(18)[]), CAST(:periods AS date[])) AS k(hospital_code, period) "
               "ON t.hospital_code = k.hospital_code AND t.period = k.period WHERE t.is_current")
        params = {"codes": keys["hospital_code"].astype(str).tolist(),
                  "periods": (keys["period"].astype(str) + "-01").tolist()}
    frame = _read(conn, sql, params)
    # numeric arrives as Decimal: floats, as the parser gives them, so values compare.
    for f in FIELDS[kind]:
        if f.code in frame and f.type == "money":
            frame[f.code] = pd.to_numeric(frame[f.code], errors="coerce").astype("float64")
        elif f.code in frame and f.type == "count":
            frame[f.code] = pd.to_numeric(frame[f.code], errors="coerce").astype("Int64")
    if kind == "registry" and "alliance_lead_code" in frame:
        frame["alliance_lead_code"] = frame["alliance_lead_code"].str.strip()
    return frame.reset_index(drop=True)


def revisions(conn: sa.Connection, kind: Kind, hospital_code: str, period: str | None = None) -> pd.DataFrame:
    """Every stored revision of a hospital's reports of *kind* (one period or all), oldest first."""
    where = " AND t.period = CAST(:period AS date)" if period else ""
    return _read(conn, (
        "SELECT to_char(t.period, 'YYYY-MM') AS period, t.revision, t.is_current, t.submission_id, "
        "s.username, s.file_name, s.received_at "
        f"FROM {VALUE_TABLES[kind]} t JOIN submissions s USING (submission_id) "
        f"WHERE t.hospital_code = :code{where} ORDER BY t.period, t.revision"
    ), {"code": hospital_code, "period": f"{period}-01" if period else None})


SUBMISSION_COLUMNS = ("submission_id, kind, username, file_name, sha256, size_bytes, received_at, finished_at, "
                      "status, rows_total, rows_accepted, revisions_created")


# Submissions a scope may see: those whose uploader belongs inside it (the top of the hierarchy sees all,
# including CLI and demo loads). A file's errors quote its rows, so a hospital sees only its own users' files.
_SUBMITTED_IN_SCOPE = """(
    CAST(:scope AS text) IS NULL
    OR :scope = (SELECT adcode FROM regions WHERE parent_adcode IS NULL)
    OR username IN (SELECT u.username FROM users u WHERE u.hospital_code = :scope)
    OR username IN (SELECT u.username FROM users u LEFT JOIN hospitals h ON h.hospital_code = u.hospital_code
                    WHERE coalesce(h.adcode, u.region_adcode) IN
                          (SELECT adcode FROM region_ancestors WHERE ancestor_adcode = :scope)))"""


def submissions(conn: sa.Connection, *, limit: int = 50, username: str | None = None,
                scope: str | None = None) -> pd.DataFrame:
    """The submissions log, newest first, with the number of errors and warnings of each attempt.

    *scope* (a region adcode or hospital code) keeps the files uploaded by users inside it.
    """
    where = "WHERE " + _SUBMITTED_IN_SCOPE + (" AND username = :user " if username else " ")
    return _read(conn, (
        f"SELECT {SUBMISSION_COLUMNS}, jsonb_array_length(errors) AS n_errors, "
        f"jsonb_array_length(warnings) AS n_warnings FROM submissions {where}"
        "ORDER BY received_at DESC, submission_id DESC LIMIT :limit"
    ), {"limit": limit, "user": username, "scope": scope})


def submission(conn: sa.Connection, submission_id: int, *, scope: str | None = None) -> dict[str, Any] | None:
    """One submission with its errors and warnings (lists of problem dicts); None if there is none in *scope*."""
    row = conn.execute(sa.text(
        f"SELECT {SUBMISSION_COLUMNS}, errors, warnings FROM submissions WHERE submission_id = :id "
        f"AND {_SUBMITTED_IN_SCOPE}"
    ), {"id": submission_id, "scope": scope}).mappings().first()
    return dict(row) if row else None


def setting(conn: sa.Connection, key: str) -> Any:
    """A value of the settings table (JSON-decoded), None when unset."""
    return conn.execute(sa.text("SELECT value FROM settings WHERE key = :k"), {"k": key}).scalar()


def set_setting(conn: sa.Connection, key: str, value: Any) -> None:
    """Insert or replace a value of the settings table."""
    conn.execute(sa.text(
        "INSERT INTO settings (key, value) VALUES (:k, CAST(:v AS jsonb)) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
    ), {"k": key, "v": json.dumps(value)})
