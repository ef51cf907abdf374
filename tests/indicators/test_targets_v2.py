"""Targets v2 (spec/indicators.md, programme targets; migration 0011): the seeds, 吉林's own targets,
yearly targets, and overdue unmet targets that stay 逾期未达标 until met."""

from __future__ import annotations

from datetime import date

import province_fixture as fx
import pytest
import sqlalchemy as sa

from opsmon.indicators import targets


def seeded(engine) -> set[tuple]:
    rows = fx.execute(engine, "SELECT indicator, CAST(scope_adcode AS text), tier, CAST(value AS float8), "
                              "to_char(due_period, 'YYYY-MM'), recurrence FROM targets")
    return {tuple(r) for r in rows}


def test_the_seeded_targets(engine):
    rows = seeded(engine)
    assert ("process_target_share", None, None, 1.0, "2025-12", None) in rows  # the 2024–2025 campaign
    assert not any(r[0] == "process_target_share" and r[4] == "2027-12" for r in rows)
    assert ("leaders_platform_share", None, None, 1.0, "2025-12", None) in rows
    assert ("ops_committee_share", "220000", "三级", 1.0, "2022-12", None) in rows
    assert ("ops_committee_share", "220000", "二级", 1.0, "2023-12", None) in rows
    assert ("pilot_hospital_share", "220000", None, 1.0, "2022-12", "yearly") in rows
    assert ("nurse_doctor_ratio", "220200", None, 2.0, "2025-12", None) in rows  # 吉林市's (吉市政办发)
    sources = {k: v for k, v in fx.execute(engine, "SELECT indicator || coalesce(tier, ''), source FROM targets")}
    assert "132号" in sources["process_target_share"] and "132号" in sources["leaders_platform_share"]
    assert "吉卫联发〔2022〕19号" in sources["ops_committee_share三级"]
    assert "吉卫联发〔2022〕19号" in sources["pilot_hospital_share"]
    assert "吉市政办发〔2022〕26号" in sources["nurse_doctor_ratio"]


def test_malformed_targets_are_refused(engine):
    insert = ("INSERT INTO targets (indicator, scope_adcode, tier, value, due_period, source, recurrence) "
              "VALUES ('risk_register_share', :scope, NULL, 1.0, '2026-12-01', 'x', :rec)")
    with pytest.raises(sa.exc.IntegrityError, match="targets_scope_adcode_format"):
        fx.execute(engine, insert, scope="22000x", rec=None)
    with pytest.raises(sa.exc.IntegrityError, match="recurrence"):
        fx.execute(engine, insert, scope="220000", rec="monthly")


def test_a_target_of_a_region_the_database_does_not_hold_applies_nowhere(province):
    fx.execute(province, "INSERT INTO targets (indicator, scope_adcode, tier, value, due_period, source) "
                         "VALUES ('risk_register_share', '110000', NULL, 1.0, '2025-12-01', '北京市定')")
    frame = targets.evaluate(province, as_of="2025-01")
    assert "risk_register_share" not in set(frame["indicator"])


@pytest.mark.parametrize("due, recurrence, as_of, expected", [
    (date(2022, 12, 1), None, date(2025, 1, 1), date(2022, 12, 1)),  # one-off: its own month
    (date(2022, 12, 1), "yearly", date(2021, 6, 1), date(2022, 12, 1)),  # before the first instance
    (date(2022, 12, 1), "yearly", date(2022, 12, 1), date(2022, 12, 1)),
    (date(2022, 12, 1), "yearly", date(2023, 1, 1), date(2023, 12, 1)),  # next year's instance from January
    (date(2022, 12, 1), "yearly", date(2025, 12, 1), date(2025, 12, 1)),  # due this month: this year's
    (date(2022, 12, 1), "yearly", date(2026, 1, 1), date(2026, 12, 1)),
    (date(2023, 6, 1), "yearly", date(2025, 7, 1), date(2026, 6, 1)),
])
def test_instance_due(due, recurrence, as_of, expected):
    assert targets.instance_due(due, recurrence, as_of) == expected


def test_an_unknown_recurrence_is_refused():
    with pytest.raises(ValueError, match="recurrence"):
        targets.instance_due(date(2022, 12, 1), "monthly", date(2025, 1, 1))


