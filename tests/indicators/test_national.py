"""A national instance: 全国 (100000) above every mainland province, the same engine one level higher."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from opsmon import indicators
from opsmon.access.users import UserError, add_user
from opsmon.indicators import reporting

MAINLAND = 31


def test_the_nation_is_the_root_with_the_mainland_provinces_under_it(national_engine):
    with national_engine.connect() as conn:
        root = conn.execute(sa.text("SELECT adcode, name, level FROM regions WHERE parent_adcode IS NULL")).all()
        provinces = conn.execute(sa.text(
            "SELECT count(*) FROM regions WHERE level = 'province' AND parent_adcode = '100000'")).scalar_one()
        outside = conn.execute(sa.text(
            "SELECT count(*) FROM regions WHERE adcode IN ('710000', '810000', '820000')")).scalar_one()
    assert [tuple(r) for r in root] == [("100000", "全国", "nation")]
    assert reporting.root_code(national_engine) == "100000"
    assert provinces == MAINLAND and outside == 0


def test_every_mainland_province_has_demo_hospitals(national_engine):
    with national_engine.connect() as conn:
        prefixes = conn.execute(sa.text("SELECT count(DISTINCT left(adcode, 2)) FROM hospitals")).scalar_one()
    assert prefixes == MAINLAND


def test_a_database_has_one_root(engine):
    """The provincial template already has its root (220000); a second one is refused by the database."""
    with pytest.raises(sa.exc.IntegrityError, match="regions_one_root"), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO regions (adcode, name, level) VALUES ('100000', '全国', 'nation')"))


def test_province_rows_add_up_to_the_nation(national_engine):
    period = reporting.latest_period(national_engine)
    ids = ["hospitals_expected", "hospitals_reporting", "deficit_hospital_share"]
    provinces = indicators.query(national_engine, ids, "province", period)
    nation = indicators.query(national_engine, ids, "nation", period).set_index("indicator")
    with national_engine.connect() as conn:
        reported = conn.execute(sa.text(
            "SELECT count(*) FROM monthly_values WHERE is_current AND period = CAST(:p || '-01' AS date)"),
            {"p": period}).scalar_one()
    by_id = provinces.groupby("indicator")[["numerator", "denominator"]].sum()
    assert nation.loc["hospitals_reporting", "value"] == reported == by_id.loc["hospitals_reporting", "numerator"]
    assert len(provinces[provinces["indicator"] == "hospitals_expected"]) == MAINLAND
    # A ratio at the top is the ratio of the provinces' sums, not a mean of their ratios.
    share = nation.loc["deficit_hospital_share"]
    assert share["numerator"] == by_id.loc["deficit_hospital_share", "numerator"]
    assert share["denominator"] == by_id.loc["deficit_hospital_share", "denominator"]


def test_prefecture_rows_add_up_to_their_province_including_its_direct_county_level_cities(national_engine):
    period = reporting.latest_period(national_engine)
    hubei = "420000"  # runs 仙桃、潜江、天门、神农架 directly
    rows = indicators.query(national_engine, "hospitals_expected", "prefecture", period, region=hubei)
    total = indicators.query(national_engine, "hospitals_expected", "province", period, region=hubei)
    with national_engine.connect() as conn:
        direct = conn.execute(sa.text(
            "SELECT count(*) FROM regions WHERE parent_adcode = :p AND level = 'county'"), {"p": hubei}).scalar_one()
        in_hubei = conn.execute(sa.text("SELECT count(*) FROM hospitals WHERE adcode LIKE '42%'")).scalar_one()
    assert direct == 4 and set(rows["parent_code"]) == {hubei}
    assert rows["value"].sum() == total.set_index("code").loc[hubei, "value"] == in_hubei


def test_an_administrator_belongs_to_the_top_of_the_hierarchy(national_engine):
    with pytest.raises(UserError, match="top of the hierarchy"):
        add_user(national_engine, "hubei-admin", "test-password-1", "admin", "420000")
    leader = add_user(national_engine, "hubei-leader", "test-password-1", "leader", "420000")
    assert leader.scope == "420000"
