"""The disposal tests share one writable demo province (14 months: the 12-month rules fire), its clock at
the demo's reference date; each test works on items no other test touches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from opsmon.sql import db
from tests.conftest import DEMO_TODAY, make_account, writable_demo


@pytest.fixture(autouse=True)
def disposal_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())


@pytest.fixture(scope="session")
def disposal_url(databases, template_db, tmp_path_factory) -> str:
    return writable_demo(databases, template_db, tmp_path_factory, "disposal-demo", seed=3)


@pytest.fixture(scope="session")
def disposal_engine(disposal_url: str) -> Iterator[sa.Engine]:
    eng = db.create_engine(disposal_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


user = make_account  # a user (made unless it exists)


def items(engine: sa.Engine) -> list[dict]:
    """Every record with its hospital's county, prefecture and affiliation, by id."""
    from opsmon.disposal import list_disposals

    frame = list_disposals(engine, scope=None)
    with engine.connect() as conn:
        parents = dict(conn.execute(sa.text("SELECT adcode, parent_adcode FROM regions")).all())
    frame["county"] = frame["adcode"]
    frame["prefecture"] = frame["adcode"].map(parents)
    return frame.sort_values("disposal_id").to_dict("records")
