"""The stored values: new revisions of report rows, registry upserts, and reading them back.

A file is accepted whole or not at all. Its rows are staged (:mod:`.staging`); set-based
statements then find which (hospital, period) rows differ from their current revision,
retire those revisions and insert the new ones. Writers of the same hospital's rows are
serialised (:func:`lock_writers`), so two uploads for the same hospital and period become
revisions 1 and 2, in order, without a deadlock; uploads of different hospitals store side by
side, and readers are never blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from opsmon.ingest.fields import FIELDS, KEYS, Kind, value_columns
from opsmon.ingest.store.frames import read_frame
from opsmon.ingest.store.period_locks import check_locks
from opsmon.ingest.store.staging import stage_registry_rows, stage_report_rows

VALUE_TABLES: dict[str, str] = {"monthly": "monthly_values", "progress": "progress_values"}
# A file of at most this many hospitals locks those hospitals; a larger one (a bulk load) locks the
# table: one lock instead of thousands (PostgreSQL's lock table holds ~64 per connection).
HOSPITAL_LOCKS_MAX = 64


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


def store_values(conn: sa.Connection, kind: Kind, frame: pd.DataFrame, submission_id: int, *,
                 report_changes: bool = False) -> StoreResult:
    """Store monthly or progress rows as new revisions where they differ from the current one.

    With *report_changes* the result lists the (hospital, period) rows written (a dry
    run's preview); otherwise that read is skipped.
    """
    table = VALUE_TABLES[kind]
    cols = value_columns(kind)
    lock_writers(conn, table, frame["hospital_code"].astype(str).unique().tolist())
    periods = sorted(frame["period"].unique().tolist())
    check_locks(conn, periods)
    stage_report_rows(conn, kind, frame)

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
        changes = read_frame(conn, (
            "SELECT CAST(hospital_code AS text) AS hospital_code, to_char(period, 'YYYY-MM') AS period, revision, "
            "CASE WHEN revision = 1 THEN 'new' ELSE 'changed' END AS change "
            "FROM changed ORDER BY hospital_code, period"))
    created = conn.execute(sa.text(insert), {"sid": submission_id}).rowcount
    return StoreResult(created, len(frame) - created, periods, changes)


def lock_writers(conn: sa.Connection, table: str, hospital_codes: list[str]) -> None:
    """Hold off, until this transaction ends, every other writer of *table*'s rows of *hospital_codes*.

    The next revision number is read from what is stored, so two writers of one hospital must
    not interleave. Up to :data:`HOSPITAL_LOCKS_MAX` hospitals: a transaction advisory lock per
    hospital, taken in code order (two files sharing hospitals cannot deadlock), under the
    table's ROW EXCLUSIVE lock — which every writer holds anyway and which conflicts only with a
    bulk file's. More hospitals: the table's SHARE ROW EXCLUSIVE lock, which waits for every other
    writer and holds them all off (readers are never blocked).
    """
    if len(hospital_codes) > HOSPITAL_LOCKS_MAX:
        conn.execute(sa.text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        return
    conn.execute(sa.text(f"LOCK TABLE {table} IN ROW EXCLUSIVE MODE"))
    # Sorted in a subquery: the locks are taken row by row in that order.
    conn.execute(sa.text(
        "SELECT count(pg_advisory_xact_lock(hashtextextended(:t || ':' || code, 0))) "
        "FROM (SELECT code FROM unnest(CAST(:codes AS text[])) AS code ORDER BY code) sorted"
    ), {"t": table, "codes": list(hospital_codes)})


def store_registry(conn: sa.Connection, frame: pd.DataFrame, *, report_changes: bool = False) -> StoreResult:
    """Upsert hospitals keyed by hospital_code; rows identical to the stored ones count as unchanged.

    With *report_changes* the result lists the hospitals written, new or changed.
    """
    cols = value_columns("registry")
    conn.execute(sa.text("LOCK TABLE hospitals IN SHARE ROW EXCLUSIVE MODE"))
    stage_registry_rows(conn, frame)
    set_cols = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)
    s_cols = ", ".join(f"s.{c}" for c in cols)
    h_cols = ", ".join(f"h.{c}" for c in cols)
    changes = None
    if report_changes:  # read before the upsert: afterwards every row matches
        changes = read_frame(conn, (
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
# Reading back: current values (a preview's comparison) and a hospital's revisions.
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
    frame = read_frame(conn, sql, params)
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
    return read_frame(conn, (
        "SELECT to_char(t.period, 'YYYY-MM') AS period, t.revision, t.is_current, t.submission_id, "
        "s.username, s.file_name, s.received_at "
        f"FROM {VALUE_TABLES[kind]} t JOIN submissions s USING (submission_id) "
        f"WHERE t.hospital_code = :code{where} ORDER BY t.period, t.revision"
    ), {"code": hospital_code, "period": f"{period}-01" if period else None})
