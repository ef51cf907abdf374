"""Risk rules at and around their thresholds, episodes that resolve and re-open, overrides.

Each test builds a few hospitals in 南关区 with plain SQL: month rows from
province_fixture.month(R, E, **overrides), all sent in one file received before
any due date (so report_missing stays quiet unless a test wants it).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
import province_fixture as fx
import pytest

from opsmon.indicators import risk
from opsmon.ingest import uscc

CST = timezone(timedelta(hours=8))
LATER = datetime(2026, 1, 1, tzinfo=CST)  # every month of the tests is past its due date


class Builder:
    """Hospitals with month rows, inserted with plain SQL."""

    def __init__(self, engine, received_at: str = "2000-01-01 00:00:00+08"):
        self.engine = engine
        self.sub = fx.add_submission(engine, received_at)
        self.codes: dict[str, str] = {}

    def hospital(self, key: str, months: dict[str, dict], received_at: str | None = None) -> str:
        code = uscc.make("220102", f"RK{len(self.codes):06d}")
        self.codes[key] = code
        fx.add_hospital(self.engine, code, "220102")
        sub = fx.add_submission(self.engine, received_at) if received_at else self.sub
        for period, values in months.items():
            values = dict(values)
            r, e = values.pop("R", 1000), values.pop("E", 900)
            fx.add_month(self.engine, code, period, fx.month(r, e, **values), sub)
        return code

    def firings(self, rule: str, as_of: datetime = LATER) -> dict[tuple[str, str], str]:
        """{(hospital key, 'YYYY-MM'): level} of *rule*."""
        fx.bump(self.engine)
        risk.refresh_register(self.engine, as_of=as_of)
        names = {code: key for key, code in self.codes.items()}
        rows = fx.execute(self.engine, "SELECT hospital_code, to_char(period, 'YYYY-MM') AS p, level "
                                       "FROM risk_firings WHERE rule = :r", r=rule)
        return {(names[r.hospital_code], r.p): r.level for r in rows}

    def episodes(self, rule: str, key: str) -> list[tuple]:
        """(first, last, resolved, months_firing, level, max_level) of *key*'s episodes, oldest first."""
        rows = risk.register(self.engine, hospital=self.codes[key], as_of=LATER)
        rows = rows[rows["rule"] == rule].sort_values("first_period")
        return [(r.first_period, r.last_period, None if pd.isna(r.resolved_period) else r.resolved_period,
                 r.months_firing, r.level, r.max_level) for r in rows.itertuples()]


def test_deficit_ytd_at_its_thresholds(engine):
    b = Builder(engine)
    b.hospital("even", {"2025-01": {"R": 1000, "E": 1000}})  # revenue = expense: no deficit
    b.hospital("just", {"2025-01": {"R": 1000, "E": 1001}})  # surplus rate −0.1 %: orange
    b.hospital("five", {"2025-01": {"R": 1000, "E": 1050}})  # exactly −5 %: still orange (red is < −5 %)
    b.hospital("deep", {"2025-01": {"R": 1000, "E": 1060}})  # −6 %: red
    # YTD: January −20 % (red); February's surplus makes the year 2000 vs 1900: resolved.
    b.hospital("ytd", {"2025-01": {"R": 1000, "E": 1200}, "2025-02": {"R": 1000, "E": 700}})
    assert b.firings("deficit_ytd") == {("just", "2025-01"): "orange", ("five", "2025-01"): "orange",
                                        ("deep", "2025-01"): "red", ("ytd", "2025-01"): "red"}
    assert b.episodes("deficit_ytd", "ytd") == [("2025-01", "2025-01", "2025-02", 1, "red", "red")]


def test_deficit_streak_needs_three_consecutive_reported_months(engine):
    b = Builder(engine)
    loss = {"R": 1000, "E": 1100}
    b.hospital("four", {m: loss for m in ("2025-01", "2025-02", "2025-03", "2025-04")})
    # March not reported: the run restarts in April and reaches only 2 by May.
    b.hospital("gap", {m: loss for m in ("2025-01", "2025-02", "2025-04", "2025-05")})
    # A surplus month in March breaks the run; April–June make 3 again.
    b.hospital("break", {**{m: loss for m in ("2025-01", "2025-02", "2025-04", "2025-05", "2025-06")},
                         "2025-03": {"R": 1000, "E": 900}})
    assert b.firings("deficit_streak") == {("four", "2025-03"): "red", ("four", "2025-04"): "red",
                                           ("break", "2025-06"): "red"}


