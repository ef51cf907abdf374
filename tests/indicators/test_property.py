"""Property: a parent's value is the ratio of its children's sums, for every ratio indicator.

Random hospitals (any county of the pool, any grade, pilot or not) and random months
are inserted with plain SQL; then, at every span, each region's numerator,
denominator, reporting and expected counts equal the sums over its children (and it
is 近似 exactly when a child is) —
hospitals for a county, counties for a prefecture, the prefecture-level rows for the
province (the nine prefectures and 梅河口市, which the province administers directly
and whose children are hospitals) — and its value equals numerator ÷ denominator.
"""

from __future__ import annotations

import pandas as pd
import province_fixture as fx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsmon.indicators import CATALOGUE, query
from opsmon.ingest import uscc
from opsmon.ingest.fields import HOSPITAL_LEVELS

RATIOS = [i.id for i in CATALOGUE if i.kind == "ratio"]
SUMS = [i.id for i in CATALOGUE if i.kind in ("sum", "count")]
COUNTIES = ["220102", "220104", "220204", "220502", "220581"]  # 长春×2, 吉林, 通化 东昌区, 梅河口
MONTHS = ["2024-11", "2024-12", "2025-01", "2025-02"]
# A hospital's parent_code is its county, so at prefecture level hospitals only match 梅河口市.
CHILD_LEVEL = {"province": ["prefecture"], "prefecture": ["county", "hospital"], "county": ["hospital"]}

money = st.integers(min_value=1, max_value=50).map(lambda k: 100 * k)
month_row = st.fixed_dictionaries({
    "revenue": money, "expense": money,
    "liabilities": st.integers(2000, 15000), "current_assets": st.integers(1000, 9000),
    "cash": st.integers(0, 1000), "visits": st.integers(0, 300), "discharges": st.integers(0, 30),
    "doctors": st.integers(0, 40), "arrears": st.sampled_from([0, 0, 50]),
    "v2": st.booleans(),  # the v2 optional columns reported (official values) or not (近似)
})
hospital = st.fixed_dictionaries({
    "county": st.sampled_from(COUNTIES),
    "level": st.sampled_from(HOSPITAL_LEVELS),
    "pilot": st.booleans(),
    "months": st.dictionaries(st.sampled_from(MONTHS), month_row, min_size=0, max_size=4),
    "platform": st.sampled_from([None, "building", "in_use"]),
})


def _load(engine, hospitals: list[dict]) -> None:
    fx.execute(engine, "TRUNCATE monthly_values, progress_values, submissions, hospitals CASCADE")
    sub = fx.add_submission(engine, "2025-01-05 00:00:00+08")
    for n, h in enumerate(hospitals):
        code = uscc.make(h["county"], f"PR{n:06d}")
        fx.add_hospital(engine, code, h["county"], h["level"], is_pilot=h["pilot"])
        for period, m in h["months"].items():
            v2 = dict(medical_service_revenue=0.2 * m["revenue"], herbal_pieces_revenue=0.01 * m["revenue"],
                      discharged_patient_revenue=0.4 * m["revenue"], long_term_payables=100, inventory=500,
                      depreciation_expense=0.05 * m["expense"]) if m["v2"] else {}
            fx.add_month(engine, code, period, fx.month(
                m["revenue"], m["expense"], total_liabilities=m["liabilities"], current_assets=m["current_assets"],
                cash=m["cash"], outpatient_visits=m["visits"], discharges=m["discharges"], doctors=m["doctors"],
                salary_arrears=m["arrears"], **v2), sub)
        if h["platform"]:
            fx.add_progress(engine, code, "2024-11", h["platform"], True, h["pilot"], 1, 3, "done", True, sub)
    fx.accepted(engine)


def _check_parent_is_sum_of_children(engine, span: str, period: str) -> None:
    frames = {level: query(engine, RATIOS + SUMS, level, period, span=span)
              for level in ("province", "prefecture", "county", "hospital")}
    for parent_level, child_levels in CHILD_LEVEL.items():
        children = pd.concat([frames[level] for level in child_levels])
        sums = children.groupby(["parent_code", "indicator"])[["numerator", "denominator", "reporting",
                                                              "expected"]].sum(min_count=1)
        approximated = children.groupby(["parent_code", "indicator"])["approx"].any()
        for _, row in frames[parent_level].iterrows():
            key = (row["code"], row["indicator"])
            expected = sums.loc[key] if key in sums.index else None
            if expected is None:  # no child at all (a county without hospitals)
                assert row["expected"] == 0, row
                continue
            assert row["reporting"] == expected["reporting"] and row["expected"] == expected["expected"], row
            assert row["approx"] == approximated.loc[key], row  # 近似 when any child is
            for column in ("numerator", "denominator"):
                if pd.isna(expected[column]):
                    assert pd.isna(row[column]) or (row["indicator"] in SUMS and row[column] == 0), row
                else:
                    assert row[column] == pytest.approx(expected[column], rel=1e-9, abs=1e-9), row
            if row["indicator"] in RATIOS and not pd.isna(row["denominator"]) and row["denominator"] != 0:
                factor = 10_000 if row["indicator"] == "energy_per_10k_revenue" else 1
                assert row["value"] == pytest.approx(row["numerator"] / row["denominator"] * factor, rel=1e-9)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hospitals=st.lists(hospital, min_size=1, max_size=8), span=st.sampled_from(["month", "quarter", "ytd", "year"]),
       period=st.sampled_from(MONTHS))
def test_parents_are_ratios_of_their_childrens_sums(engine, hospitals, span, period):
    _load(engine, hospitals)
    _check_parent_is_sum_of_children(engine, span, period)
