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
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa

from opsmon.ingest.fields import KEYS, Kind, value_columns
from opsmon.ingest.problems import Problem

VALUE_TABLES: dict[str, str] = {"monthly": "monthly_values", "progress": "progress_values"}


@dataclass(frozen=True)
class StoreResult:
    """What a store did: revisions (or registry rows) written, rows already identical."""

    revisions_created: int
    unchanged_rows: int
    periods: list[str]


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
    """Raise :class:`PeriodLocked` when any of *periods* ('YYYY-MM') is locked."""
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


def store_values(conn: sa.Connection, kind: Kind, frame: pd.DataFrame, submission_id: int) -> StoreResult:
    """Store monthly or progress rows as new revisions where they differ from the current one."""
    table = VALUE_TABLES[kind]
    cols = value_columns(kind)
    conn.execute(sa.text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    periods = sorted(frame["period"].unique().tolist())
    check_locks(conn, periods)

    staged = frame.reindex(columns=["hospital_code", "period", *cols]).copy()
    staged["period"] = _period_dates(staged["period"])
    conn.execute(sa.text(
        f"CREATE TEMP TABLE stage ON COMMIT DROP AS "
        f"SELECT hospital_code, period, {', '.join(cols)} FROM {table} WITH NO DATA"
    ))
    _copy_frame(conn, "stage", staged)

    col_list = ", ".join(cols)
    s_cols = ", ".join(f"s.{c}" for c in cols)
    c_cols = ", ".join(f"c.{c}" for c in cols)
    # Rows whose values differ from the current revision (or that have none).
    conn.execute(sa.text(
        f"CREATE TEMP TABLE changed ON COMMIT DROP AS "
        f"SELECT s.*, coalesce(last.revision, 0) + 1 AS revision FROM stage s "
        f"LEFT JOIN {table} c ON c.hospital_code = s.hospital_code AND c.period = s.period AND c.is_current "
        f"LEFT JOIN LATERAL (SELECT max(revision) AS revision FROM {table} m "
        f"  WHERE m.hospital_code = s.hospital_code AND m.period = s.period) last ON true "
        f"WHERE c.hospital_code IS NULL OR ROW({s_cols}) IS DISTINCT FROM ROW({c_cols})"
    ))
    conn.execute(sa.text(
        f"UPDATE {table} m SET is_current = false FROM changed ch "
        f"WHERE m.hospital_code = ch.hospital_code AND m.period = ch.period AND m.is_current"
    ))
    created = conn.execute(sa.text(
        f"INSERT INTO {table} (hospital_code, period, revision, submission_id, is_current, {col_list}) "
        f"SELECT hospital_code, period, revision, :sid, true, {col_list} FROM changed"
    ), {"sid": submission_id}).rowcount
    return StoreResult(created, len(frame) - created, periods)


def store_registry(conn: sa.Connection, frame: pd.DataFrame) -> StoreResult:
    """Upsert hospitals keyed by hospital_code; rows identical to the stored ones count as unchanged."""
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
    return StoreResult(written, len(frame) - written, [])


def bump_data_version(conn: sa.Connection) -> int:
    """Tell caches the data changed; returns the new version."""
    return conn.execute(sa.text(
        "UPDATE data_state SET version = version + 1, changed_at = now() RETURNING version"
    )).scalar_one()
