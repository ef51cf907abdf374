"""The materialised aggregates follow the data version, cost one lookup when nothing changed, and are
built by the write side only: a query reads the last build, whatever changed since."""

from __future__ import annotations

import province_fixture as fx
import pytest
import sqlalchemy as sa

from opsmon.indicators import aggregate, query, refresh


def test_refresh_rebuilds_only_when_the_data_changed(province):
    assert refresh(province, force=True).rebuilt
    again = refresh(province)
    assert not again.rebuilt and again.seconds == 0

    # A new month for E arrives (as through ingest: rows, then the version bump).
    sub = fx.add_submission(province, "2025-04-05 00:00:00+08")
    fx.add_month(province, fx.CODE["E"], "2025-03", fx.month(300, 200), sub)
    fx.bump(province)
    stale = query(province, "surplus_rate", "hospital", "2025-03", region="220204")
    assert stale["value"].isna().all()  # a query never refreshes: it reads the last build…
    assert refresh(province).rebuilt
    fresh = query(province, "surplus_rate", "hospital", "2025-03", region="220204")  # …until the write side's
    assert fresh.set_index("code").loc[fx.CODE["E"], "value"] == pytest.approx(100 / 300)


def test_changing_the_due_day_rebuilds_timeliness(province):
    before = query(province, "timely_rate", "province", "2025-01")["value"].iloc[0]
    assert before == pytest.approx(4 / 6)
    fx.execute(province, "UPDATE settings SET value = '11' WHERE key = 'due_day'")
    assert query(province, "timely_rate", "province", "2025-01")["value"].iloc[0] == pytest.approx(4 / 6)
    assert refresh(province).rebuilt  # the worker's job (the settings trigger notifies it)
    # Due at the end of the 11th: B and E (00:00:00 of the 11th) are now on time too.
    assert query(province, "timely_rate", "province", "2025-01")["value"].iloc[0] == pytest.approx(6 / 6)


def test_an_empty_database_refreshes_and_answers(engine):
    result = aggregate.refresh(engine, force=True)  # (its first build was `opsmon db upgrade`'s)
    assert result.rebuilt
    frame = query(engine, ["surplus_rate", "hospitals_expected"], "province", "2025-01")
    assert frame["value"].isna().tolist() == [True, False] and frame["value"].iloc[1] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM ind_span")).scalar_one() == 0


def test_a_full_rebuild_analyses_its_inputs_first_and_an_incremental_one_does_not(province):
    # A full build follows bulk loads, which outrun autovacuum: its plans need fresh statistics.
    def manual_analyses() -> dict[str, int]:
        return dict(fx.execute(province, "SELECT relname, analyze_count FROM pg_stat_user_tables "
                                         "WHERE relname IN ('hospitals', 'monthly_values', 'progress_values')").all())

    before = manual_analyses()
    assert aggregate.refresh(province, force=True).rebuilt
    after = manual_analyses()
    assert after == {table: count + 1 for table, count in before.items()}
    fx.revise(province, fx.CODE["A"], "2025-02", 2000, 2600)  # a corrected report: incremental
    assert aggregate.refresh(province).changed == (fx.CODE["A"],)
    assert manual_analyses() == after
