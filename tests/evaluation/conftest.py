"""The evaluation tests share one writable demo province, its clock at the demo's reference date
(2026-06-23: May 2026 is the latest closed month); round 2026 is opened once per session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa

from opsmon.access import users
from opsmon.evaluation import rounds, sheets
from opsmon.sql import db
from tests.conftest import DEMO_TODAY, make_account, writable_demo

YEAR = 2026
DUES = dict(self_due=date(2026, 7, 10), review_due=date(2026, 7, 20), check_due=date(2026, 7, 31))


@pytest.fixture(autouse=True)
def evaluation_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())


@pytest.fixture(scope="session")
def evaluation_url(databases, template_db, tmp_path_factory) -> str:
    return writable_demo(databases, template_db, tmp_path_factory, "evaluation-demo", seed=9)


@pytest.fixture(scope="session")
def evaluation_engine(evaluation_url: str) -> Iterator[sa.Engine]:
    eng = db.create_engine(evaluation_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


user = make_account  # a user (made unless it exists)


def province(engine: sa.Engine) -> users.User:
    with engine.connect() as conn:
        root = conn.execute(sa.text("SELECT adcode FROM regions WHERE parent_adcode IS NULL")).scalar_one()
    return user(engine, "eval-province", "admin", root)


@pytest.fixture(scope="session")
def round_2026(evaluation_engine: sa.Engine) -> int:
    """Round 2026 on the default sheets (loaded here), data month 2026-05."""
    import os

    os.environ["OPSMON_TODAY"] = DEMO_TODAY.isoformat()
    for kind in sheets.KINDS:
        if sheets.find(evaluation_engine, kind, "2026") is None:
            sheets.store(evaluation_engine, sheets.default(kind), username="test")
    rounds.create(evaluation_engine, province(evaluation_engine), YEAR, data_period="2026-05", **DUES)
    return YEAR


def regions_of(engine: sa.Engine) -> dict[str, list[str]]:
    """Prefecture adcode → its county adcodes (prefectures with at least two counties first)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT CAST(parent_adcode AS text), CAST(adcode AS text) FROM regions "
                                    "WHERE level = 'county' AND parent_adcode IN "
                                    "(SELECT adcode FROM regions WHERE level = 'prefecture') ORDER BY 1, 2")).all()
    out: dict[str, list[str]] = {}
    for parent, code in rows:
        out.setdefault(parent, []).append(code)
    return dict(sorted(out.items(), key=lambda kv: -len(kv[1])))
