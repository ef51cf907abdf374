"""Reminders without e-mail: what is due or overdue, per person who must act (``opsmon risks remind``,
run daily by a scheduler that mails or forwards its output)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.disposal.records import list_disposals
from opsmon.disposal.workflow import PROVINCE_ONLY

COLUMNS = ["assignee", "role", "disposal_id", "hospital_code", "hospital_name", "rule", "level", "status",
           "due_on", "days_left"]


def due(engine: Engine, *, today: date | None = None, within_days: int = 3) -> pd.DataFrame:
    """Items due within *within_days* (or overdue) for the hospital users who must answer, and answered items
    waiting for review for the supervisors who must review them (a province-only hospital's or an escalated
    item: those at the top of the hierarchy). One row per person and item (:data:`COLUMNS`), overdue first."""
    today = today or periods.today()
    items = list_disposals(engine, scope=None, today=today)
    answer = items[items["state"].isin(["assigned", "returned"])
                   & (pd.to_datetime(items["due_on"]).dt.date <= today + timedelta(days=within_days))]
    review = items[items["state"] == "responded"]
    with engine.connect() as conn:
        hospital_users = pd.read_sql_query(sa.text(
            "SELECT username AS assignee, CAST(hospital_code AS text) AS hospital_code FROM users "
            "WHERE role = 'hospital' AND NOT disabled"), conn)
        supervisors = pd.read_sql_query(sa.text(
            "SELECT u.username AS assignee, CAST(h.hospital_code AS text) AS hospital_code, "
            "       r.parent_adcode IS NULL AS at_top FROM users u "
            "JOIN regions r ON r.adcode = u.region_adcode "
            "JOIN region_ancestors a ON a.ancestor_adcode = u.region_adcode "
            "JOIN hospitals h ON h.adcode = a.adcode "
            "WHERE u.role IN ('supervisor', 'admin') AND NOT u.disabled"), conn)
    rows = [answer.merge(hospital_users, on="hospital_code").assign(role="hospital")]
    if len(review):
        merged = review.merge(supervisors, on="hospital_code")
        merged = merged[merged["at_top"] | ~(merged["affiliation"].isin(PROVINCE_ONLY) | merged["escalated"])]
        rows.append(merged.assign(role="supervisor"))
    out = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if out.empty:
        return pd.DataFrame(columns=COLUMNS)
    due_on = pd.to_datetime(out["due_on"])
    out["days_left"] = (due_on - pd.Timestamp(today)).dt.days.astype("Int64")
    out["due_on"] = due_on.dt.strftime("%Y-%m-%d")
    out = out.sort_values(["overdue", "days_left", "assignee"], ascending=[False, True, True], na_position="last")
    return out[COLUMNS].reset_index(drop=True)
