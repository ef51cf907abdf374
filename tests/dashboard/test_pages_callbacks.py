"""Every page's callbacks as plain functions against the demo province, checked against the indicator API."""

from __future__ import annotations

import io
from collections.abc import Iterator

import openpyxl
import pandas as pd
import pytest
from conftest import find, make_user, signed_in
from dash.exceptions import PreventUpdate

from opsmon import geo
from opsmon.dashboard.app import create_app
from opsmon.dashboard.format import integer, percent
from opsmon.dashboard.pages import hospital, overview, rankings, risk, submissions, targets, trends
from opsmon.indicators import query, reporting, series
from opsmon.indicators import risk as risk_api
from opsmon.indicators import targets as targets_api
from opsmon.ingest import api as ingest_api

PROVINCE = "220000"
ZH = {"lang": "zh"}


@pytest.fixture(scope="module")
def app(demo_engine):
    return create_app(demo_engine)


@pytest.fixture
def request_context(app, demo_engine) -> Iterator[None]:
    with signed_in(app, demo_engine, "demo-admin"):
        yield


@pytest.fixture(scope="module")
def period(demo_engine) -> str:
    return reporting.latest_period(demo_engine)


def _by_code(frame: pd.DataFrame, column: str = "value") -> dict:
    return frame.set_index("code")[column].to_dict()


# ----------------------------------------------------------------------------------------- overview
def test_overview_cards_and_map_equal_the_indicator_api(demo_engine, request_context, period):
    kpis, fig, table, crumbs, _, _ = overview.update(period, "surplus_rate", {"lang": "zh", "region": PROVINCE})

    q = query(demo_engine, ["hospitals_expected", "reporting_rate", "deficit_hospitals", "salary_arrears_hospitals"],
              "province", period).set_index("indicator")["value"]
    assert find(kpis, "kpi-expected").children == integer(q["hospitals_expected"])
    assert find(kpis, "kpi-rate").children == percent(q["reporting_rate"])
    assert find(kpis, "kpi-deficit").children == integer(q["deficit_hospitals"])
    assert find(kpis, "kpi-arrears").children == integer(q["salary_arrears_hospitals"])
    changes = risk_api.changes(demo_engine, period)
    open_serious = changes[changes["status"].isin(["new", "persisting"]) & changes["level"].isin(["red", "orange"])]
    assert find(kpis, "kpi-risks").children == integer(len(open_serious))

    # The map: the prefectures and 梅河口市 (administered by the province), values from query().
    expected = {**_by_code(query(demo_engine, "surplus_rate", "prefecture", period)),
                "220581": _by_code(query(demo_engine, "surplus_rate", "county", period))["220581"]}
    drawn = dict(zip(fig.data[0].locations, fig.data[0].z))
    assert set(drawn) == {k for k, v in expected.items() if pd.notna(v)}
    assert all(drawn[k] == pytest.approx(expected[k]) for k in drawn)
    assert len(table.rowData) == 10
    assert [item["label"] for item in crumbs.items] == ["吉林省"]


def test_overview_drills_from_a_prefecture_to_its_counties(demo_engine, request_context, period):
    _, fig, table, crumbs, _, _ = overview.update(period, "reporting_rate", {"lang": "zh", "region": "220500"})

    regions = geo.load_regions(PROVINCE)
    inside = set(regions.loc[(regions["level"] == "county") & (regions["geo_parent_adcode"] == "220500"), "adcode"])
    drawn = {loc for trace in fig.data for loc in trace.locations}
    assert drawn == inside and "220581" in drawn  # 梅河口市 lies inside 通化市
    counties = _by_code(query(demo_engine, "reporting_rate", "county", period))
    assert all(z == pytest.approx(counties[loc]) for loc, z in zip(fig.data[0].locations, fig.data[0].z))
    assert [item["label"] for item in crumbs.items] == ["吉林省", "通化市"]
    assert "region=220500" not in crumbs.items[0]["href"]


