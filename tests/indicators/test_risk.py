"""The risk register: episodes that resolve and re-open, corrections, the due date, overrides, scope.

The rules' own thresholds and windows are tested in test_risk_rules.py; the hospitals here
are built by risk_fixture.Builder (plain SQL).
"""

from __future__ import annotations

from datetime import datetime

import province_fixture as fx
from risk_fixture import CST, LATER, Builder

from opsmon.indicators import risk


def test_salary_arrears_liquidity_and_cash_at_their_thresholds(engine):
    b = Builder(engine)
    b.hospital("none", {"2025-01": {"E": 1000, "salary_arrears": 0, "current_assets": 2000, "cash": 1000}})
    b.hospital("cent", {"2025-01": {"E": 1000, "salary_arrears": 0.01, "current_assets": 1999, "cash": 500}})
    b.hospital("low", {"2025-01": {"E": 1000, "cash": 499}})
    assert b.firings("salary_arrears") == {("cent", "2025-01"): "red"}
    # current ratio = current assets / current liabilities (2000): exactly 1 does not fire.
    assert b.firings("liquidity_low") == {("cent", "2025-01"): "orange"}
    # cash months = cash / 1000: exactly 1 does not fire, exactly 0.5 is orange, below it red.
    assert b.firings("cash_short") == {("cent", "2025-01"): "orange", ("low", "2025-01"): "red"}


def test_a_resolved_risk_that_fires_again_opens_a_new_episode(engine):
    b = Builder(engine)
    b.hospital("reopen", {"2025-01": {"salary_arrears": 50}, "2025-02": {"salary_arrears": 0},
                          "2025-03": {"salary_arrears": 50}, "2025-04": {"salary_arrears": 80}})
    # A month not reported neither ends nor extends an episode.
    b.hospital("gap", {"2025-01": {"salary_arrears": 50}, "2025-03": {"salary_arrears": 50},
                       "2025-04": {"salary_arrears": 0}})
    b.firings("salary_arrears")
    assert b.episodes("salary_arrears", "reopen") == [("2025-01", "2025-01", "2025-02", 1, "red", "red"),
                                                      ("2025-03", "2025-04", None, 2, "red", "red")]
    assert b.episodes("salary_arrears", "gap") == [("2025-01", "2025-03", "2025-04", 2, "red", "red")]

    def status(period: str) -> dict[str, str]:
        frame = risk.changes(engine, period)
        frame = frame[(frame["rule"] == "salary_arrears") & (frame["hospital_code"] == b.codes["reopen"])]
        return dict(zip(frame["status"], frame["first_period"], strict=True))

    assert status("2025-01") == {"new": "2025-01"}
    assert status("2025-02") == {"resolved": "2025-01"}
    assert status("2025-03") == {"new": "2025-03"}
    assert status("2025-04") == {"persisting": "2025-03"}


def test_the_register_follows_corrections_and_keeps_episode_ids(engine):
    b = Builder(engine)
    code = b.hospital("h", {"2025-01": {"salary_arrears": 50}, "2025-02": {"salary_arrears": 0},
                            "2025-03": {"salary_arrears": 50}})
    b.firings("salary_arrears")
    before = risk.register(engine, hospital=code).set_index("first_period")["episode_id"]
    assert not risk.refresh_register(engine, as_of=LATER)  # nothing changed: nothing recomputed

    # A corrected January (revision 2: no arrears) removes the first episode; March's stays.
    fx.execute(engine, "UPDATE monthly_values SET is_current = false WHERE hospital_code = :h "
                       "AND period = '2025-01-01'", h=code)
    fx.add_month(engine, code, "2025-01", fx.month(1000, 900), b.sub, revision=2)
    b.firings("salary_arrears")
    after = risk.register(engine, hospital=code)
    after = after[after["rule"] == "salary_arrears"].set_index("first_period")["episode_id"]
    assert list(after.index) == ["2025-03"] and after["2025-03"] == before["2025-03"]


