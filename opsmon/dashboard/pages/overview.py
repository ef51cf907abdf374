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

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from opsmon import geo
from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, todo, url_query
from opsmon.dashboard.figures import empty_figure, region_map
from opsmon.dashboard.format import d3_format, integer, money, percent, period_label
from opsmon.dashboard.outlines import outline
from opsmon.dashboard.page import PERIOD, Control, Page
from opsmon.dashboard.strings import current_language, t
from opsmon.indicators import get

DEFAULT_INDICATOR = "reporting_rate"
KPI_IDS = ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate",
           "ops_platform_coverage_tertiary", "ops_platform_coverage_secondary", "deficit_hospitals",
           "deficit_hospital_share", "salary_arrears_hospitals", "salary_arrears_total"]


def _region_param(view: dict) -> dict:
    """The region in view, in the URL (left out for the served province itself)."""
    region = view.get("region")
    return {"region": None if region == c.root_region() else region}


PAGE = Page(__name__, path="/", name_key="nav.overview", permission="view_regions", order=0, period_status=True,
            controls={
    "period": PERIOD,
    # ``color`` is an older name of ``indicator``.
    "indicator": Control(lambda q: url_query.indicator(q.get("indicator") or q.get("color"), DEFAULT_INDICATOR)),
}, url_extra=_region_param)


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


@PAGE.layout
def layout(v: dict, region: str | None = None, **_query: str) -> html.Div:
    """The page; the query string restores a view."""
    # A supervisor's view starts at (and stays within) their own region.
    region = url_query.choice(region, c.regions_in_scope() or set(c.regions()["adcode"]), c.home_region())
    controls = dbc.Row([
        c.labelled("overview.period", c.period_dropdown("overview-period", c.available_periods(), v["period"]),
                   "overview-period", xs=12, md=4, xl=3),
        c.labelled("overview.map_indicator", c.indicator_dropdown("overview-indicator", v["indicator"]),
                   "overview-indicator", xs=12, md=6, xl=4),
    ], className="mb-3 g-3 align-items-end")
    return PAGE.frame(
        dcc.Location(id="overview-nav", refresh="callback-nav"),
        html.Div(id="overview-breadcrumb", className="mb-2"),
        controls,
        PAGE.status(v, {"region": region}),
        todo.panel("overview"),  # the user's risk-disposal to-do, overdue first: where a region user lands
        c.loading(html.Div(id="overview-kpis", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(html.Span(id="overview-map-title"), [
                c.graph("overview-map"), html.Div(t("overview.map_hint"), className="opsmon-hint"),
            ]), lg=6),
            dbc.Col(c.section(html.Span(id="overview-table-title"), c.loading(html.Div(id="overview-table"))),
                    lg=6),
        ], className="g-3"),
        region=region,
    )


# ----------------------------------------------------------------------------------------- KPI cards
def _target_line(engine, region: str, period: str, ind_id: str, population: int = 1
                 ) -> tuple[str, str | None]:
    """'目标 50.0%（2025年12月）· 逾期未达标' or '目标 100.0%（2027年12月）· 预计按期达标', and a tone.

    A missed target (逾期未达标: due and unmet) comes first — the longest overdue — so that a later
    target does not hide it; else the nearest target not yet due; else the last one (met).
    """
    if population == 0:
        return t("overview.no_tier_hospitals"), None
    frame = c.evaluated_targets(engine, region, period)
    rows = frame[frame["indicator"] == ind_id].sort_values("due_period")
    if rows.empty:
        return t("overview.no_target"), None
    missed = rows[rows["status"] == "missed"]
    upcoming = rows[rows["months_left"] >= 0]
    row = missed.iloc[0] if len(missed) else upcoming.iloc[0] if len(upcoming) else rows.iloc[-1]
    verdict = t(f"target.status.{row['status']}")
    tone = {"met": "good", "on_track": "good", "off_track": "bad", "missed": "bad"}.get(row["status"])
    text = t("overview.target_line").format(target=percent(row["target"]), due=period_label(row["due_period"]),
                                            verdict=verdict)
    return text, tone