def test_overview_county_lists_its_hospitals_with_links(demo_engine, request_context, period):
    hospitals = query(demo_engine, "surplus_rate", "hospital", period)
    county = hospitals["parent_code"].value_counts().index[0]
    _, _, table, crumbs, _, _ = overview.update(period, "surplus_rate", {"lang": "zh", "region": county})

    in_county = query(demo_engine, "surplus_rate", "hospital", period, region=county)
    assert sorted(r["code"] for r in table.rowData) == sorted(in_county["code"])
    values = _by_code(in_county)
    for row in table.rowData:
        assert row["href"] == f"/hospital/{row['code']}?period={period}"
        assert row["value"] == pytest.approx(values[row["code"]], nan_ok=True)
    assert len(crumbs.items) == 3


def test_a_map_click_opens_the_region_below(request_context, period):
    click = {"points": [{"location": "220100"}]}
    assert overview.drill(click, period, "debt_ratio", {"lang": "en", "region": PROVINCE}) == \
        f"?period={period}&indicator=debt_ratio&region=220100&lang=en"
    with pytest.raises(PreventUpdate):
        overview.drill({"points": [{"location": "220100"}]}, period, "debt_ratio", {"region": "220100"})
    with pytest.raises(PreventUpdate):
        overview.drill({"points": [{"location": "999999"}]}, period, "debt_ratio", {"region": PROVINCE})


# ----------------------------------------------------------------------------------------- hospital profile
def test_hospital_cards_show_its_values_and_its_tier_median(demo_engine, request_context, period):
    frame = query(demo_engine, hospital.KEY_IDS, "hospital", period, filters={"tier": "二级"})
    code = frame["code"].iloc[0]
    peers = hospital.peer_frame(demo_engine, code, "二级", period, "month")

    for ind_id, row in peers.iterrows():
        own = frame[(frame["code"] == code) & (frame["indicator"] == ind_id)]["value"].iloc[0]
        assert row["value"] == pytest.approx(own, nan_ok=True)
        assert row["median"] == pytest.approx(frame.loc[frame["indicator"] == ind_id, "value"].median(), nan_ok=True)

    page = hospital.layout(code=code, period=period)
    assert find(page, "hospital-view").data == {"lang": "zh", "code": code, "tier": "二级"}
    revisions = find(page, "hospital-revisions-grid")
    stored = len(ingest_api.list_revisions(demo_engine, code)) + len(
        ingest_api.list_revisions(demo_engine, code, kind="progress"))
    assert len(revisions.rowData) == stored
    risks = find(page, "hospital-risk-grid")
    assert len(risks.rowData if risks is not None else []) == len(risk_api.register(demo_engine, hospital=code))


def test_hospital_trends_are_the_series_api(demo_engine, request_context, period):
    code = query(demo_engine, "surplus_rate", "hospital", period)["code"].iloc[0]
    fig = hospital.trend_figure(demo_engine, code, period)
    first = series(demo_engine, "surplus_rate", code, "2020-01", period)
    first = first.loc[first["value"].notna().idxmax():]  # from the first month with data; later gaps stay gaps
    assert list(fig.data[0].x) == first["period"].tolist()
    assert list(fig.data[0].y) == pytest.approx(first["value"].tolist(), nan_ok=True)


def test_an_unknown_hospital_gets_a_friendly_page(request_context):
    page = hospital.layout(code="NOTAHOSPITAL")
    assert "未找到该医院" in str(page)


# ----------------------------------------------------------------------------------------- rankings
def test_rankings_rows_equal_the_query_with_the_same_filters(demo_engine, request_context, period):
    frame = rankings.ranking_frame(demo_engine, "surplus_rate", "hospital", period, "ytd", None, {"tier": ["三级"]})
    api = query(demo_engine, "surplus_rate", "hospital", period, span="ytd", filters={"tier": ["三级"]})

    assert sorted(frame["code"]) == sorted(api["code"])
    merged = frame.merge(api, on="code", suffixes=("", "_api"))
    assert merged["value"].tolist() == pytest.approx(merged["value_api"].tolist(), nan_ok=True)
    assert merged["numerator"].tolist() == pytest.approx(merged["numerator_api"].tolist(), nan_ok=True)
    best = frame.loc[frame["rank"] == 1, "value"].iloc[0]
    assert best == api["value"].max()  # surplus rate: higher ranks first
    assert frame["peer_median"].dropna().unique().tolist() == pytest.approx([api["value"].median()])
    last_year = query(demo_engine, "surplus_rate", "hospital", rankings.c.year_earlier(period), span="ytd",
                      filters={"tier": ["三级"]})
    assert frame.set_index("code")["last_year"].to_dict() == pytest.approx(_by_code(last_year), nan_ok=True)


