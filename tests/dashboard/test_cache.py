"""The page memo: reused while the data version stands, recomputed once it moves."""

from __future__ import annotations

import sqlalchemy as sa

from opsmon.dashboard import cache

calls: list[str] = []


@cache.memo
def slow_read(engine, region: str, filters: dict) -> str:
    calls.append(region)
    return f"value for {region}"


def test_a_result_is_reused_until_the_data_version_changes(engine):
    cache.clear()
    calls.clear()
    assert slow_read(engine, "220100", {"tier": ["三级"]}) == "value for 220100"
    assert slow_read(engine, "220100", {"tier": ["三级"]}) == "value for 220100"
    assert calls == ["220100"]  # the second call was served from the memo

    slow_read(engine, "220200", {"tier": ["三级"]})
    slow_read(engine, "220100", {"tier": ["二级"]})
    assert calls == ["220100", "220200", "220100"]  # other arguments are other entries

    with engine.begin() as conn:  # what an accepted file does
        conn.execute(sa.text("UPDATE data_state SET version = version + 1"))
    slow_read(engine, "220100", {"tier": ["三级"]})
    assert calls == ["220100", "220200", "220100", "220100"]


def test_clear_forgets_everything(engine):
    cache.clear()
    calls.clear()
    slow_read(engine, "220100", {})
    cache.clear()
    slow_read(engine, "220100", {})
    assert calls == ["220100", "220100"]
