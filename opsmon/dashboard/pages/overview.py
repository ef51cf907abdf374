"""总览 Overview: the cockpit — KPI cards, a map that drills (nation →) province → prefecture → county → hospitals.

URL: ``/?period=YYYY-MM&indicator=<id>&region=<adcode>&lang=en``. ``region`` is
the unit in view: the nation (a national instance's default) maps its provinces; the province
(a provincial instance's default) maps its prefectures and the county-level
units it administers directly; a prefecture maps its counties; a county keeps its
prefecture's map (outlined) and lists its hospitals, each linking to its profile.
Clicking the map navigates one level down (a new URL, so the back button walks up
again); the breadcrumb walks up. ``color=`` is accepted for ``indicator=`` (older links).
"""

from __future__ import annotations

from functools import lru_cache

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsmon import geo
from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, state
from opsmon.dashboard.figures import GRAPH_CONFIG, empty_figure, region_map
from opsmon.dashboard.format import integer, money, percent, period_label
from opsmon.dashboard.pages.targets import evaluated
from opsmon.dashboard.strings import t
from opsmon.indicators import get

PATH = "/"
DEFAULT_INDICATOR = "reporting_rate"
KPI_IDS = ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate",
           "ops_platform_coverage_tertiary", "ops_platform_coverage_secondary", "deficit_hospitals",
           "deficit_hospital_share", "salary_arrears_hospitals", "salary_arrears_total"]


def register() -> None:
    """Add this page to the app's page registry."""
    dash.register_page(__name__, path=PATH, name="nav.overview", title=t("app.title"), layout=layout, order=0)


@lru_cache(maxsize=64)
def province_geojson(province: str) -> dict:
    """Prefectures plus the county-level units *province* administers directly.

    The direct units come last so they are drawn over the prefecture around them. A
    national instance without *province*'s own files draws its prefectures from the
    national layer (the direct units then have no outline).
    """
    if not geo.has_layer(province, "prefectures"):
        regions = geo.load_regions(geo.NATION)
        inside = set(regions.loc[regions["parent_adcode"] == province, "adcode"])
        features = [f for f in geo.load_geojson(geo.NATION, "prefectures")["features"] if f["id"] in inside]
        return {"type": "FeatureCollection", "features": features}
    regions = geo.load_regions(province)
    direct = set(regions.loc[(regions["level"] == "county") & (regions["parent_adcode"] == province), "adcode"])
    counties = geo.load_geojson(province, "counties")["features"]
    features = geo.load_geojson(province, "prefectures")["features"] + [
        f for f in counties if f["properties"]["adcode"] in direct
    ]
    return {"type": "FeatureCollection", "features": features}


@lru_cache(maxsize=64)
def prefecture_geojson(province: str, prefecture: str) -> dict:
    """The counties whose territory lies in *prefecture* (including any the province administers directly).

    Empty when *province*'s county boundaries are not shipped (a national instance ships none).
    """
    if not geo.has_layer(province, "counties"):
        return {"type": "FeatureCollection", "features": []}
    regions = geo.load_regions(province)
    inside = set(regions.loc[(regions["level"] == "county") & (regions["geo_parent_adcode"] == prefecture),
                             "adcode"])
    features = [f for f in geo.load_geojson(province, "counties")["features"] if f["properties"]["adcode"] in inside]
    return {"type": "FeatureCollection", "features": features}


def _level(code: str, regions: pd.DataFrame) -> str | None:
    hit = regions.loc[regions["adcode"] == code, "level"]
    return str(hit.iloc[0]) if len(hit) else None


def _chain(code: str, regions: pd.DataFrame) -> list[str]:
    """*code* and its reporting ancestors, province first."""
    by_code = regions.set_index("adcode")
    chain = []
    while code and code in by_code.index:
        chain.append(code)
        code = by_code.loc[code, "parent_adcode"]
    return list(reversed(chain))