def _ranking_rows(*controls, request=None, search=None) -> dict:
    """The rows the rankings grid is sent for *controls*' view (the first 1 000 unless *request* says otherwise)."""
    return rankings.page_of_rows(request or {"startRow": 0, "endRow": 1000}, *controls, search, ZH)


def test_a_ranking_filter_changes_the_table(request_context, period):
    everyone = _ranking_rows("debt_ratio", "hospital", period, "month", None, [], [], [], [], "")
    tertiary = _ranking_rows("debt_ratio", "hospital", period, "month", None, ["三级"], [], [], [], "")
    assert tertiary["rowCount"] < everyone["rowCount"] == len(everyone["rowData"])
    assert {r["tier_label"] for r in tertiary["rowData"]} == {"三级"}
    # The grid is sent its size, not its rows: it asks page_of_rows for them.
    grid = rankings.update("debt_ratio", "hospital", period, "month", None, ["三级"], [], [], [], "", ZH)[1]
    assert grid.rowModelType == "infinite" and not getattr(grid, "rowData", None)
    assert grid.dashGridOptions["infiniteInitialRowCount"] == min(tertiary["rowCount"], 100)
    counties = _ranking_rows("alos", "county", period, "month", "220100", [], [], [], [], "")
    assert counties["rowCount"] and all(r["href"].startswith("/?") for r in counties["rowData"])


def test_the_rankings_grid_is_sent_in_blocks_searched_and_sorted_on_the_server(request_context, period):
    controls = ("debt_ratio", "hospital", period, "month", None, [], [], [], [], "")
    everyone = _ranking_rows(*controls)["rowData"]
    block = _ranking_rows(*controls, request={"startRow": 20, "endRow": 30})
    assert block["rowData"] == everyone[20:30] and block["rowCount"] == len(everyone)
    name = everyone[7]["name"]
    found = _ranking_rows(*controls, search=name[-6:])
    assert name in [r["name"] for r in found["rowData"]]
    assert found["rowCount"] == sum(name[-6:] in r["name"] for r in everyone)
    by_value = _ranking_rows(*controls, request={"startRow": 0, "endRow": 1000,
                                                 "sortModel": [{"colId": "value", "sort": "asc"}]})["rowData"]
    values = [r["value"] for r in by_value if r["value"] is not None]
    assert values == sorted(values) and len(values) == sum(r["value"] is not None for r in everyone)
    high = _ranking_rows(*controls, request={"startRow": 0, "endRow": 1000, "filterModel": {
        "value": {"filterType": "number", "type": "greaterThan", "filter": 0.5}}})
    assert high["rowCount"] == sum(r["value"] is not None and r["value"] > 0.5 for r in everyone)


def test_ranking_downloads_equal_the_indicator_api(demo_engine, request_context, period):
    chosen = rankings.PAGE.read({"indicator": "medical_service_revenue_share", "level": "hospital", "period": period,
                                 "span": "quarter", "tier": "二级", "pilot": "0"})
    payload = rankings.download("csv", chosen)
    content = payload["content"]
    import base64

    raw = base64.b64decode(content)
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel on Chinese Windows reads UTF-8
    title, as_of = raw.decode("utf-8-sig").splitlines()[:2]  # what the file holds, then the table
    assert title.startswith("# 指标排名") and "医院级别=二级" in title and period in title
    assert as_of.startswith("# 数据截至")
    got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", skiprows=2, dtype={"code": str, "parent_code": str})
    api = query(demo_engine, "medical_service_revenue_share", "hospital", period, span="quarter",
                filters={"tier": ["二级"], "is_pilot": False})
    got, api = got.sort_values("code").reset_index(drop=True), api.sort_values("code").reset_index(drop=True)
    assert got["code"].tolist() == api["code"].tolist()
    assert got["value"].tolist() == pytest.approx(api["value"].tolist(), nan_ok=True)
    assert payload["filename"].endswith(".csv") and period in payload["filename"]

    xlsx = rankings.download("xlsx", chosen)
    sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(xlsx["content"]))).active
    assert "医院级别=二级" in sheet["A1"].value and "仅非试点医院" in sheet["A1"].value
    assert sheet["A2"].value.startswith("数据截至")