def test_report_missing_uses_the_due_date(engine):
    b = Builder(engine)
    b.hospital("on_time", {"2025-01": {}}, received_at="2025-02-10 23:59:59+08")
    b.hospital("late", {"2025-01": {}}, received_at="2025-02-11 00:00:00+08")
    b.hospital("absent", {"2025-02": {}}, received_at="2025-03-01 00:00:00+08")
    before_due = datetime(2025, 2, 10, 23, 0, tzinfo=CST)
    assert b.firings("report_missing", as_of=before_due) == {}  # January not yet due
    due_passed = datetime(2025, 2, 11, 0, 0, tzinfo=CST)
    assert b.firings("report_missing", as_of=due_passed) == {("late", "2025-01"): "yellow",
                                                             ("absent", "2025-01"): "yellow"}
    # Once February is due too: 'absent' sent it on time (resolved); the others sent nothing.
    after_feb = b.firings("report_missing", as_of=datetime(2025, 3, 11, 0, 0, tzinfo=CST))
    assert after_feb == {("late", "2025-01"): "yellow", ("absent", "2025-01"): "yellow",
                         ("on_time", "2025-02"): "yellow", ("late", "2025-02"): "yellow"}


def test_thresholds_are_overridden_by_the_province_table(engine):
    b = Builder(engine)
    b.hospital("half", {"2025-01": {"total_liabilities": 5000}})
    b.hospital("low", {"2025-01": {"E": 1000, "cash": 499}})
    fx.execute(engine, "INSERT INTO risk_thresholds (rule, level, threshold) VALUES ('debt_ratio_high', 'yellow', 0.6)")
    fx.execute(engine, "INSERT INTO risk_thresholds (rule, level, enabled) VALUES ('cash_short', 'red', false)")
    assert b.firings("debt_ratio_high") == {}  # 0.5 < 0.6
    assert b.firings("cash_short") == {("low", "2025-01"): "orange"}  # red switched off


def test_a_month_shows_an_episode_as_it_stood_then_and_the_tally_counts_it(engine):
    b = Builder(engine)
    b.hospital("reopen", {"2025-01": {"salary_arrears": 50}, "2025-02": {"salary_arrears": 0},
                          "2025-03": {"salary_arrears": 50}, "2025-04": {"salary_arrears": 80}})
    b.hospital("gap", {"2025-01": {"salary_arrears": 50}, "2025-03": {"salary_arrears": 70},
                       "2025-04": {"salary_arrears": 0}})
    b.firings("salary_arrears")

    def row(period: str, key: str) -> tuple:
        rows = risk.changes(engine, period)
        hit = rows[(rows["hospital_code"] == b.codes[key]) & (rows["rule"] == "salary_arrears")].iloc[0]
        return hit["status"], hit["last_period"], hit["months_firing"], hit["metric"]

    # In January the gap hospital's episode had fired once, at 50 — not the 70 it reached in March.
    assert row("2025-01", "gap") == ("new", "2025-01", 1, 50)
    assert row("2025-03", "gap") == ("persisting", "2025-03", 2, 70)
    assert row("2025-03", "reopen") == ("new", "2025-03", 1, 50)
    assert row("2025-04", "reopen") == ("persisting", "2025-04", 2, 80)
    # The tally: open (new or persisting) episodes of the levels, their hospitals, the new ones.
    assert risk.tally(engine, "2025-01", levels=["red"]) == risk.Tally(open=2, hospitals=2, new=2)
    assert risk.tally(engine, "2025-02", levels=["red"]) == risk.Tally(open=1, hospitals=1, new=0)  # reopen resolved
    assert risk.tally(engine, "2025-03", levels=["red"]) == risk.Tally(open=2, hospitals=2, new=1)
    assert risk.tally(engine, "2025-04", levels=["red"]) == risk.Tally(open=1, hospitals=1, new=0)  # gap resolved
    assert risk.tally(engine, "2025-03", levels=["yellow"]) == risk.Tally(open=0, hospitals=0, new=0)
    assert risk.tally(engine, "2025-03", levels=["red"], scope="220200") == risk.Tally(0, 0, 0)


