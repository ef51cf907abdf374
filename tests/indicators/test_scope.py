"""Scope is enforced in the SQL: a scoped caller never receives a row outside the scope."""

from __future__ import annotations

import province_fixture as fx
import pytest

from opsmon.indicators import query, series
from opsmon.indicators.programme import status

IDS = ["surplus_rate", "debt_ratio", "ops_platform_coverage_tertiary", "hospitals_expected"]
LEVELS = ["province", "prefecture", "county", "hospital"]


def test_a_hospital_scope_sees_only_its_own_hospital_rows(province):
    a = fx.CODE["A"]
    for level in ("province", "prefecture", "county"):
        assert query(province, IDS, level, "2025-01", scope=a).empty, level
    rows = query(province, IDS, "hospital", "2025-01", scope=a)
    assert set(rows["code"]) == {a} and len(rows) == len(IDS)
    # Asking for a region or another hospital's series does not widen it.
    assert set(query(province, IDS, "hospital", "2025-01", scope=a, region="220104")["code"]) == set()
    assert series(province, "surplus_rate", fx.CODE["B"], "2025-01", "2025-02", scope=a).empty
    assert series(province, "surplus_rate", "220102", "2025-01", "2025-02", scope=a).empty
    assert set(status(province, "2025-01", scope=a)["hospital_code"]) == {a}


def test_a_prefecture_scope_sees_nothing_outside_it(province):
    for level in LEVELS:
        rows = query(province, IDS, level, "2025-01", scope="220100")
        if level == "province":
            assert rows.empty
        elif level == "prefecture":
            assert set(rows["code"]) == {"220100"}
        elif level == "county":
            assert set(rows["parent_code"]) == {"220100"}
        else:
            assert set(rows["code"]) == {fx.CODE["A"], fx.CODE["B"], fx.CODE["C"]}  # G is closed
    # A region outside the scope gives nothing rather than the outside region.
    assert query(province, IDS, "county", "2025-01", scope="220100", region="220200").empty
    assert series(province, "surplus_rate", "220000", "2025-01", "2025-02", scope="220100").empty
    assert series(province, "surplus_rate", fx.CODE["F"], "2025-01", "2025-02", scope="220100").empty


def test_a_directly_administered_county_scope(province):
    # A prefecture-level unit of its own (not part of 通化市): its own row and nothing else.
    assert set(query(province, IDS, "prefecture", "2025-01", scope="220581")["code"]) == {"220581"}
    assert query(province, IDS, "prefecture", "2025-01", scope="220500").empty is False
    assert "220581" not in set(query(province, IDS, "prefecture", "2025-01", scope="220500")["code"])
    assert set(query(province, IDS, "county", "2025-01", scope="220581")["code"]) == {"220581"}
    assert set(query(province, IDS, "hospital", "2025-01", scope="220581")["code"]) == {fx.CODE["F"]}


@pytest.mark.parametrize("scope", ["22010", "not-a-code", "220102'; DROP TABLE hospitals; --"])
def test_a_malformed_scope_is_refused(province, scope):
    with pytest.raises(ValueError, match="scope"):
        query(province, IDS, "hospital", "2025-01", scope=scope)
