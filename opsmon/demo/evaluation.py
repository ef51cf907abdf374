"""The demo's evaluation round: the default score sheets, this year's round, and part of it done.

So that the 评价 page of a fresh demo shows a round under way: the supervised prefecture (长春市) and
its counties, and a few other prefectures, have scored themselves (at the data's proposals, a point or
two below the maximum elsewhere), most of them submitted, and the prefecture has reviewed one county.
Every step goes through :mod:`opsmon.evaluation` like a user's (audited as the demo's users).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.access.users import User
from opsmon.demo.accounts import SUPERVISED_PREFECTURE
from opsmon.evaluation import results, rounds, scoring, sheets
from opsmon.indicators import risk

NOTE = "演示数据"


def _user(username: str, role: str, unit: str, hospital: bool = False) -> User:
    return User(username, role, None, None if hospital else unit, unit if hospital else None, False, "")


def _self_assess(engine: Engine, unit: pd.Series, rng: np.random.Generator, submit: bool) -> None:
    hospital = unit["kind"] == "hospital"
    who = _user(f"demo:{unit['unit_code']}", "hospital" if hospital else "supervisor", unit["unit_code"], hospital)
    _, items = results.sheet(engine, who, unit["year"], unit["unit_code"])
    for item in items.itertuples():
        if item.proposed is not None and not pd.isna(item.proposed):
            value = float(item.proposed)
        else:
            value = max(0.0, float(item.max_score) - float(rng.choice([0, 0, 1, 2])))
        scoring.score(engine, who, unit["year"], unit["unit_code"], item.item_code, value, note=NOTE)
    if submit:
        scoring.submit(engine, who, unit["year"], unit["unit_code"])


def seed_round(engine: Engine, *, seed: int = 2025, today: date | None = None) -> int | None:
    """Open this year's round with part of it done, unless a round of this year exists; its year (or None)."""
    today = today or periods.today()
    year = today.year
    with engine.connect() as conn:
        if conn.execute(sa.text("SELECT 1 FROM evaluation_rounds WHERE year = :y"), {"y": year}).first():
            return None
        root = conn.execute(sa.text("SELECT CAST(adcode AS text) FROM regions WHERE parent_adcode IS NULL")).scalar_one()
    for kind in sheets.KINDS:
        if sheets.find(engine, kind, sheets.default(kind).version) is None:
            sheets.store(engine, sheets.default(kind), username="opsmon demo", source_name=f"{kind}.yaml")
    province = _user("demo:province", "admin", root)
    # Deadlines ahead of the clock the dashboard runs on, so the demo's users can still score.
    start = periods.today()
    rounds.create(engine, province, year, data_period=risk.latest_closed_period(engine),
                  self_due=start + timedelta(days=14), review_due=start + timedelta(days=28),
                  check_due=start + timedelta(days=42))
    units = results.units(engine, province, year).assign(year=year)
    rng = np.random.default_rng(seed)
    near = units[(units["unit_code"] == SUPERVISED_PREFECTURE) | (units["parent_adcode"] == SUPERVISED_PREFECTURE)]
    others = units[(units["stratum"] == "prefecture") & (units["unit_code"] != SUPERVISED_PREFECTURE)]
    chosen = pd.concat([near, others.head(3), units[units["kind"] == "hospital"].head(1)])
    submitted = []
    for _, unit in chosen.iterrows():
        submit = bool(rng.random() < 0.75)
        _self_assess(engine, unit, rng, submit)
        if submit:
            submitted.append(unit)
    counties = [u for u in submitted if u["parent_adcode"] == SUPERVISED_PREFECTURE]
    if counties:
        reviewer = _user("demo:review", "supervisor", SUPERVISED_PREFECTURE)
        county = counties[0]
        scoring.score(engine, reviewer, year, county["unit_code"], "C01", 8, stage="review",
                      reason="实施方案未明确时间节点（演示）")
        scoring.submit(engine, reviewer, year, county["unit_code"], stage="review")
    return year
