"""Pre-summed region rows (opsmon.indicators.region_sums): unfiltered region views read sums the
refresh made — and must give exactly the numbers of summing the hospitals at query time."""

from __future__ import annotations

import pandas as pd
import province_fixture as fx
import pytest
import sqlalchemy as sa

from opsmon.indicators import aggregate, restrict
from opsmon.periods import SPANS
from opsmon.indicators.query import fetch, query
from opsmon.periods import month_range

# A filter every hospital passes: the query then sums hospitals at query time (the reference).
EVERY_TIER = {"tier": list(restrict.TIERS)}
MONTHS = month_range("2024-01", "2025-02")  # the fixture's data: 2024-01 … 2025-02


def both(engine, level: str, span: str, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    presummed = fetch(engine, None, level, MONTHS, span=span, **kwargs)
    summed = fetch(engine, None, level, MONTHS, span=span, filters=EVERY_TIER, **kwargs)
    return presummed, summed


def assert_same_numbers(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert len(got) == len(want) > 0
    # numeric division may carry one more digit on one side: equal to the last bits of a float8
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, atol=0)


@pytest.mark.parametrize("span", SPANS)
def test_every_region_level_reads_the_same_numbers_as_summing_hospitals(province, span):
    for level in ("province", "prefecture", "county"):
        assert_same_numbers(*both(province, level, span))


def test_a_scope_or_region_selects_rows_of_the_same_sums(province):
    assert_same_numbers(*both(province, "county", "ytd", scope="220100"))
    assert_same_numbers(*both(province, "county", "month", region="220200"))
    presummed, _ = both(province, "prefecture", "month", scope="220100")
    assert set(presummed["code"]) == {"220100"}  # a prefecture user still sees only their prefecture


def test_unfiltered_region_views_read_the_presummed_rows(province):
    aggregate.refresh(province)
    # Mark one pre-summed row: only a query that reads the table can show the mark.
    fx.execute(province, "UPDATE ind_region SET expected = 999 "
               "WHERE adcode = '220000' AND period = '2025-01-01' AND indicator = 'debt_ratio'")
    row = lambda frame: frame[frame["indicator"] == "debt_ratio"]["expected"].item()  # noqa: E731
    assert row(fetch(province, "debt_ratio", "province", ["2025-01"])) == 999
    summed = query(province, "debt_ratio", "province", "2025-01", filters=EVERY_TIER)
    assert row(summed) == 6  # A B C D E F open in 2025-01 (G closed)


def test_months_outside_the_data_are_summed_from_the_registry(province):
    """Before the first month with data no sums were built; the open hospitals are still counted."""
    frame = query(province, "debt_ratio", "province", "2023-06")
    assert frame["expected"].item() == 6  # A B C D F G (E opened 2024-12); none reported
    assert frame["reporting"].item() == 0 and pd.isna(frame["value"].item())


def test_a_hospital_moved_outside_ingest_rebuilds_the_sums(province):
    """A registry edited in the database (no registry file) must not leave sums under the old county."""
    aggregate.refresh(province)
    fx.execute(province, "UPDATE hospitals SET adcode = '220204' WHERE hospital_code = :c", c=fx.CODE["C"])
    sid = fx.add_submission(province, "2025-03-06 10:00+08")
    fx.add_month(province, fx.CODE["A"], "2024-11", fx.month(900, 900), sid)
    fx.bump(province)
    assert aggregate.refresh(province).changed is None  # a full build, not a delta
    for level in ("prefecture", "county"):
        assert_same_numbers(*both(province, level, "month"))
    with province.connect() as conn:
        moved = conn.execute(sa.text(
            "SELECT expected FROM ind_region WHERE adcode = '220104' AND period = '2024-12-01' "
            "AND indicator = 'debt_ratio'")).scalar_one()
    assert moved == 1  # 朝阳区 has only G left (C moved to 船营区)


def test_a_tier_filter_the_population_already_has_reads_the_presummed_rows(province):
    """Targets "of 三级 hospitals" on an indicator of 三级 hospitals: the filter changes nothing."""
    ids = ["ops_platform_coverage_tertiary", "chief_accountant_share"]  # populations: tier = '三级'
    tertiary = fetch(province, ids, "county", MONTHS, filters={"tier": "三级"})
    assert_same_numbers(tertiary, fetch(province, ids, "county", MONTHS))
    fx.execute(province, "UPDATE ind_region SET expected = 999 WHERE adcode = '220000' AND period = '2025-01-01' "
               "AND indicator = 'chief_accountant_share'")
    marked = fetch(province, ids, "province", ["2025-01"], filters={"tier": ["三级", "二级"]})
    assert marked.set_index("indicator").loc["chief_accountant_share", "expected"] == 999


def test_a_tier_filter_that_removes_hospitals_is_applied(province):
    secondary = query(province, "chief_accountant_share", "province", "2025-01", filters={"tier": "二级"})
    assert secondary["expected"].item() == 0  # no 二级 hospital is in a 三级 population
    mixed = query(province, ["chief_accountant_share", "ops_committee_share"], "province", "2025-01",
                  filters={"tier": "三级"})
    # ops_committee_share counts the 三级 and 二级 hospitals open in 2025-01 (A B C D F): 三级 keeps A C F
    assert mixed.set_index("indicator").loc["ops_committee_share", "expected"] == 3
    with pytest.raises(ValueError, match="tier"):
        query(province, "chief_accountant_share", "province", "2025-01", filters={"tier": "四级"})
