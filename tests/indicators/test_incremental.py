"""Incremental refresh: after some hospitals' new values, only their rows are rebuilt — and the
result is exactly what a full rebuild gives."""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd
import province_fixture as fx
import pytest
import sqlalchemy as sa

from opsmon.indicators import aggregate, risk
from opsmon.sql import migrate

AS_OF = datetime(2025, 4, 20, tzinfo=timezone.utc)
TABLES = {"ind_month": ["hospital_code", "period"], "ind_span": ["hospital_code", "period", "span"],
          "risk_firings": ["hospital_code", "rule", "period"],
          "risk_register": ["hospital_code", "rule", "first_period"],
          "ind_region": ["adcode", "period", "span", "indicator"]}


def snapshot(engine) -> dict[str, pd.DataFrame]:
    with engine.connect() as conn:
        out = {}
        for table, key in TABLES.items():
            frame = pd.read_sql_query(sa.text(f"SELECT * FROM {table}"), conn)
            out[table] = frame.drop(columns=[c for c in ("episode_id", "updated_at", "created_at")
                                             if c in frame.columns]).sort_values(key).reset_index(drop=True)
        return out


def assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for table in TABLES:
        pd.testing.assert_frame_equal(got[table], want[table], check_dtype=False, obj=table)


def refresh(engine):
    result = aggregate.refresh(engine)
    risk.refresh_register(engine, as_of=AS_OF)
    return result


@pytest.fixture
def built(province):
    refresh(province)
    return province


revise = fx.revise


def test_one_hospitals_new_revision_rebuilds_only_that_hospital(built):
    a, c = fx.CODE["A"], fx.CODE["C"]
    revise(built, a, "2025-02", 2000, 2600)  # A now runs a deficit in February
    result = refresh(built)
    assert result.rebuilt and result.changed == (a,)
    incremental = snapshot(built)

    aggregate.refresh(built, force=True)
    risk.refresh_register(built, as_of=AS_OF, force=True)
    assert_same(incremental, snapshot(built))
    assert c not in result.changed


def test_several_changes_then_one_refresh_equals_a_rebuild(built):
    revise(built, fx.CODE["A"], "2025-02", 2000, 2600)
    revise(built, fx.CODE["D"], "2025-01", 1000, 900)
    revise(built, fx.CODE["A"], "2025-02", 2100, 2000)  # corrected again
    result = refresh(built)
    assert sorted(result.changed) == sorted([fx.CODE["A"], fx.CODE["D"]])
    incremental = snapshot(built)
    aggregate.refresh(built, force=True)
    risk.refresh_register(built, as_of=AS_OF, force=True)
    assert_same(incremental, snapshot(built))


def test_a_new_month_or_a_registry_file_rebuilds_everything(built):
    sid = fx.add_submission(built, "2025-04-05 10:00+08")
    fx.add_month(built, fx.CODE["A"], "2025-03", fx.month(2000, 1900), sid)  # the calendar grows by a month
    fx.bump(built)
    assert refresh(built).changed is None

    fx.add_submission(built, "2025-04-06 10:00+08", kind="registry")
    fx.bump(built)
    assert refresh(built).changed is None  # openings and closings may have changed: everything


def test_nothing_changed_does_nothing(built):
    assert not aggregate.refresh(built).rebuilt
    assert not risk.refresh_register(built, as_of=AS_OF)


def test_a_build_recorded_before_migration_0008_still_refreshes_incrementally(built):
    # Before 0008 the basis was stored in indicator_state.calendar; the rename keeps the values.
    fx.execute(built, "ALTER TABLE indicator_state RENAME COLUMN basis TO calendar")
    fx.execute(built, "DELETE FROM schema_migrations WHERE name = 'indicator_state_basis'")
    assert [m.version for m in migrate.upgrade(built, "220000")] == [8]
    revise(built, fx.CODE["A"], "2025-02", 2000, 2600)
    assert refresh(built).changed == (fx.CODE["A"],)


def test_data_arriving_between_the_aggregates_and_the_register_are_not_lost(built, monkeypatch):
    # A revision commits right after the aggregates' refresh, before the register's: the register
    # then reads the aggregates built without it — the next refresh must rebuild it, not skip it.
    revise(built, fx.CODE["A"], "2025-02", 2000, 2600)
    with monkeypatch.context() as m:
        m.setattr(aggregate, "refresh", lambda engine, **_: None)  # (it ran just before the revision)
        risk.refresh_register(built, as_of=AS_OF)
    refresh(built)
    caught_up = snapshot(built)
    aggregate.refresh(built, force=True)
    risk.refresh_register(built, as_of=AS_OF, force=True)
    assert_same(caught_up, snapshot(built))
