"""Staging: a file's rows COPYed into a temp table, for the set-based writers to compare and insert.

Monthly and progress rows go to ``stage`` (typed as :data:`STAGE_TYPES`), registry rows to
``stage_registry`` (typed as ``hospitals``); both are dropped when the storing transaction
ends. The COPY runs on the SQLAlchemy connection's own driver connection, so it belongs to
that transaction: a load that fails or is killed leaves nothing staged or stored.

Rows go through psycopg's ``copy().write_row``, which formats each Python value for COPY
(amounts as floats already rounded to the fen: their shortest text is the exact amount).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from opsmon.ingest.fields import FIELDS, Kind, value_columns

# Column types of the staging table a file is copied into. Money is numeric without a typmod:
# the value table's numeric(18,2) is applied by the INSERT, so an amount too large for it
# fails there, in SQL, as it always has (not inside COPY).
STAGE_TYPES = {"money": "numeric", "count": "integer", "bool": "boolean", "enum": "text", "text": "text",
               "uscc": "char(18)", "period": "date", "adcode": "text"}


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
    staged["period"] = staged["period"].astype("string") + "-01"
    _copy_rows(conn, "stage", kind, staged)


def stage_registry_rows(conn: sa.Connection, frame: pd.DataFrame) -> None:
    """COPY *frame*'s registry rows into a new temp table ``stage_registry`` (typed as ``hospitals``)."""
    cols = value_columns("registry")
    conn.execute(sa.text(
        f"CREATE TEMP TABLE stage_registry ON COMMIT DROP AS "
        f"SELECT hospital_code, {', '.join(cols)} FROM hospitals WITH NO DATA"
    ))
    _copy_rows(conn, "stage_registry", "registry", frame.reindex(columns=["hospital_code", *cols]))
    # A registry without budget_authority (v1, or the cell left empty) means what v1 meant:
    # 预算管理医院 = 是 is 省 — unless the hospital is stored as 国家 already (a v2 file said so):
    # a v1 file's 是 agrees with that and does not demote it; 否 makes it 无.
    conn.execute(sa.text(
        "UPDATE stage_registry s SET budget_authority = CASE WHEN NOT s.is_budget_managed THEN '无' "
        "ELSE coalesce((SELECT h.budget_authority FROM hospitals h "
        "               WHERE h.hospital_code = s.hospital_code AND h.budget_authority <> '无'), '省') END "
        "WHERE s.budget_authority IS NULL"))


def _copy_rows(conn: sa.Connection, table: str, kind: Kind, frame: pd.DataFrame) -> None:
    """COPY *frame* (columns named as *table*'s, fields of *kind*) into *table*, in *conn*'s transaction."""
    types = {f.code: f.type for f in FIELDS[kind]}
    values = {}
    for c in frame.columns:
        col = frame[c]
        if types.get(c) == "count":
            col = col.astype("Int64")  # a count read as a float (12.0) is not integer text
        values[c] = col.astype(object).where(col.notna(), None)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN") as copy:
        for row in zip(*values.values(), strict=True):
            copy.write_row(row)
