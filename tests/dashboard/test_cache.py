"""The page memo: reused while the data version stands and for the same user scope only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import make_user, signed_in

from opsmon.dashboard import cache
from opsmon.dashboard.app import create_app

calls: list[tuple[str, str]] = []


@cache.memo
def slow_read(engine, region: str, filters: dict) -> str:
    from opsmon.dashboard import data

    calls.append((data.scope(), region))
    return f"value for {region} seen from {data.scope()}"


@pytest.fixture
def app(engine):
    calls.clear()
    return create_app(engine)  # a new app: an empty cache of its own


def test_a_result_is_reused_until_the_data_version_changes(app, engine):
    with signed_in(app, engine, make_user(engine)):
        assert slow_read(engine, "220100", {"tier": ["三级"]}) == "value for 220100 seen from 220000"
        assert slow_read(engine, "220100", {"tier": ["三级"]}) == "value for 220100 seen from 220000"
        assert calls == [("220000", "220100")]  # the second call was served from the memo

        slow_read(engine, "220200", {"tier": ["三级"]})
        slow_read(engine, "220100", {"tier": ["二级"]})
        assert len(calls) == 3  # other arguments are other entries

        with engine.begin() as conn:  # what an accepted file does
            conn.execute(sa.text("UPDATE data_state SET version = version + 1"))
        slow_read(engine, "220100", {"tier": ["三级"]})
        assert len(calls) == 4


def test_a_result_never_serves_another_scope(app, engine):
    with signed_in(app, engine, make_user(engine)):
        slow_read(engine, "220100", {})
    with signed_in(app, engine, make_user(engine, "jilin-city", "supervisor", "220200")):
        assert slow_read(engine, "220100", {}) == "value for 220100 seen from 220200"
    assert calls == [("220000", "220100"), ("220200", "220100")]


def test_clear_forgets_everything(app, engine):
    with signed_in(app, engine, make_user(engine)):
        slow_read(engine, "220100", {})
        cache.clear()
        slow_read(engine, "220100", {})
    assert calls == [("220000", "220100"), ("220000", "220100")]
