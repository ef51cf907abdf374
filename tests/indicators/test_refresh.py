"""The materialised aggregates follow the data version, cost one lookup when nothing changed, and are
built by the write side only: a query reads the last build, whatever changed since."""

from __future__ import annotations

import threading
import time

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


def test_a_full_build_runs_its_independent_parts_at_once(province, monkeypatch):
    # ind_month beside ind_span, then the spans' region sums side by side: each on its own connection.
    seen: list[tuple[int, float, float]] = []  # (thread, start, end) of each part, as they finish
    run_task = aggregate._run_task

    def timed_task(engine, statements, params):
        started = time.perf_counter()
        run_task(engine, statements, params)
        seen.append((threading.get_ident(), started, time.perf_counter()))

    monkeypatch.setattr(aggregate, "_run_task", timed_task)
    before = query(province, None, "county", "2025-02")
    assert aggregate.refresh(province, force=True).rebuilt
    assert len(seen) == sum(len(phase) for phase in aggregate.BUILD_PHASES)
    assert len({thread for thread, *_ in seen}) == aggregate.BUILD_CONNECTIONS == 2
    first = sorted(seen[:2], key=lambda s: s[1])  # the first phase: ind_month and ind_span
    assert first[1][1] < first[0][2], "the second part started before the first had finished"
    # The same rows as before: parts built apart add up to the whole.
    assert query(province, None, "county", "2025-02").equals(before)


def test_a_build_that_fails_part_way_leaves_the_last_one_and_the_next_one_cleans_up(province, monkeypatch):
    before = query(province, None, "county", "2025-02")
    phases = list(aggregate.BUILD_PHASES)
    fills = phases[2]
    monkeypatch.setattr(aggregate, "BUILD_PHASES", (*phases[:2], (*fills[:-1], ("SELECT 1/0",)), *phases[3:]))
    with pytest.raises(sa.exc.DataError, match="division by zero"):
        aggregate.refresh(province, force=True)
    # The aside tables of the failed build are committed but nobody reads them…
    leftovers = {r[0] for r in fx.execute(province, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'ind\\_%'")}
    assert {"ind_month_build", "ind_span_build", "ind_region_build"} <= leftovers
    assert query(province, None, "county", "2025-02").equals(before)  # …the last build answers
    monkeypatch.undo()
    assert aggregate.refresh(province, force=True).rebuilt  # the next build drops them and swaps its own in
    tables = {r[0] for r in fx.execute(province, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'ind\\_%'")}
    assert tables == {"ind_month", "ind_span", "ind_region"}
    assert query(province, None, "county", "2025-02").equals(before)