@pytest.mark.parametrize("liabilities, level", [
    (4999, None), (5000, "yellow"), (6999, "yellow"), (7000, "orange"), (9999, "orange"), (10000, "red")])
def test_debt_ratio_levels(engine, liabilities, level):
    b = Builder(engine)
    b.hospital("h", {"2025-01": {"total_liabilities": liabilities}})  # over assets of 10000
    assert b.firings("debt_ratio_high") == ({("h", "2025-01"): level} if level else {})


def test_long_term_debt_rising_in_each_of_the_last_three_months(engine):
    b = Builder(engine)
    b.hospital("rise", {"2025-01": {"long_term_loans": 1000}, "2025-02": {"long_term_loans": 1100},
                        "2025-03": {"long_term_loans": 1200}, "2025-04": {"long_term_loans": 1300},
                        "2025-05": {"long_term_loans": 1300}})  # flat in May: resolved
    # March missing: April cannot be compared, so only two rises by June.
    b.hospital("gap", {"2025-01": {"long_term_loans": 1000}, "2025-02": {"long_term_loans": 1100},
                       "2025-04": {"long_term_loans": 1200}, "2025-05": {"long_term_loans": 1300},
                       "2025-06": {"long_term_loans": 1400}})
    assert b.firings("long_term_debt_rising") == {("rise", "2025-04"): "orange"}
    assert b.episodes("long_term_debt_rising", "rise") == [("2025-04", "2025-04", "2025-05", 1, "orange", "orange")]


def test_construction_debt_compares_with_the_previous_reported_month_only(engine):
    b = Builder(engine)
    b.hospital("h", {"2025-01": {"construction_debt": 100},  # first month: nothing to compare with
                     "2025-02": {"construction_debt": 100},  # equal: no
                     "2025-03": {"construction_debt": 101},  # higher: red
                     "2025-04": {"construction_debt": 101},
                     "2025-06": {"construction_debt": 200}})  # May missing: not compared
    assert b.firings("construction_debt_increase") == {("h", "2025-03"): "red"}


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
        frame = risk.changes(engine, period, as_of=LATER)
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
    before = risk.register(engine, hospital=code, as_of=LATER).set_index("first_period")["episode_id"]
    assert not risk.refresh_register(engine, as_of=LATER)  # nothing changed: nothing recomputed

    # A corrected January (revision 2: no arrears) removes the first episode; March's stays.
    fx.execute(engine, "UPDATE monthly_values SET is_current = false WHERE hospital_code = :h "
                       "AND period = '2025-01-01'", h=code)
    fx.add_month(engine, code, "2025-01", fx.month(1000, 900), b.sub, revision=2)
    b.firings("salary_arrears")
    after = risk.register(engine, hospital=code, as_of=LATER)
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


def test_changes_respect_the_scope(province):
    rows = risk.changes(province, "2025-02", scope=fx.CODE["A"], as_of=LATER)
    assert set(rows["hospital_code"]) == {fx.CODE["A"]}
    # A in February: liabilities 6000/10000 (yellow), YTD 4000 vs 4100 (orange), arrears 100 (red) are new.
    new = rows[rows["status"] == "new"].set_index("rule")["level"].to_dict()
    assert new == {"debt_ratio_high": "yellow", "deficit_ytd": "orange", "salary_arrears": "red"}
    outside = risk.changes(province, "2025-02", scope="220200", as_of=LATER)
    assert set(outside["adcode"]) <= {"220204"}


def test_no_refresh_statement_reads_the_table_it_inserts_into():
    # An INSERT whose anti-join reads its own target is planned as a nested loop over the
    # (analysed-empty) table on a first build: quadratic, minutes at national size.
    import re

    from opsmon.indicators.risk import RULES, _refresh_statements

    severity = {r.id: "NULL" for r in RULES}
    for only_changed in (False, True):
        for statement in _refresh_statements(severity, only_changed):
            target = re.match(r"\s*INSERT INTO (\w+)", statement)
            if target:
                body = statement[target.end():]
                assert not re.search(rf"\b{target.group(1)}\b", body), statement