def test_changes_respect_the_scope(province):
    risk.refresh_register(province, as_of=LATER)
    rows = risk.changes(province, "2025-02", scope=fx.CODE["A"])
    assert set(rows["hospital_code"]) == {fx.CODE["A"]}
    # A in February: liabilities 6000/10000 (yellow) and arrears 100 (red) are new; its deficit
    # (4000 vs 4100 this year) raises nothing: A has 4 months of history, not 12.
    new = rows[rows["status"] == "new"].set_index("rule")["level"].to_dict()
    assert new == {"debt_ratio_high": "yellow", "salary_arrears": "red"}
    outside = risk.changes(province, "2025-02", scope="220200")
    assert set(outside["adcode"]) <= {"220204"}


def test_no_refresh_statement_reads_the_table_it_inserts_into():
    # An INSERT whose anti-join reads its own target is planned as a nested loop over the
    # (analysed-empty) table on a first build: quadratic, minutes at national size.
    import re

    from opsmon.indicators.risk import RULES, _refresh_statements

    severity = {(r.id, c.metric): "NULL" for r in RULES for c in r.conditions}
    for only_changed in (False, True):
        for statement in _refresh_statements(severity, [], only_changed):
            target = re.match(r"\s*INSERT INTO (\w+)", statement)
            if target:
                body = statement[target.end():]
                assert not re.search(rf"\b{target.group(1)}\b", body), statement


def test_an_override_names_the_condition_it_changes(engine):
    b = Builder(engine)
    # Long-term loans 1000 → 1300 on 12 months earlier: +30 % (yellow at the default 20 %);
    # the ratio 1300 / 10000 = 13 % stays under its 20 %.
    b.hospital("draw", {"2024-01": {"long_term_loans": 1000}, "2025-01": {"long_term_loans": 1300}})
    assert b.firings("long_term_debt") == {("draw", "2025-01"): "yellow"}
    # An override without a metric is the rule's first condition (the ratio): growth still fires.
    fx.execute(engine, "INSERT INTO risk_thresholds (rule, level, threshold) VALUES ('long_term_debt', 'yellow', 0.12)")
    assert b.firings("long_term_debt") == {("draw", "2025-01"): "yellow"}  # 2024-01: 10 % < 12 %
    assert b.detail("long_term_debt", "draw", "2025-01")["metric"] == "long_term_debt_ratio"  # 13 % ≥ 12 %: first
    # Naming the growth condition moves its yellow to 40 %; with the ratio back at 20 %, nothing fires.
    fx.execute(engine, "UPDATE risk_thresholds SET threshold = 0.2 WHERE rule = 'long_term_debt'")
    fx.execute(engine, "INSERT INTO risk_thresholds (rule, metric, level, threshold) "
                       "VALUES ('long_term_debt', 'long_term_debt_growth', 'yellow', 0.4)")
    assert b.firings("long_term_debt") == {}


def test_an_incremental_refresh_recomputes_only_the_changed_hospitals_forecasts(engine):
    from risk_fixture import months

    from opsmon.indicators import aggregate

    b = Builder(engine)
    # Both fall from 2.245 to 1.155 months of cash over 2024: cash_forecast in December (2025-02).
    falling = {p: {"R": 1100, "E": 1000, "cash": 2250 - 100 * k + (5 if k % 2 else -5)}
               for k, p in enumerate(months("2024-01", 12))}
    a = b.hospital("a", falling)
    b.hospital("b", falling)
    assert b.firings("cash_forecast") == {("a", "2024-12"): "yellow", ("b", "2024-12"): "yellow"}
    # A's December corrected: cash 3000 (3 months) — the fall is broken: the line (R² 0.05) ends above one.
    sid = fx.add_submission(engine, "2025-01-05 10:00+08")
    fx.execute(engine, "UPDATE monthly_values SET is_current = false WHERE hospital_code = :h "
                       "AND period = '2024-12-01'", h=a)
    fx.add_month(engine, a, "2024-12", fx.month(1100, 1000, cash=3000), sid, revision=2)
    fx.bump(engine)
    assert aggregate.refresh(engine).changed == (a,)
    assert b.firings("cash_forecast") == {("b", "2024-12"): "yellow"}
