"""Figures for leadership: per region, how fast orange and red risks are handled."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.disposal.records import list_disposals
from opsmon.indicators import restrict

ASSIGN_WITHIN_WORKING_DAYS = 5
COLUMNS = ["adcode", "name", "risks", "assigned_in_time_share", "answered_in_time_share", "closed_share",
           "median_days_to_close"]


def by_region(engine: Engine, *, scope: str | None, level: str = "prefecture", today: date | None = None
              ) -> pd.DataFrame:
    """Per region of *level* within *scope*: orange/red items, the share assigned within 5 working days of
    being raised (Monday–Friday; public holidays not known; of those assigned or past their five days), the
    share answered by their deadline (of those whose deadline has come or that were answered), the share closed, the median days to close.
    Shares are fractions; NaN where nothing counts."""
    today = today or periods.today()
    items = list_disposals(engine, scope=scope, today=today)
    items = items[items["level"].isin(["orange", "red"])]
    with engine.connect() as conn:
        # at_level: a county-level city the province administers (梅河口) stands among the prefectures.
        regions = pd.read_sql_query(sa.text(
            "SELECT a.adcode AS county, r.adcode, r.name FROM region_ancestors a JOIN regions r "
            f"ON r.adcode = a.ancestor_adcode WHERE {restrict.at_level('r', ':level')}"), conn,
            params={"level": level})
    items = items.merge(regions, left_on="adcode", right_on="county", suffixes=("_hospital", ""))
    return summarise(items, today)


def summarise(items: pd.DataFrame, today: date) -> pd.DataFrame:
    """:func:`by_region`'s figures from *items* (adcode, name of the region; state, due_on and the
    created/assigned/responded/closed times of each item)."""
    if items.empty:
        return pd.DataFrame(columns=COLUMNS)
    items = items.copy()

    def day(column: str) -> pd.Series:
        return pd.to_datetime(items[column], utc=True).dt.tz_convert(periods.LOCAL_TZ).dt.date

    created, assigned, responded, closed = day("created_at"), day("assigned_at"), day("responded_at"), day("closed_at")
    due_on = pd.to_datetime(items["due_on"]).dt.date
    # Judged once assigned, or once its five working days are over (an item raised yesterday is not late yet).
    assigned_ok = [not pd.isna(a) and np.busday_count(c, a) <= ASSIGN_WITHIN_WORKING_DAYS
                   for c, a in zip(created, assigned, strict=True)]
    assign_judged = [not pd.isna(a) or np.busday_count(c, today) > ASSIGN_WITHIN_WORKING_DAYS
                     for c, a in zip(created, assigned, strict=True)]
    items["assigned_in_time"], items["assign_judged"] = assigned_ok, assign_judged
    judged = [(not pd.isna(d)) and (not pd.isna(r) or d < today) for d, r in zip(due_on, responded, strict=True)]
    items["answer_judged"] = judged
    items["answered_in_time"] = [j and not pd.isna(r) and r <= d for j, r, d in zip(judged, responded, due_on,
                                                                                    strict=True)]
    items["closed"] = items["state"] == "closed"
    items["days_to_close"] = [(c - o).days if not pd.isna(c) else np.nan for o, c in zip(created, closed, strict=True)]
    out = items.groupby(["adcode", "name"]).apply(lambda g: pd.Series({
        "risks": len(g),
        "assigned_in_time_share": g.loc[g["assign_judged"], "assigned_in_time"].mean() if g["assign_judged"].any()
        else np.nan,
        "answered_in_time_share": g.loc[g["answer_judged"], "answered_in_time"].mean() if g["answer_judged"].any()
        else np.nan,
        "closed_share": g["closed"].mean(),
        "median_days_to_close": g["days_to_close"].median(),
    }), include_groups=False).reset_index()
    out["risks"] = out["risks"].astype(int)
    return out[COLUMNS]
