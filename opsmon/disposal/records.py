"""The disposal records: made from the risk register, read within a scope.

:func:`sync` runs after every refresh of the risk register (:func:`opsmon.derived.refresh`, the write
side; reads never write): an open orange or red episode without a record gets one
(``create``, by the system); a closed record whose risk fires again in a newer episode reopens
(``reopen``, by the system) with its history; a record's level rises with its episode's.
``data_resolved`` (数据已解除) and ``overdue`` are worked out when read, never stored.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.indicators import restrict

_SYNC = [
    # New records for open orange/red episodes (one per hospital and rule), each with its 'create' event.
    """WITH made AS (
           INSERT INTO risk_disposals (hospital_code, rule, first_period, level, created_at, updated_at)
           SELECT e.hospital_code, e.rule, e.first_period, e.max_level, :now, :now FROM risk_register e
           WHERE e.resolved_period IS NULL AND e.max_level IN ('orange', 'red')
           ON CONFLICT (hospital_code, rule) DO NOTHING
           RETURNING disposal_id)
       INSERT INTO risk_disposal_events (disposal_id, at, action, to_state, note)
       SELECT disposal_id, :now, 'create', 'open', '风险触发（橙色或红色）' FROM made""",
    # A closed record whose risk fires again (a newer orange/red episode) reopens.
    """WITH again AS (
           UPDATE risk_disposals d SET state = 'open', first_period = e.first_period, level = e.max_level,
                  verdict = NULL, closed_at = NULL, due_on = NULL, request = NULL, updated_at = :now
           FROM risk_register e
           WHERE e.hospital_code = d.hospital_code AND e.rule = d.rule AND e.resolved_period IS NULL
             AND e.max_level IN ('orange', 'red') AND e.first_period > d.first_period AND d.state = 'closed'
           RETURNING d.disposal_id)
       INSERT INTO risk_disposal_events (disposal_id, at, action, from_state, to_state, note)
       SELECT disposal_id, :now, 'reopen', 'closed', 'open', '风险再次触发' FROM again""",
    # An open record follows its risk's open episode: its first month (a data correction may move it,
    # either way) and its level, which only rises (the highest seen).
    """UPDATE risk_disposals d SET first_period = e.first_period, updated_at = :now,
              level = CASE WHEN array_position(ARRAY['yellow', 'orange', 'red'], e.max_level)
                                > array_position(ARRAY['yellow', 'orange', 'red'], d.level)
                           THEN e.max_level ELSE d.level END
       FROM risk_register e
       WHERE e.hospital_code = d.hospital_code AND e.rule = d.rule AND e.resolved_period IS NULL
         AND d.state <> 'closed'
         AND (d.first_period <> e.first_period
              OR array_position(ARRAY['yellow', 'orange', 'red'], e.max_level)
                 > array_position(ARRAY['yellow', 'orange', 'red'], d.level))""",
]


def sync(engine: Engine) -> None:
    """Bring the records up to date with the risk register (the write side: :mod:`opsmon.derived`)."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('risk_disposals.sync'))"))
        now = periods.now()  # the calendar's clock, as deadlines are judged on (OPSMON_TODAY in a pinned demo)
        for statement in _SYNC:
            conn.execute(sa.text(statement), {"now": now})


def _at_top(engine: Engine, scope: str | None) -> bool:
    """Whether *scope* is the whole database (no scope, or the root region)."""
    if scope is None:
        return True
    with engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT parent_adcode IS NULL FROM regions WHERE adcode = :s"),
                                 {"s": scope}).scalar())


COLUMNS = ["disposal_id", "hospital_code", "hospital_name", "adcode", "affiliation", "rule", "level", "first_period",
           "state", "status", "overdue", "data_resolved", "request", "due_on", "escalated", "verdict",
           "created_at", "assigned_at", "responded_at", "closed_at", "updated_at"]


