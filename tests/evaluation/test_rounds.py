"""An evaluation round on the library: self-assessment, review, spot check, publication — who may
do what, the rules every score obeys, and that a refused step changes nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from opsmon.evaluation import results, rounds, scoring
from opsmon.evaluation.rounds import EvaluationError
from tests.evaluation.conftest import YEAR, province, regions_of, user

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def events(engine: sa.Engine, unit_code: str | None = None) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM evaluation_events WHERE :c IS NULL OR unit_code = :c"),
                            {"c": unit_code}).scalar_one()


def fill(engine, who, unit_code: str, stage: str = "self") -> dict[str, float]:
    """Score every item of the unit at *stage*: the data's proposal where there is one, else the maximum − 1."""
    _, items = results.sheet(engine, who, YEAR, unit_code)
    given = {}
    for item in items.itertuples():
        value = item.proposed if item.proposed == item.proposed and item.proposed is not None else item.max_score - 1
        scoring.score(engine, who, YEAR, unit_code, item.item_code, value, stage=stage, note="按实际填写")
        given[item.item_code] = value
    return given


@pytest.fixture(scope="module")
def places(evaluation_engine, round_2026):
    """A prefecture with two counties (its supervisors), another county, the province."""
    prefecture, counties = next(iter(regions_of(evaluation_engine).items()))
    other = next(c for p, cs in regions_of(evaluation_engine).items() if p != prefecture for c in cs)
    e = evaluation_engine
    return {
        "prefecture": prefecture, "county": counties[0], "county2": counties[1], "other": other,
        "pref_user": user(e, "eval-pref", "supervisor", prefecture),
        "county_user": user(e, "eval-county", "supervisor", counties[0]),
        "county2_user": user(e, "eval-county2", "supervisor", counties[1]),
        "other_user": user(e, "eval-other", "supervisor", other),
        "province": province(e),
    }


def test_the_round_takes_every_commission_and_the_designated_hospitals(evaluation_engine, round_2026):
    units = results.units(evaluation_engine, province(evaluation_engine), YEAR)
    with evaluation_engine.connect() as conn:
        regions = conn.execute(sa.text("SELECT count(*) FROM regions WHERE level IN ('prefecture', 'county')")
                               ).scalar_one()
        designated = conn.execute(sa.text("SELECT count(*) FROM hospitals WHERE budget_authority = '省' "
                                          "AND closed_period IS NULL")).scalar_one()
    assert (units["kind"] == "commission").sum() == regions
    assert (units["kind"] == "hospital").sum() == designated >= 1
    assert set(units["state"]) <= set(results.STATES)


def test_a_unit_sees_only_itself_and_a_prefecture_its_counties(evaluation_engine, places):
    e = evaluation_engine
    mine = results.units(e, places["county_user"], YEAR)
    assert list(mine["unit_code"]) == [places["county"]]
    theirs = set(results.units(e, places["pref_user"], YEAR)["unit_code"])
    assert {places["prefecture"], places["county"], places["county2"]} <= theirs
    assert places["other"] not in theirs
    with pytest.raises(rounds.NotFound):
        results.sheet(e, places["other_user"], YEAR, places["county"])


def test_indicator_items_carry_the_datas_value_and_proposal(evaluation_engine, places):
    from opsmon.indicators.query import fetch

    _, items = results.sheet(evaluation_engine, places["county_user"], YEAR, places["county"])
    row = items.set_index("item_code").loc["C08"]  # risk_register_share, bands 100 % → 10, 80 % → 6
    expected = fetch(evaluation_engine, ["risk_register_share"], "county", ["2026-05"], span="ytd",
                     code=places["county"])["value"].iloc[0]
    assert row["value"] == pytest.approx(expected)
    assert row["proposed"] == (10 if expected >= 1 else 6 if expected >= 0.8 else 0)