def row(frame, indicator: str, tier: str | None = None):
    rows = frame[(frame["indicator"] == indicator)
                 & (frame["tier"].isna() if tier is None else frame["tier"] == tier)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_an_overdue_unmet_target_stays_missed_until_met(province):
    jan = targets.evaluate(province, as_of="2025-01")
    # 吉林's committee target for 三级 (due 2022-12): A's 2024-06 report is seven months old (stale),
    # C says 是, F's 2024-03 report is stale → 1 of 3, long overdue: kept, 逾期未达标.
    tertiary = row(jan, "ops_committee_share", "三级")
    assert tertiary["due_period"] == "2022-12" and tertiary["months_left"] == -25
    assert tertiary["value"] == pytest.approx(1 / 3) and tertiary["status"] == "missed"
    assert tertiary["on_track"] is not None and not tertiary["on_track"]
    # 二级 (due 2023-12): B 是, D never reported (G closed in 2025-01) → 1 of 2.
    secondary = row(jan, "ops_committee_share", "二级")
    assert secondary["value"] == pytest.approx(1 / 2) and secondary["status"] == "missed"

    # A and F report a committee in 2025-02: all three 三级 hospitals have one → met, late.
    sub = fx.add_submission(province, "2025-03-01 10:00:00+08", "progress")
    fx.add_progress(province, fx.CODE["A"], "2025-02", "in_use", True, True, 1, 6, "done", True, sub)
    fx.add_progress(province, fx.CODE["F"], "2025-02", "built", True, True, 1, 1, "not_started", False, sub)
    fx.accepted(province)
    feb = targets.evaluate(province, as_of="2025-02")
    tertiary = row(feb, "ops_committee_share", "三级")
    assert tertiary["value"] == pytest.approx(1.0) and tertiary["status"] == "met"
    assert row(feb, "ops_committee_share", "二级")["status"] == "missed"  # D still has none


def test_the_yearly_pilot_target(province):
    # December 2024 is the 2024 instance's month: 二级+ open A (2 projects, report 2024-06, six months old),
    # B (1, 2024-12), C (1, 2024-09), D (none), F (stale), G (none) → 3 of 6, due now: 逾期未达标.
    dec = row(targets.evaluate(province, as_of="2024-12"), "pilot_hospital_share")
    assert (dec["due_period"], dec["months_left"], dec["recurrence"]) == ("2024-12", 0, "yearly")
    assert dec["value"] == pytest.approx(3 / 6) and dec["status"] == "missed"
    # January 2025: the 2025 instance. No report of 2025 names a project yet (C's 2025-01 says 0; the
    # 2024 reports count for 2024 only) → 0 of 5; one month of this year is too little to project.
    jan = row(targets.evaluate(province, as_of="2025-01"), "pilot_hospital_share")
    assert (jan["due_period"], jan["months_left"]) == ("2025-12", 11)
    assert jan["value"] == 0 and jan["points"] == 1 and jan["status"] == "insufficient_data"


def test_the_campaign_targets(province):
    dec = targets.evaluate(province, as_of="2024-12")
    # Pilot and 国家 budget-managed hospitals: A (pilot) only — C is 省 budget-managed; A in use → met.
    leaders = row(dec, "leaders_platform_share")
    assert (leaders["value"], leaders["due_period"], leaders["status"]) == (1.0, "2025-12", "met")
    process = row(dec, "process_target_share")
    # A 6 ≥ 5, B 2 ≥ 2, C 5 ≥ 2 of A B C D F G (G open until 2024-12) → 3 of 6, due 2025-12.
    assert process["value"] == pytest.approx(3 / 6) and process["due_period"] == "2025-12"
    assert process["months_left"] == 12


def test_the_nurse_doctor_ratio_is_jilin_citys_target(province):
    assert "nurse_doctor_ratio" not in set(targets.evaluate(province, as_of="2025-01")["indicator"])
    city = row(targets.evaluate(province, region="220200", as_of="2025-01"), "nurse_doctor_ratio")
    # 吉林市 in 2025-01: D and E report 40 nurses and 20 doctors each → 80 / 40 = 2.0 ≥ 2.
    assert city["value"] == pytest.approx(2.0) and city["target"] == 2.0 and city["status"] == "met"
    assert city["unit"] == "" and city["due_period"] == "2025-12"
    # The province's units: 吉林市's row carries it, the others do not.
    children = targets.evaluate_children(province, as_of="2025-01")
    assert set(children.loc[children["indicator"] == "nurse_doctor_ratio", "region"]) == {"220200"}
