"""The demo's evaluation round: opened on the default sheets with part of it done, through the library."""

from __future__ import annotations

import sqlalchemy as sa

from opsmon.access.users import User
from opsmon.demo.accounts import SUPERVISED_PREFECTURE
from opsmon.demo.evaluation import seed_round
from opsmon.evaluation import results
from opsmon.sql import db
from tests.conftest import DEMO_TODAY, writable_demo


def test_the_demo_round_is_under_way(databases, template_db, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())
    engine = db.create_engine(writable_demo(databases, template_db, tmp_path_factory, "demo-evaluation", seed=4),
                              poolclass=sa.NullPool)
    assert seed_round(engine, seed=1, today=DEMO_TODAY) == DEMO_TODAY.year
    assert seed_round(engine, seed=1, today=DEMO_TODAY) is None  # once
    with engine.connect() as conn:
        root = conn.execute(sa.text("SELECT CAST(adcode AS text) FROM regions WHERE parent_adcode IS NULL")).scalar()
    units = results.units(engine, User("t", "admin", None, root, None, False, ""), DEMO_TODAY.year)
    states = units.set_index("unit_code")["state"]
    assert states[SUPERVISED_PREFECTURE] in ("draft", "submitted")
    assert {"submitted", "reviewed"} <= set(states) and "not_started" in set(states)
    with engine.connect() as conn:
        audited = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'evaluation.score'")).scalar()
    assert audited == conn_count(engine)
    engine.dispose()


def conn_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM evaluation_events WHERE action = 'score'")).scalar()