def kpi_cards(engine, region: str, period: str) -> dbc.Row:
    """The cockpit's cards for *region* (the province or a drilled-into region) and *period*."""
    regions = c.regions()
    level = _level(region, regions)
    top = region == c.root_region()
    frame = data.query(engine, KPI_IDS, level, period, region=region)
    row = frame[frame["code"] == region].set_index("indicator")
    v = row["value"].to_dict() if len(row) else {}
    approx = row["approx"].to_dict() if len(row) else {}
    population = row["expected"].to_dict() if len(row) else {}
    expected, reporting_n = v.get("hospitals_expected"), v.get("hospitals_reporting")
    scope = None if top else region
    serious = data.risk_tally(engine, period, levels=["red", "orange"], region=scope)
    tertiary_line, tertiary_tone = _target_line(engine, region, period, "ops_platform_coverage_tertiary",
                                                population.get("ops_platform_coverage_tertiary", 1))
    secondary_line, secondary_tone = _target_line(engine, region, period, "ops_platform_coverage_secondary",
                                                  population.get("ops_platform_coverage_secondary", 1))
    link = lambda path, **params: url_query.href(path, period=period, **params)  # noqa: E731
    region_param = None if top else region
    cards = [
        c.kpi(t("overview.kpi.hospitals"), integer(expected), "kpi-expected",
              sub=t("overview.kpi.hospitals_sub").format(name=c.region_name(region, regions))),
        c.kpi(t("overview.kpi.reporting"), f"{integer(reporting_n)} / {integer(expected)}", "kpi-reporting",
              sub=t("overview.kpi.rate_line").format(rate=percent(v.get("reporting_rate")),
                                                     timely=percent(v.get("timely_rate"))),
              href=link("/submissions", region=region_param)),
        c.kpi(t("overview.kpi.rate"), percent(v.get("reporting_rate")), "kpi-rate",
              sub=t("overview.kpi.timely").format(timely=percent(v.get("timely_rate"))),
              href=link("/submissions", region=region_param)),
        c.kpi(t("overview.kpi.platform_tertiary"), percent(v.get("ops_platform_coverage_tertiary")),
              "kpi-platform-tertiary", sub=tertiary_line, tone=tertiary_tone,
              badge=_mark("ops_platform_coverage_tertiary", approx),
              href=link("/targets", region=region_param)),
        c.kpi(t("overview.kpi.platform_secondary"), percent(v.get("ops_platform_coverage_secondary")),
              "kpi-platform-secondary", sub=secondary_line, tone=secondary_tone,
              badge=_mark("ops_platform_coverage_secondary", approx),
              href=link("/targets", region=region_param)),
        c.kpi(t("overview.kpi.deficit"), integer(v.get("deficit_hospitals")), "kpi-deficit",
              sub=t("overview.kpi.deficit_sub").format(share=percent(v.get("deficit_hospital_share"))),
              tone="bad" if (v.get("deficit_hospitals") or 0) > 0 else None, badge=_mark("deficit_hospitals", approx),
              href=link("/rankings", indicator="surplus_rate", span="ytd", level="hospital", region=region_param)),
        c.kpi(t("overview.kpi.risks"), integer(serious.open), "kpi-risks",
              sub=t("overview.kpi.risks_sub").format(n=serious.hospitals),
              badge=dbc.Badge(t("overview.kpi.new_badge").format(n=serious.new), color="danger",
                              pill=True, id="kpi-risks-new") if serious.new else None,
              tone="bad" if serious.open else None,
              href=link("/risk", region=region_param, risk_level=["red", "orange"])),
        c.kpi(t("overview.kpi.arrears"), integer(v.get("salary_arrears_hospitals")), "kpi-arrears",
              sub=t("overview.kpi.arrears_sub").format(total=money(v.get("salary_arrears_total"))),
              tone="bad" if (v.get("salary_arrears_hospitals") or 0) > 0 else None,
              badge=_mark("salary_arrears_total", approx),
              href=link("/risk", region=region_param, rule="salary_arrears")),
    ]
    return dbc.Row(cards, className="g-3")