CONTROLS = [("overview-period", "value", "period"), ("overview-indicator", "value", "indicator")]


def read(query: dict, periods: list[str] | None = None) -> dict:
    """The controls' values for a query string (``color`` is an older name of ``indicator``)."""
    periods = c.available_periods() if periods is None else periods
    return {"period": state.period(query.get("period"), periods),
            "indicator": state.indicator(query.get("indicator") or query.get("color"), DEFAULT_INDICATOR)}


def params(v: dict, view: dict | None = None) -> dict:
    region = (view or {}).get("region")
    return {"period": v["period"], "indicator": v["indicator"], "region": None if region == c.province() else region}


def layout(region: str | None = None, lang: str | None = None, **query: str) -> html.Div:
    """The page; the query string restores a view."""
    lang = state.language(lang)
    periods = c.available_periods()
    v = read(query, periods)
    period, indicator = v["period"], v["indicator"]
    regions = c.regions()
    # A supervisor's view starts at (and stays within) their own region.
    region = state.choice(region, c.regions_in_scope() or set(regions["adcode"]), c.home_region())
    controls = dbc.Row([
        dbc.Col([
            dbc.Label(t("overview.period", lang), html_for="overview-period"),
            c.period_dropdown("overview-period", periods, period, lang),
        ], xs=12, md=4, xl=3),
        dbc.Col([
            dbc.Label(t("overview.map_indicator", lang), html_for="overview-indicator"),
            c.indicator_dropdown("overview-indicator", indicator, lang),
        ], xs=12, md=6, xl=4),
    ], className="mb-3 g-3 align-items-end")
    return html.Div([
        dcc.Location(id="overview-url", refresh=False),
        dcc.Location(id="overview-nav", refresh="callback-nav"),
        dcc.Store(id="overview-view", data={"lang": lang, "region": region}),
        html.Div(id="overview-breadcrumb", className="mb-2"),
        controls,
        c.loading(html.Div(id="overview-kpis", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(html.Span(id="overview-map-title"), [
                dcc.Loading(dcc.Graph(id="overview-map", config=GRAPH_CONFIG), type="dot", color="#1f4e79"),
                html.Div(t("overview.map_hint", lang), className="opsmon-hint"),
            ]), lg=6),
            dbc.Col(c.section(html.Span(id="overview-table-title"), c.loading(html.Div(id="overview-table"))),
                    lg=6),
        ], className="g-3"),
    ])


# ----------------------------------------------------------------------------------------- KPI cards
def _target_line(engine, region: str, period: str, ind_id: str, lang: str, population: int = 1
                 ) -> tuple[str, str | None]:
    """'目标 100%（2027年12月）· 预计可达' for the nearest target not yet due, and a tone."""
    if population == 0:
        return t("overview.no_tier_hospitals", lang), None
    frame = evaluated(engine, region, period)
    rows = frame[frame["indicator"] == ind_id]
    if rows.empty:
        return t("overview.no_target", lang), None
    upcoming = rows[rows["months_left"] >= 0]
    row = (upcoming if len(upcoming) else rows).sort_values("due_period").iloc[0 if len(upcoming) else -1]
    verdict = t(f"target.status.{row['status']}", lang)
    tone = {"met": "good", "on_track": "good", "off_track": "bad", "missed": "bad"}.get(row["status"])
    text = t("overview.target_line", lang).format(target=percent(row["target"]),
                                                   due=period_label(row["due_period"], lang), verdict=verdict)
    return text, tone