# ----------------------------------------------------------------------------------------- risk
def test_risk_rows_are_the_register_changes(demo_engine, request_context, period):
    api = risk_api.changes(demo_engine, period, filters={"tier": ["二级", "三级"]})
    frame = risk.changes_frame(demo_engine, period, ["deficit_12m", "debt_ratio_high"], ["red", "orange"], [],
                               None, ["二级", "三级"])
    wanted = api[api["rule"].isin(["deficit_12m", "debt_ratio_high"]) & api["level"].isin(["red", "orange"])]
    assert sorted(frame["episode_id"]) == sorted(wanted["episode_id"])
    assert all(h.startswith("/hospital/") for h in frame["href"])

    everything = risk.changes_frame(demo_engine, period, [], [], [], None, [])
    counts = risk.map_counts(everything)
    api_all = risk_api.changes(demo_engine, period)
    open_serious = api_all[api_all["status"].isin(["new", "persisting"]) & api_all["level"].isin(["red", "orange"])]
    assert counts["value"].sum() == len(open_serious)
    assert len(counts) == 10

    kpis, fig, table, _ = risk.update(period, [], [], ["new"], None, [], ZH)
    rows = risk.page_of_rows({"startRow": 0, "endRow": 10_000}, period, [], [], ["new"], None, [], None, ZH)
    assert {r["status"] for r in rows["rowData"]} == {"new"} and rows["rowCount"] == len(rows["rowData"])
    assert table.rowModelType == "infinite"
    assert find(kpis, "risk-kpi-new").children == integer((api_all["status"] == "new").sum())


def test_risk_export_lists_the_rows_shown(demo_engine, request_context, period):
    import base64

    payload = risk.download("csv", risk.PAGE.read({"period": period, "rule": "report_missing"}))
    raw = base64.b64decode(payload["content"])
    assert raw.decode("utf-8-sig").splitlines()[1].startswith("# 数据截至")
    got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", skiprows=2)
    api = risk_api.changes(demo_engine, period)
    assert len(got) == int((api["rule"] == "report_missing").sum())
    assert set(got["rule"]) <= {"report_missing"}
    # The columns of `opsmon risks list --format json` (tests/dashboard/test_signals_pages.py checks them all).
    assert list(got.columns[:3]) == ["hospital_code", "hospital_name", "adcode"]


# ----------------------------------------------------------------------------------------- targets
def test_targets_equal_the_evaluation(demo_engine, request_context, period):
    cards, fig, regions_grid, programme = targets.update(period, PROVINCE, ZH)
    evaluated = targets_api.evaluate(demo_engine, region=PROVINCE, as_of=period)
    for row in evaluated.itertuples():
        card = find(cards, f"target-card-{row.target_id}")
        assert card.children == percent(row.value)
    by_region = targets.by_region(demo_engine, PROVINCE, period)
    regions = pd.read_sql_query("SELECT CAST(adcode AS text) AS adcode FROM regions "
                                f"WHERE parent_adcode = '{PROVINCE}'", demo_engine)
    assert set(by_region["region"]) == set(regions["adcode"])  # every unit under the province, no other
    for code in regions["adcode"]:
        one = targets_api.evaluate(demo_engine, region=code, as_of=period)
        mine = by_region[by_region["region"] == code]
        assert mine["value"].tolist() == pytest.approx(one["value"].tolist(), nan_ok=True)
    assert len(regions_grid.rowData) == len(by_region)
    assert len(programme.rowData) == 11  # 10 regions under the province and the total