def _mark(ind_id: str, approx: dict) -> html.Sup | None:
    """The 近似 badge of a card whose value is approximate (:func:`components.approx_badge`)."""
    return c.approx_badge(get(ind_id), approx.get(ind_id), id=f"kpi-approx-{ind_id}")


# ----------------------------------------------------------------------------------------- map and table
def map_frame(engine, region: str, period: str, indicator: str) -> tuple[pd.DataFrame, dict, str, str | None]:
    """The regions drawn for the view at *region*: frame (code, label, value, reporting, expected), geojson,
    its URL (:func:`~opsmon.dashboard.outlines.outline`), highlight.

    The nation maps its provinces; a province its prefecture-level units (with the county-level
    cities it runs directly); a prefecture its counties; a county its prefecture's counties, itself outlined.
    """
    regions = c.regions()
    level_of = regions.set_index("adcode")["level"]
    level = _level(region, regions)
    if level == "nation":
        frame = data.query(engine, indicator, "province", period).assign(is_direct=False)
        (geojson, url), highlight = outline("units", region), None
    elif level == "province":
        # Prefecture level includes the county-level cities the province runs directly.
        frame = data.query(engine, indicator, "prefecture", period, region=region)
        frame["is_direct"] = frame["code"].map(level_of) == "county"
        (geojson, url), highlight = outline("units", region), None
    else:
        prefecture = region if level == "prefecture" else regions.set_index("adcode").loc[region, "geo_parent_adcode"]
        province = geo.province_of(prefecture)
        geojson, url = outline("prefecture", prefecture)
        inside = set(regions.loc[(regions["level"] == "county") & (regions["geo_parent_adcode"] == prefecture),
                                 "adcode"])
        # The whole province's counties: a directly run county reports to the province, not the prefecture.
        counties = data.query(engine, indicator, "county", period, region=province)
        frame = counties[counties["code"].isin(inside)].assign(
            is_direct=lambda f: f["parent_code"].map(level_of) == "province")
        highlight = region if level == "county" else None
    frame = frame.sort_values(["is_direct", "code"]).reset_index(drop=True)
    frame["label"] = frame["name"].where(~frame["is_direct"], c.direct_label(frame["name"]))
    return frame, geojson, url, highlight


def _breadcrumb(region: str, period: str, indicator: str) -> dbc.Breadcrumb:
    regions = c.regions()
    chain = _chain(region, regions)
    province = c.root_region()
    items = []
    for code in chain:
        name = c.region_name(code, regions)
        parent = regions.set_index("adcode").loc[code, "parent_adcode"]
        if parent is not None and _level(parent, regions) == "province" and _level(code, regions) == "county":
            name = c.direct_label(name)
        href = url_query.href("/", period=period, indicator=indicator, region=None if code == province else code)
        items.append({"label": name, "href": href, "active": code == region})
    return dbc.Breadcrumb(items=items, id="overview-crumbs", class_name="opsmon-breadcrumb mb-0")