def list_disposals(engine: Engine, *, scope: str | None, state: str | None = None, rule: str | None = None,
                   level: str | None = None, region: str | None = None, hospital: str | None = None,
                   overdue: bool | None = None, disposal_id: int | None = None,
                   today: date | None = None) -> pd.DataFrame:
    """Records the *scope* may see, overdue first, then by deadline and level: :data:`COLUMNS`.

    ``status`` is the state, or 'overdue' for an item assigned or returned past its ``due_on``
    (judged on *today*, default :func:`opsmon.periods.today`). Reads the records as last
    synchronised with the register (:func:`sync`, the write side's job).
    """
    where, params = restrict.hospitals("h", region=region, scope=scope, hospital=hospital)
    conds = [where]
    for key, value in (("state", state), ("rule", rule), ("level", level)):
        if value:
            conds.append(f"d.{key} = :{key}")
            params[key] = value
    if disposal_id is not None:
        conds.append("d.disposal_id = :disposal_id")
        params["disposal_id"] = int(disposal_id)
    overdue_sql = "(d.state IN ('assigned', 'returned') AND d.due_on < :today)"
    if overdue is not None:
        conds.append(overdue_sql if overdue else f"NOT {overdue_sql}")
    params["today"] = today or periods.today()
    sql = f"""
SELECT d.disposal_id, CAST(d.hospital_code AS text) AS hospital_code, h.name AS hospital_name,
       CAST(h.adcode AS text) AS adcode, h.affiliation, d.rule, d.level, to_char(d.first_period, 'YYYY-MM') AS first_period,
       d.state, CASE WHEN {overdue_sql} THEN 'overdue' ELSE d.state END AS status, {overdue_sql} AS overdue,
       NOT EXISTS (SELECT 1 FROM risk_register e WHERE e.hospital_code = d.hospital_code AND e.rule = d.rule
                   AND e.resolved_period IS NULL) AS data_resolved,
       d.request, d.due_on, d.escalated, d.verdict, d.created_at, d.assigned_at, d.responded_at, d.closed_at,
       d.updated_at
FROM risk_disposals d JOIN hospitals h USING (hospital_code)
WHERE {' AND '.join(conds)}
ORDER BY {overdue_sql} DESC, d.state = 'closed', d.due_on NULLS LAST,
         array_position(ARRAY['red', 'orange', 'yellow'], d.level), d.disposal_id"""
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(sql), conn, params=params)


def timeline(engine: Engine, disposal_id: int, *, scope: str | None) -> pd.DataFrame | None:
    """The item's events, oldest first (event_id, at, username, action, from_state, to_state, note,
    fields, attachments: a list of {attachment_id, file_name, media_type, size_bytes}); None when
    the item is not in *scope* (or does not exist)."""
    if list_disposals(engine, scope=scope, disposal_id=disposal_id).empty:
        return None
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text("""
SELECT v.event_id, v.at, v.username, v.action, v.from_state, v.to_state, v.note, v.fields,
       coalesce((SELECT jsonb_agg(jsonb_build_object('attachment_id', a.attachment_id, 'file_name', a.file_name,
                                                     'media_type', a.media_type, 'size_bytes', a.size_bytes)
                                  ORDER BY a.attachment_id)
                 FROM risk_disposal_attachments a WHERE a.event_id = v.event_id), '[]'::jsonb) AS attachments
FROM risk_disposal_events v WHERE v.disposal_id = :id ORDER BY v.event_id"""), conn, params={"id": int(disposal_id)})


def attachment(engine: Engine, attachment_id: int, *, scope: str | None) -> dict[str, Any] | None:
    """An attachment's file_name, media_type and content, if its item is in *scope*; else None."""
    where, params = restrict.hospitals("h", scope=scope)
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT a.file_name, a.media_type, a.content FROM risk_disposal_attachments a "
            "JOIN risk_disposal_events v USING (event_id) JOIN risk_disposals d USING (disposal_id) "
            f"JOIN hospitals h ON h.hospital_code = d.hospital_code WHERE a.attachment_id = :a AND {where}"),
            {**params, "a": int(attachment_id)}).mappings().first()
    return {"file_name": row["file_name"], "media_type": row["media_type"], "content": bytes(row["content"])} \
        if row else None


def todo_counts(engine: Engine, *, scope: str | None, role_disposal: str, today: date | None = None) -> dict[str, int]:
    """What waits for a user: for a hospital (``respond``) the items to answer; for a supervisor the items
    to assign and to review that are theirs to act on (below the top of the hierarchy: not escalated, not a
    province-only hospital's); both with how many are overdue. Keys: to_assign, to_answer, to_review, overdue."""
    from opsmon.disposal.workflow import PROVINCE_ONLY

    frame = list_disposals(engine, scope=scope, today=today)
    open_items = frame[frame["state"] != "closed"]
    if role_disposal == "supervise" and not _at_top(engine, scope):
        open_items = open_items[~open_items["escalated"] & ~open_items["affiliation"].isin(PROVINCE_ONLY)]
    counts = {"to_assign": 0, "to_answer": 0, "to_review": 0,
              "overdue": int(open_items["overdue"].sum()) if len(open_items) else 0}
    if role_disposal == "respond":
        counts["to_answer"] = int(open_items["state"].isin(["assigned", "returned"]).sum())
    elif role_disposal == "supervise":
        counts["to_assign"] = int((open_items["state"] == "open").sum())
        counts["to_review"] = int((open_items["state"] == "responded").sum())
    return counts