def test_a_score_above_the_maximum_is_refused_and_changes_nothing(evaluation_engine, places):
    before = events(evaluation_engine)
    with pytest.raises(EvaluationError, match="超出范围：应在 0 到该项满分 10 之间"):
        scoring.score(evaluation_engine, places["county2_user"], YEAR, places["county2"], "C01", 12)
    with pytest.raises(EvaluationError, match="至多保留一位小数"):
        scoring.score(evaluation_engine, places["county2_user"], YEAR, places["county2"], "C01", 7.25)
    with pytest.raises(EvaluationError, match="没有项目 C99"):
        scoring.score(evaluation_engine, places["county2_user"], YEAR, places["county2"], "C99", 1)
    assert events(evaluation_engine) == before


def test_above_the_datas_proposal_needs_a_written_reason(evaluation_engine, places):
    e, who, code = evaluation_engine, places["county2_user"], places["county2"]
    _, items = results.sheet(e, who, YEAR, code)
    row = items[items["proposed"].notna() & (items["proposed"] < items["max_score"])].iloc[0]
    with pytest.raises(EvaluationError, match="高于数据测算得分"):
        scoring.score(e, who, YEAR, code, row.item_code, row.max_score)
    scoring.score(e, who, YEAR, code, row.item_code, row.max_score, reason="平台已于6月上线，数据尚未报送")
    _, items = results.sheet(e, who, YEAR, code)
    assert items.set_index("item_code").loc[row.item_code, "self_reason"] == "平台已于6月上线，数据尚未报送"


def test_evidence_of_the_wrong_type_is_refused(evaluation_engine, places):
    e, who, code = evaluation_engine, places["county2_user"], places["county2"]
    with pytest.raises(EvaluationError, match="PDF"):
        scoring.add_evidence(e, who, YEAR, code, "C01", "方案.pdf", b"MZ\x90\x00 an exe renamed")
    assert results.evidence_list(e, who, YEAR, code).empty
    evidence_id = scoring.add_evidence(e, who, YEAR, code, "C01", "方案.pdf", PDF)
    assert results.evidence_file(e, who, evidence_id)["content"] == PDF
    assert results.evidence_file(e, places["other_user"], evidence_id) is None  # outside the view: as if absent


def test_only_the_unit_itself_self_assesses(evaluation_engine, places):
    before = events(evaluation_engine)
    for who in (places["pref_user"], places["other_user"], places["province"]):
        with pytest.raises(EvaluationError):
            scoring.score(evaluation_engine, who, YEAR, places["county"], "C01", 5)
    assert events(evaluation_engine) == before


def test_after_the_deadline_nothing_is_submitted_or_changed(evaluation_engine, places, monkeypatch):
    e, who, code = evaluation_engine, places["county2_user"], places["county2"]
    monkeypatch.setenv("OPSMON_TODAY", "2026-07-10")  # the due day itself is still in time
    scoring.score(e, who, YEAR, code, "C01", 8)
    monkeypatch.setenv("OPSMON_TODAY", "2026-07-11")
    before = events(e, code)
    with pytest.raises(EvaluationError, match="已过自评截止日期（2026-07-10）"):
        scoring.score(e, who, YEAR, code, "C01", 9)
    with pytest.raises(EvaluationError, match="已过自评截止日期"):
        scoring.submit(e, who, YEAR, code)
    with pytest.raises(EvaluationError, match="已过自评截止日期"):
        scoring.add_evidence(e, who, YEAR, code, "C01", "b.pdf", PDF)
    assert events(e, code) == before