def kpi_cards(engine, region: str, period: str, lang: str) -> dbc.Row:
    """The cockpit's cards for *region* (the province or a drilled-into region) and *period*."""
    regions = c.regions()
    level = _level(region, regions)
    top = region == c.province()
    frame = data.query(engine, KPI_IDS, level, period, region=region)
    row = frame[frame["code"] == region].set_index("indicator")
    v = row["value"].to_dict() if len(row) else {}
    population = row["expected"].to_dict() if len(row) else {}
    expected, reporting_n = v.get("hospitals_expected"), v.get("hospitals_reporting")
    scope = None if top else region
    changes = data.risk_changes(engine, period, region=scope)
    serious = changes[changes["level"].isin(["red", "orange"])]
    open_serious = serious[serious["status"].isin(["new", "persisting"])]
    new_serious = serious[serious["status"] == "new"]
    tertiary_line, tertiary_tone = _target_line(engine, region, period, "ops_platform_coverage_tertiary", lang,
                                                population.get("ops_platform_coverage_tertiary", 1))
    secondary_line, secondary_tone = _target_line(engine, region, period, "ops_platform_coverage_secondary", lang,
                                                  population.get("ops_platform_coverage_secondary", 1))
    link = lambda path, **params: state.href(path, lang, period=period, **params)  # noqa: E731
    region_param = None if top else region
    cards = [
        c.kpi(t("overview.kpi.hospitals", lang), integer(expected), "kpi-expected",
              sub=t("overview.kpi.hospitals_sub", lang).format(name=c.region_name(region, regions))),
        c.kpi(t("overview.kpi.reporting", lang), f"{integer(reporting_n)} / {integer(expected)}", "kpi-reporting",
              sub=t("overview.kpi.rate_line", lang).format(rate=percent(v.get("reporting_rate")),
                                                           timely=percent(v.get("timely_rate"))),
              href=link("/submissions", region=region_param)),
        c.kpi(t("overview.kpi.rate", lang), percent(v.get("reporting_rate")), "kpi-rate",
              sub=t("overview.kpi.timely", lang).format(timely=percent(v.get("timely_rate"))),
              href=link("/submissions", region=region_param)),
        c.kpi(t("overview.kpi.platform_tertiary", lang), percent(v.get("ops_platform_coverage_tertiary")),
              "kpi-platform-tertiary", sub=tertiary_line, tone=tertiary_tone,
              href=link("/targets", region=region_param)),
        c.kpi(t("overview.kpi.platform_secondary", lang), percent(v.get("ops_platform_coverage_secondary")),
              "kpi-platform-secondary", sub=secondary_line, tone=secondary_tone,
              href=link("/targets", region=region_param)),
        c.kpi(t("overview.kpi.deficit", lang), integer(v.get("deficit_hospitals")), "kpi-deficit",
              sub=t("overview.kpi.deficit_sub", lang).format(share=percent(v.get("deficit_hospital_share"))),
              tone="bad" if (v.get("deficit_hospitals") or 0) > 0 else None,
              href=link("/rankings", indicator="surplus_rate", span="ytd", level="hospital", region=region_param)),
        c.kpi(t("overview.kpi.risks", lang), integer(len(open_serious)), "kpi-risks",
              sub=t("overview.kpi.risks_sub", lang).format(n=open_serious["hospital_code"].nunique()),
              badge=dbc.Badge(t("overview.kpi.new_badge", lang).format(n=len(new_serious)), color="danger",
                              pill=True, id="kpi-risks-new") if len(new_serious) else None,
              tone="bad" if len(open_serious) else None,
              href=link("/risk", region=region_param, risk_level=["red", "orange"])),
        c.kpi(t("overview.kpi.arrears", lang), integer(v.get("salary_arrears_hospitals")), "kpi-arrears",
              sub=t("overview.kpi.arrears_sub", lang).format(total=money(v.get("salary_arrears_total"), lang)),
              tone="bad" if (v.get("salary_arrears_hospitals") or 0) > 0 else None,
              href=link("/risk", region=region_param, rule="salary_arrears")),
    ]
    return dbc.Row(cards, className="g-3")


