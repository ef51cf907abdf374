"""The dashboard on a national instance: the map starts at the provinces and drills down as far as boundaries go."""

from __future__ import annotations

from conftest import find, signed_in

from opsmon import geo
from opsmon.dashboard import components as c
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import overview, rankings, risk, trends
from opsmon.indicators import reporting


def test_the_national_map_shows_every_province_with_a_boundary(national_engine):
    app = create_app(national_engine)
    period = reporting.latest_period(national_engine)
    with signed_in(app, national_engine, "demo-admin"):
        kpis, fig, table, crumbs, *_ = overview.update(period, "reporting_rate")
    outlined = {f["id"] for f in geo.load_geojson(geo.NATION, "provinces")["features"]}
    assert len(fig.data[0].locations) == 31 and set(fig.data[0].locations) <= outlined
    assert len(table.rowData) == 31
    assert [item["label"] for item in crumbs.items] == ["全国"]


def test_a_province_without_its_own_files_maps_its_prefectures_from_the_national_layer(national_engine):
    app = create_app(national_engine)
    period = reporting.latest_period(national_engine)
    with signed_in(app, national_engine, "demo-admin"):
        frame, geojson, _, _ = overview.map_frame(national_engine, "420000", period, "reporting_rate")
    codes = set(frame["code"])
    assert {"420100", "429004"} <= codes  # 武汉市 and 仙桃市 (run by the province directly)
    assert frame.set_index("code").loc["429004", "is_direct"]
    # Prefectures are outlined; the national files have no county layer for 仙桃.
    assert "420100" in {f["id"] for f in geojson["features"]}


def test_a_prefecture_without_county_boundaries_says_so_and_still_lists_its_counties(national_engine):
    app = create_app(national_engine)
    period = reporting.latest_period(national_engine)
    view = {"lang": "zh", "region": "420100"}
    with signed_in(app, national_engine, "demo-admin"):
        kpis, fig, table, *_ = overview.update(period, "reporting_rate", view)
    assert fig.layout.annotations[0].text.startswith("未随系统提供该地区的边界文件")
    assert len(table.rowData) == 13  # 武汉市's 13 districts


def test_a_province_with_shipped_files_keeps_its_county_map(national_engine):
    app = create_app(national_engine)
    period = reporting.latest_period(national_engine)
    with signed_in(app, national_engine, "demo-admin"):
        frame, geojson, _, _ = overview.map_frame(national_engine, "220100", period, "reporting_rate")
    assert len(geojson["features"]) == len(frame) > 0


def test_region_pickers_and_rankings_offer_the_provinces(national_engine):
    app = create_app(national_engine)
    with signed_in(app, national_engine, "demo-admin"):
        options = c.region_options(include_root=False)
        levels = rankings.levels()
    assert options[0] == {"label": "北京市", "value": "110000"}
    assert "100000" not in {o["value"] for o in options}
    assert levels[0] == "province"


def test_an_empty_region_filter_reads_whole_country(national_engine):
    app = create_app(national_engine)
    with signed_in(app, national_engine, "demo-admin"):
        assert c.whole_region_label() == "全国"
        assert find(risk.layout(), "risk-region").placeholder == "全国"


def test_every_page_answers_in_a_national_instance(national_engine):
    from opsmon.dashboard.pages import submissions, targets, trends

    app = create_app(national_engine)
    period = reporting.latest_period(national_engine)
    zh = {"lang": "zh"}
    with signed_in(app, national_engine, "demo-admin"):
        # The risk map counts serious episodes per province, outlined by the national layer.
        kpis, fig, table, _ = risk.update(period, [], [], [], None, [], zh)
        provinces = {f["id"] for f in geo.load_geojson(geo.NATION, "provinces")["features"]}
        assert set(fig.data[0].locations) <= provinces and len(fig.data[0].locations) == 31
        counts = risk.map_counts(risk.changes_frame(national_engine, period, [], [], [], None, []))
        rows = risk.page_of_rows({"startRow": 0, "endRow": 100_000}, period, [], [], [], None, [], None,
                                 zh)["rowData"]
        assert counts["value"].sum() == sum(1 for r in rows if r["status"] != "resolved" and r["level"] in risk.SERIOUS)
        assert targets.update(period, geo.NATION, zh)[0] is not None
        assert trends.update("surplus_rate", [geo.NATION], period, 24, "month", zh)[0].data
        assert submissions.update(period, None, zh)[0] is not None
        ranked = rankings.update("surplus_rate", "province", period, "month", None, [], [], [], [], "", zh)
        assert ranked is not None


def test_national_pickers_are_sent_the_provinces_and_searched_on_the_server(national_engine):
    app = create_app(national_engine)
    period = reporting.latest_period(national_engine)
    zh = {"lang": "zh"}
    with signed_in(app, national_engine, "demo-admin"):
        every = c.region_choices()
        assert len(every) > c.PICKER_OPTIONS  # 31 provinces, 300-odd prefectures, 2,800-odd counties
        provinces = {o["value"] for o in every if o["value"].endswith("0000")}
        # The page is sent the provinces, and a region chosen in its URL (with its name) …
        sent = find(risk.layout(region="420102"), "risk-region").options
        assert {o["value"] for o in sent} == provinces | {"420102"} and len(provinces) == 31
        assert {o["value"]: o["label"] for o in sent}["420102"].strip() == "江岸区"
        # … and a typed name is looked up among all of them.
        found = risk.search_options("江岸", None, zh)
        assert "420102" in {o["value"] for o in found}
        assert all("江岸" in o["label"] + o.get("search", "") for o in found)
        wuhan = risk.search_options("区", "420102", zh)  # many match: at most PICKER_MATCHES, the chosen one kept
        assert wuhan[0]["value"] == "420102" and len(wuhan) == c.PICKER_MATCHES + 1
        # The trends' picker holds regions and hospitals: a hospital is found by its name.
        hospital = trends._hospitals(national_engine, period).iloc[0]
        picker = find(trends.layout(period=period), "trends-codes")
        assert hospital["code"] not in {o["value"] for o in picker.options} and len(picker.options) <= 40
        hits = trends.search_options(hospital["name"], picker.value, period, zh)
        assert hospital["code"] in {o["value"] for o in hits}
