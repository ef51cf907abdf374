"""总览 Overview: the province map by prefecture and a table by region for one month."""

from __future__ import annotations

from functools import lru_cache

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, callback, dcc, html

from opsmon import geo
from opsmon.dashboard import context
from opsmon.dashboard.figures import GRAPH_CONFIG, choropleth, empty_figure
from opsmon.dashboard.format import integer, percent
from opsmon.dashboard.strings import t
from opsmon.indicators import reporting

PATH = "/"
COLOR_BY = ("hospitals_expected", "reporting_rate")


def register() -> None:
    """Add this page to the app's page registry."""
    dash.register_page(__name__, path=PATH, name="nav.overview", title=t("app.title"), layout=layout, order=0)


@lru_cache(maxsize=8)
def province_geojson(province: str) -> dict:
    """Prefectures plus the county-level units the province administers directly.

    The direct units come last so they are drawn over the prefecture around them.
    """
    regions = geo.load_regions(province)
    direct = set(regions.loc[(regions["level"] == "county") & (regions["parent_adcode"] == province), "adcode"])
    counties = geo.load_geojson(province, "counties")["features"]
    features = geo.load_geojson(province, "prefectures")["features"] + [
        f for f in counties if f["properties"]["adcode"] in direct
    ]
    return {"type": "FeatureCollection", "features": features}


def layout(period: str | None = None, color: str | None = None, **_query: str) -> html.Div:
    """The page; ``?period=YYYY-MM&color=…`` in the URL restores a view."""
    periods = _periods()
    if period not in periods:
        period = periods[0] if periods else None
    color = color if color in COLOR_BY else COLOR_BY[0]
    controls = dbc.Row([
        dbc.Col([
            dbc.Label(t("overview.period"), html_for="overview-period"),
            dcc.Dropdown(id="overview-period", options=periods, value=period, clearable=False),
        ], md=3),
        dbc.Col([
            dbc.Label(t("overview.color_by")),
            dbc.RadioItems(
                id="overview-color",
                options=[{"label": t(f"col.{c}"), "value": c} for c in COLOR_BY],
                value=color, inline=True,
            ),
        ], md=5),
    ], className="mb-3 g-3 align-items-end")
    return html.Div([
        controls,
        html.Div(id="overview-kpis", className="mb-3"),
        dbc.Row([
            dbc.Col(dbc.Card(dbc.CardBody([
                html.Div(t("overview.map_title"), className="opsmon-section-title"),
                dcc.Loading(dcc.Graph(id="overview-map", config=GRAPH_CONFIG)),
            ])), lg=6),
            dbc.Col(dbc.Card(dbc.CardBody([
                html.Div(t("overview.table_title"), className="opsmon-section-title"),
                dcc.Loading(html.Div(id="overview-table")),
            ])), lg=6),
        ], className="g-3"),
    ])


def _periods() -> list[str]:
    """Months with data, newest first."""
    engine = context.engine()
    latest = reporting.latest_period(engine)
    if latest is None:
        return []
    months = pd.period_range(end=latest, periods=36, freq="M")
    return [str(p) for p in reversed(months)]


def _kpi(label: str, value: str, test_id: str) -> dbc.Col:
    return dbc.Col(dbc.Card(dbc.CardBody([
        html.Div(label, className="kpi-label"),
        html.Div(value, className="kpi-value", id=test_id),
    ]), className="opsmon-kpi h-100"), xs=6, md=3)


@callback(
    Output("overview-kpis", "children"),
    Output("overview-map", "figure"),
    Output("overview-table", "children"),
    Input("overview-period", "value"),
    Input("overview-color", "value"),
)
def update(period: str | None, color: str):
    """Refresh the cards, the map and the table for a month and a colouring."""
    engine = context.engine()
    if not period:
        empty = html.Div([html.H5(t("data.none")), html.P(t("data.none_hint"))], className="opsmon-empty")
        return empty, empty_figure(t("data.none")), html.Div(t("data.none"), className="opsmon-empty")
    province = reporting.province_code(engine)
    frame = reporting.children_summary(engine, province, period)
    # Direct units last: drawn over the prefecture whose territory surrounds them.
    frame = frame.assign(is_direct=frame["level"].eq("county")).sort_values(["is_direct", "code"])
    frame["label"] = frame["name"].where(~frame["is_direct"], frame["name"] + f"（{t('region.direct')}）")

    expected = int(frame["hospitals_expected"].sum())
    reporting_n = int(frame["hospitals_reporting"].sum())
    kpis = dbc.Row([
        _kpi(t("overview.kpi.hospitals"), integer(expected), "kpi-expected"),
        _kpi(t("overview.kpi.reporting"), integer(reporting_n), "kpi-reporting"),
        _kpi(t("overview.kpi.rate"), percent(reporting_n / expected if expected else None), "kpi-rate"),
        _kpi(t("overview.kpi.tertiary"), integer(frame["tertiary"].sum()), "kpi-tertiary"),
    ], className="g-3")

    is_rate = color == "reporting_rate"
    fig = choropleth(
        frame, province_geojson(province), color, hover_name="label",
        colorscale="RdYlGn" if is_rate else "Blues",
        value_format=".1%" if is_rate else ",.0f", title=t(f"col.{color}"),
    )
    if is_rate:
        fig.update_traces(zmin=0, zmax=1, colorbar_tickformat=".0%")

    rows = frame.assign(reporting_rate_text=frame["reporting_rate"].map(percent))
    table = dag.AgGrid(
        id="overview-grid",
        rowData=rows[["code", "label", "hospitals_expected", "tertiary", "secondary",
                      "hospitals_reporting", "reporting_rate_text"]].to_dict("records"),
        columnDefs=[
            {"field": "label", "headerName": t("col.name"), "pinned": "left", "minWidth": 170},
            {"field": "code", "headerName": t("col.code"), "minWidth": 90, "maxWidth": 110},
            {"field": "hospitals_expected", "headerName": t("col.hospitals_expected"), "type": "numericColumn"},
            {"field": "tertiary", "headerName": t("col.tertiary"), "type": "numericColumn", "minWidth": 80, "maxWidth": 100},
            {"field": "secondary", "headerName": t("col.secondary"), "type": "numericColumn", "minWidth": 80, "maxWidth": 100},
            {"field": "hospitals_reporting", "headerName": t("col.hospitals_reporting"), "type": "numericColumn"},
            {"field": "reporting_rate_text", "headerName": t("col.reporting_rate"), "type": "numericColumn"},
        ],
        defaultColDef={"sortable": True, "resizable": True},
        dashGridOptions={"domLayout": "autoHeight"},
        columnSize="sizeToFit",
    )
    return kpis, fig, table