# ----------------------------------------------------------------------------------------- map and table
def map_frame(engine, region: str, period: str, indicator: str, lang: str) -> tuple[pd.DataFrame, dict, str | None]:
    """The regions drawn for the view at *region*: frame (code, label, value, reporting, expected), geojson, highlight.

    The nation maps its provinces; a province its prefecture-level units (with the county-level
    cities it runs directly); a prefecture its counties; a county its prefecture's counties, itself outlined.
    """
    regions = c.regions()
    level_of = regions.set_index("adcode")["level"]
    level = _level(region, regions)
    direct_label = t("region.direct", lang)
    if level == "nation":
        frame = data.query(engine, indicator, "province", period).assign(is_direct=False)
        geojson, highlight = geo.load_geojson(geo.NATION, "provinces"), None
    elif level == "province":
        # Prefecture level includes the county-level cities the province runs directly.
        frame = data.query(engine, indicator, "prefecture", period, region=region)
        frame["is_direct"] = frame["code"].map(level_of) == "county"
        geojson, highlight = province_geojson(region), None
    else:
        prefecture = region if level == "prefecture" else regions.set_index("adcode").loc[region, "geo_parent_adcode"]
        province = geo.province_of(prefecture)
        geojson = prefecture_geojson(province, prefecture)
        inside = set(regions.loc[(regions["level"] == "county") & (regions["geo_parent_adcode"] == prefecture),
                                 "adcode"])
        # The whole province's counties: a directly run county reports to the province, not the prefecture.
        counties = data.query(engine, indicator, "county", period, region=province)
        frame = counties[counties["code"].isin(inside)].assign(
            is_direct=lambda f: f["parent_code"].map(level_of) == "province")
        highlight = region if level == "county" else None
    frame = frame.sort_values(["is_direct", "code"]).reset_index(drop=True)
    frame["label"] = frame["name"].where(~frame["is_direct"], frame["name"] + f"（{direct_label}）")
    return frame, geojson, highlight


def _breadcrumb(region: str, period: str, indicator: str, lang: str) -> dbc.Breadcrumb:
    regions = c.regions()
    chain = _chain(region, regions)
    province = c.province()
    items = []
    for code in chain:
        name = c.region_name(code, regions)
        parent = regions.set_index("adcode").loc[code, "parent_adcode"]
        if parent is not None and _level(parent, regions) == "province" and _level(code, regions) == "county":
            name += f"（{t('region.direct', lang)}）"
        href = state.href("/", lang, period=period, indicator=indicator,
                          region=None if code == province else code)
        items.append({"label": name, "href": href, "active": code == region})
    return dbc.Breadcrumb(items=items, id="overview-crumbs", class_name="opsmon-breadcrumb mb-0")


def _table(engine, region: str, period: str, indicator: str, lang: str, frame: pd.DataFrame):
    """Rows for the table: the mapped regions, or a county's hospitals with links to their profiles."""
    ind = get(indicator)
    regions = c.regions()
    fmt = ".1%" if ind.unit == "%" else f",.{ind.decimals}f"
    if _level(region, regions) == "county":
        ids = list(dict.fromkeys([indicator, "reporting_rate"]))
        hosp = data.query(engine, ids, "hospital", period, region=region)
        wide = hosp.pivot(index=["code", "name"], columns="indicator", values="value").reset_index()
        wide.columns.name = None
        wide["value"] = wide[indicator]
        wide["href"] = [c.hospital_href(code, lang, period) for code in wide["code"]]
        wide["reported"] = wide["reporting_rate"].map(
            lambda x: t("common.yes", lang) if x == 1 else t("overview.not_reported", lang))
        rows = wide[["code", "name", "href", "value", "reported"]]
        columns = [
            c.link_column("name", t("col.hospital", lang), pinned="left", minWidth=200),
            c.number_column("value", c.indicator_title(indicator, lang), fmt, minWidth=110),
            {"field": "reported", "headerName": t("col.reported", lang), "minWidth": 90},
            {"field": "code", "headerName": t("col.hospital_code", lang), "minWidth": 170},
        ]
        title = t("overview.hospitals_in", lang).format(name=c.region_name(region, regions), n=len(rows))
        return c.grid("overview-grid", rows.to_dict("records"), columns, lang, height=None, filters=False), title
    rows = frame.assign(rate=frame["reporting"] / frame["expected"].where(frame["expected"] > 0))
    rows = rows[["code", "label", "value", "reporting", "expected", "rate"]]
    columns = [
        {"field": "label", "headerName": t("col.name", lang), "pinned": "left", "minWidth": 150},
        c.number_column("value", c.indicator_title(indicator, lang), fmt, minWidth=110),
        c.number_column("reporting", t("col.hospitals_reporting", lang), ",.0f", minWidth=100),
        c.number_column("expected", t("col.hospitals_expected", lang), ",.0f", minWidth=100),
        c.number_column("rate", t("col.coverage", lang), ".1%", minWidth=100),
        {"field": "code", "headerName": t("col.code", lang), "minWidth": 90, "maxWidth": 110},
    ]
    return (c.grid("overview-grid", rows.to_dict("records"), columns, lang, height=None, filters=False),
            t("overview.table_title", lang))