def test_progress_table_download_is_the_api_workbook(demo_engine, request_context, period):
    import base64

    payload = targets.send_progress(1, period, PROVINCE, ZH)
    sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(payload["content"]))).active
    assert sheet["A1"].value.startswith("运营管理建设进展情况表")


# ----------------------------------------------------------------------------------------- trends
def test_trend_lines_are_the_series_with_forecasts(demo_engine, request_context, period):
    main, yoy_fig, forecasts = trends.figures(demo_engine, "surplus_rate", [PROVINCE, "220100"], period, 24,
                                              "month")
    expected = series(demo_engine, "surplus_rate", PROVINCE, "2020-01", period).dropna(subset=["value"])
    line = next(tr for tr in main.data if tr.name == "吉林省")
    assert list(line.x) == expected["period"].tolist()
    assert list(line.y) == pytest.approx(expected["value"].tolist())
    assert len(forecasts) == 2 and all(f is not None for f in forecasts)

    # A targeted programme indicator gets the target line and a projection.
    main, _, forecasts = trends.figures(demo_engine, "ops_platform_coverage_tertiary", [PROVINCE], period, 12,
                                        "month")
    assert any(shape.line.dash == "dash" for shape in main.layout.shapes)


def test_trends_start_at_a_supervisors_own_region(app, demo_engine):
    # A prefecture supervisor may not see the province: the page opens on their prefecture, not empty.
    make_user(demo_engine, "trends-supervisor", "supervisor", "220200")
    with signed_in(app, demo_engine, "trends-supervisor"):
        options = {o["value"] for o in trends.unit_options(reporting.latest_period(demo_engine))}
        assert PROVINCE not in options and "220200" in options
        assert trends.PAGE.read({})["codes"] == ["220200"]
        assert trends.PAGE.read({"codes": PROVINCE})["codes"] == ["220200"]  # out of scope: dropped


# ----------------------------------------------------------------------------------------- submissions
def test_submission_monitor_lists_who_has_not_reported(demo_engine, request_context, period):
    missing = submissions.missing_hospitals(demo_engine, period, None)
    api = query(demo_engine, "hospitals_reporting", "hospital", period)
    assert sorted(missing["code"]) == sorted(api.loc[api["value"] == 0, "code"])

    rates = submissions.region_rates(demo_engine, period, None)
    prefectures = _by_code(query(demo_engine, "timely_rate", "prefecture", period))
    for row in rates[~rates["is_direct"]].itertuples():
        assert row.timely_rate == pytest.approx(prefectures[row.code])
    assert len(rates) == 10

    kpis, _, _, table, title, recent = submissions.update(period, None, ZH)
    assert find(kpis, "submissions-kpi-missing").children == integer(len(missing))
    # The list is sent in blocks: a block is the missing hospitals in order, each linking to its profile.
    block = submissions.page_of_rows({"startRow": 0, "endRow": 5}, period, None, ZH)
    assert block["rowCount"] == len(missing) and table.rowModelType == "infinite"
    assert [r["code"] for r in block["rowData"]] == list(missing["code"][:5])
    assert all(r["href"] == f"/hospital/{r['code']}?period={period}" for r in block["rowData"])
    assert len(recent.rowData) == min(submissions.RECENT, len(ingest_api.list_submissions(demo_engine, limit=500)))


# ----------------------------------------------------------------------------------------- no data at all
def test_every_page_has_a_friendly_empty_state(engine):
    app = create_app(engine)
    with signed_in(app, engine, make_user(engine)):
        outputs = [
            overview.update(None, "reporting_rate", {"lang": "zh", "region": PROVINCE}),
            rankings.update("surplus_rate", "hospital", None, "month", None, [], [], [], [], "", ZH),
            risk.update(None, [], [], [], None, [], ZH),
            targets.update(None, PROVINCE, ZH),
            trends.update("surplus_rate", [PROVINCE], None, 24, "month", ZH),
            submissions.update(None, None, ZH),
        ]
        for page in (overview, rankings, risk, targets, trends, submissions):
            page.layout()  # renders without data
    for output in outputs:
        assert "本期暂无数据" in str(output)
