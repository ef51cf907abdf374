"""Query results as DataFrames: through pandas for small reads, through ``COPY`` for large ones."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import psycopg
import sqlalchemy as sa


def read_frame(conn: sa.Connection, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """The rows of the query *sql* (bound *params*) as a DataFrame."""
    return pd.read_sql_query(sa.text(sql), conn, params=params or {})


def read_copy(conn: sa.Connection, sql: str, params: dict[str, Any] | None = None,
              dtype: dict[str, str] | None = None) -> pd.DataFrame:
    """Run a SELECT through ``COPY … TO STDOUT`` and parse it with pandas' C reader.

    For large reads: the driver would build a Python object (a Decimal for every numeric)
    per cell; CSV parsing is an order of magnitude faster. NULL becomes NaN / NA.
    """
    # A client-side cursor: the query is sent with its parameters merged, as COPY requires.
    cursor = psycopg.ClientCursor(conn.connection.driver_connection)
    query = cursor.mogrify(sql, params or {})
    buf = io.BytesIO()
    with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)") as copy:
        for chunk in copy:
            buf.write(chunk)
    buf.seek(0)
    return pd.read_csv(buf, dtype=dtype, keep_default_na=False, na_values=[""])