@callback(
    Output("overview-kpis", "children"),
    Output("overview-map", "figure"),
    Output("overview-table", "children"),
    Output("overview-breadcrumb", "children"),
    Output("overview-map-title", "children"),
    Output("overview-table-title", "children"),
    Input("overview-period", "value"),
    Input("overview-indicator", "value"),
    State("overview-view", "data"),
)
def update(period: str | None, indicator: str | None, view: dict | None = None):
    """Cards, map, table, breadcrumb and titles for a month, a map indicator and the region in view."""
    engine = context.engine()
    view = view or {}
    lang = view.get("lang", "zh")
    region = view.get("region") or c.home_region()
    indicator = indicator or DEFAULT_INDICATOR
    if not period:
        return (c.empty(lang), empty_figure(t("data.none_period", lang)), c.empty(lang), None,
                t("overview.map_title", lang), t("overview.table_title", lang))
    ind = get(indicator)
    frame, geojson, highlight = map_frame(engine, region, period, indicator, lang)
    if not geojson["features"]:
        fig = empty_figure(t("overview.no_boundaries", lang))
    elif frame["value"].notna().any():
        fig = region_map(frame, geojson, ind, title=ind.label(lang), highlight=highlight,
                         coverage_text=t("col.coverage_short", lang))
    else:
        fig = empty_figure(t("data.none_period", lang))
    table, table_title = _table(engine, region, period, indicator, lang, frame)
    regions = c.regions()
    level = _level(region, regions)
    map_title = t("overview.map_title_at", lang).format(
        name=c.region_name(region if level != "county" else
                           regions.set_index("adcode").loc[region, "geo_parent_adcode"], regions),
        indicator=ind.label(lang), period=period_label(period, lang))
    return (kpi_cards(engine, region, period, lang), fig, table, _breadcrumb(region, period, indicator, lang),
            map_title, table_title)


c.url_sync("overview", CONTROLS, read, params)


def drill_target(location: str | None, regions: pd.DataFrame) -> str | None:
    """The region a click on *location* opens: a province (national map), prefecture or county (None otherwise)."""
    return location if _level(location, regions) in ("province", "prefecture", "county") else None


@callback(Output("overview-nav", "search"), Input("overview-map", "clickData"),
          State("overview-period", "value"), State("overview-indicator", "value"), State("overview-view", "data"),
          prevent_initial_call=True)
def drill(click: dict | None, period: str | None, indicator: str | None, view: dict | None):
    """A click on a region opens it: prefecture → its counties, county → its hospitals."""
    if not click or not click.get("points"):
        raise PreventUpdate
    target = drill_target(click["points"][0].get("location"), c.regions())
    if target is None or target == (view or {}).get("region"):
        raise PreventUpdate
    return state.search({"period": period, "indicator": indicator, "region": target,
                         "lang": (view or {}).get("lang")})