def _table(engine, region: str, period: str, indicator: str, frame: pd.DataFrame):
    """Rows for the table: the mapped regions, or a county's hospitals with links to their profiles."""
    ind = get(indicator)
    regions = c.regions()
    fmt = d3_format(ind)
    if _level(region, regions) == "county":
        ids = list(dict.fromkeys([indicator, "reporting_rate"]))
        hosp = data.query(engine, ids, "hospital", period, region=region)
        wide = hosp.pivot(index=["code", "name"], columns="indicator", values="value").reset_index()
        wide.columns.name = None
        wide["value"] = wide[indicator]
        approx = hosp[hosp["indicator"] == indicator].set_index("code")["approx"]
        wide["approx"] = wide["code"].map(approx)
        wide = c.with_approx(wide, ind, hospital=True)
        wide["href"] = c.hospital_hrefs(wide["code"], period)
        wide["reported"] = wide["reporting_rate"].map(
            lambda x: t("common.yes") if x == 1 else t("overview.not_reported"))
        rows = wide[["code", "name", "href", "value", "approx_text", "approx_tip", "reported"]]
        columns = [
            c.link_column("name", t("col.hospital"), pinned="left", minWidth=200),
            c.number_column("value", c.indicator_title(indicator), fmt, minWidth=110),
            c.approx_column(),
            c.column("reported", "col.reported", minWidth=90),
            c.column("code", "col.hospital_code", minWidth=170),
        ]
        title = t("overview.hospitals_in").format(name=c.region_name(region, regions), n=len(rows))
        return c.grid("overview-grid", rows.to_dict("records"), columns, height=None, filters=False), title
    rows = c.with_approx(frame.assign(rate=frame["reporting"] / frame["expected"].where(frame["expected"] > 0)), ind)
    rows = rows[["code", "label", "value", "approx_text", "approx_tip", "reporting", "expected", "rate"]]
    columns = [
        c.column("label", "col.name", pinned="left", minWidth=150),
        c.number_column("value", c.indicator_title(indicator), fmt, minWidth=110),
        c.approx_column(),
        c.number_column("reporting", t("col.hospitals_reporting"), ",.0f", minWidth=100),
        c.number_column("expected", t("col.hospitals_expected"), ",.0f", minWidth=100),
        c.number_column("rate", t("col.coverage"), ".1%", minWidth=100),
        c.column("code", "col.code", minWidth=90, maxWidth=110),
    ]
    return (c.grid("overview-grid", rows.to_dict("records"), columns, height=None, filters=False),
            t("overview.table_title"))


@PAGE.callback(
    Output("overview-kpis", "children"),
    Output("overview-map", "figure"),
    Output("overview-table", "children"),
    Output("overview-breadcrumb", "children"),
    Output("overview-map-title", "children"),
    Output("overview-table-title", "children"),
    Input("overview-period", "value"),
    Input("overview-indicator", "value"),
)
def update(period: str | None, indicator: str | None, view: dict | None = None):
    """Cards, map, table, breadcrumb and titles for a month, a map indicator and the region in view."""
    engine = context.reader()
    region = (view or {}).get("region") or c.home_region()
    indicator = indicator or DEFAULT_INDICATOR
    if not period:
        return (c.empty(), empty_figure(t("data.none_period")), c.empty(), None,
                t("overview.map_title"), t("overview.table_title"))
    ind = get(indicator)
    frame, geojson, url, highlight = map_frame(engine, region, period, indicator)
    if not geojson["features"]:
        fig = empty_figure(t("overview.no_boundaries"))
    elif frame["value"].notna().any():
        fig = region_map(frame, url, ind, title=c.label(ind), highlight=highlight,
                         coverage_text=t("col.coverage_short"), approx_note=c.approx_text(ind))
    else:
        fig = empty_figure(t("data.none_period"))
    table, table_title = _table(engine, region, period, indicator, frame)
    regions = c.regions()
    level = _level(region, regions)
    map_title = t("overview.map_title_at").format(
        name=c.region_name(region if level != "county" else
                           regions.set_index("adcode").loc[region, "geo_parent_adcode"], regions),
        indicator=c.label(ind), period=period_label(period))
    return (kpi_cards(engine, region, period), fig, table, _breadcrumb(region, period, indicator),
            map_title, table_title)


def drill_target(location: str | None, regions: pd.DataFrame) -> str | None:
    """The region a click on *location* opens: a province (national map), prefecture or county (None otherwise)."""
    return location if _level(location, regions) in ("province", "prefecture", "county") else None


@PAGE.callback(Output("overview-nav", "search"), Input("overview-map", "clickData"),
               State("overview-period", "value"), State("overview-indicator", "value"), prevent_initial_call=True)
def drill(click: dict | None, period: str | None, indicator: str | None, view: dict | None):
    """A click on a region opens it: prefecture → its counties, county → its hospitals."""
    if not click or not click.get("points"):
        raise PreventUpdate
    target = drill_target(click["points"][0].get("location"), c.regions())
    if target is None or target == (view or {}).get("region"):
        raise PreventUpdate
    return url_query.search({"period": period, "indicator": indicator, "region": target, "lang": current_language()})