def test_the_full_cycle_self_review_sample_check_publish(evaluation_engine, places, monkeypatch):
    e, code = evaluation_engine, places["county"]
    # Nothing scored yet: no submission, no review.
    with pytest.raises(EvaluationError, match="还有 11 项未评分"):
        scoring.submit(e, places["county_user"], YEAR, code)
    with pytest.raises(EvaluationError, match="尚未提交自评，不能复核"):
        scoring.score(e, places["pref_user"], YEAR, code, "C01", 5, stage="review", reason="x")
    given = fill(e, places["county_user"], code)
    evidence_id = scoring.add_evidence(e, places["county_user"], YEAR, code, "C01", "领导小组文件.pdf", PDF)
    scoring.submit(e, places["county_user"], YEAR, code)
    with pytest.raises(EvaluationError, match="自评已提交，不能再修改"):
        scoring.score(e, places["county_user"], YEAR, code, "C01", 1)

    # The prefecture reviews: an adjustment needs a reason.
    with pytest.raises(EvaluationError, match="须填写理由"):
        scoring.score(e, places["pref_user"], YEAR, code, "C01", 5, stage="review")
    scoring.score(e, places["pref_user"], YEAR, code, "C01", 5, stage="review", reason="实施方案未明确时间节点")
    scoring.submit(e, places["pref_user"], YEAR, code, stage="review")
    row = results.units(e, places["pref_user"], YEAR).set_index("unit_code").loc[code]
    assert row["state"] == "reviewed"
    assert row["reviewed_total"] == pytest.approx(sum(given.values()) - given["C01"] + 5)

    # The province draws the sample: the same seed draws the same units, and only once.
    units = results.units(e, places["province"], YEAR)
    seed = next(s for s in range(500) if code in _draw(units, 0.3, s))
    sample = rounds.draw_sample(e, places["province"], YEAR, rate=0.3, seed=seed)
    assert set(sample["unit_code"]) == _draw(units, 0.3, seed)
    assert sample.groupby("stratum").size().min() >= 1
    with pytest.raises(EvaluationError, match="不能重抽"):
        rounds.draw_sample(e, places["province"], YEAR, rate=0.3, seed=seed + 1)

    # The check: two items differ from the self-assessment; the difference is counted.
    for item, value in given.items():
        checked = value - 1 if item in ("C02", "C09") and value >= 1 else value
        scoring.score(e, places["province"], YEAR, code, item, checked, stage="check", note="现场核查")
    scoring.submit(e, places["province"], YEAR, code, stage="check")
    row = results.units(e, places["province"], YEAR).set_index("unit_code").loc[code]
    assert row["state"] == "checked"
    assert row["differing_items"] == sum(1 for i in ("C02", "C09") if given[i] >= 1)
    assert row["final_total"] == row["check_total"]

    # Before publication another county sees nothing of it; after, every viewer of regions does.
    assert code not in set(results.units(e, places["other_user"], YEAR)["unit_code"])
    rounds.publish(e, places["province"], YEAR)
    assert code in set(results.units(e, places["other_user"], YEAR)["unit_code"])
    # Published: the scores, not the evidence, which stays with the unit and those above it.
    assert results.evidence_file(e, places["other_user"], evidence_id) is None
    assert results.evidence_list(e, places["other_user"], YEAR, code).empty
    assert results.evidence_file(e, places["pref_user"], evidence_id)["content"] == PDF
    # …and nothing changes any more.
    with pytest.raises(EvaluationError, match="已公布"):
        scoring.score(e, places["province"], YEAR, places["county2"], "C01", 1, stage="check")
    with e.connect() as conn:
        audited = conn.execute(sa.text("SELECT action, count(*) FROM audit_log WHERE action LIKE 'evaluation.%' "
                                       "GROUP BY action")).all()
    assert {"evaluation.score", "evaluation.submit", "evaluation.sample", "evaluation.publish"} <= dict(audited).keys()


def _draw(units, rate, seed) -> set[str]:
    """The sample drawn by hand: per stratum in order, ceil(rate × n) units (numpy's choice, same seed)."""
    import math

    import numpy as np

    rng = np.random.default_rng(seed)
    chosen = set()
    for _, group in units.sort_values(["stratum", "unit_code"]).groupby("stratum", sort=True):
        n = max(1, math.ceil(rate * len(group)))
        chosen |= set(rng.choice(group["unit_code"].to_numpy(), size=n, replace=False))
    return chosen


def test_the_events_are_append_only(evaluation_engine, places):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with evaluation_engine.begin() as conn:
            conn.execute(sa.text("UPDATE evaluation_events SET score = 0"))
