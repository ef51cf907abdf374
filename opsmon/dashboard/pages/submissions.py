"""报送 Submission monitor: who has reported and on time, the 催报 list, the latest submissions.

URL: ``/submissions?period=YYYY-MM&region=<adcode>&lang=en``.

Rates by region are the catalogue's ``reporting_rate`` and ``timely_rate``
(:func:`opsmon.indicators.query`); the 催报 list is the hospitals whose
``hospitals_reporting`` is 0 for the month; recent submissions come from the
ingestion log (:func:`opsmon.ingest.api.list_submissions`). Uploading is on the
填报 page (``/upload``).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, exports, state
from opsmon.dashboard.figures import GRAPH_CONFIG, empty_figure, style_figure
from opsmon.dashboard.format import integer, percent, period_label, timestamp
from opsmon.dashboard.strings import t
from opsmon.indicators import reporting
from opsmon.ingest import api as ingest_api

PATH = "/submissions"
RATE_IDS = ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate"]
RECENT = 50


def register() -> None:
    dash.register_page(__name__, path=PATH, name="nav.submissions",
                       title=f"{t('nav.submissions')} · {t('app.title')}", layout=layout, order=45)


CONTROLS = [("submissions-period", "value", "period"), ("submissions-region", "value", "region")]


def read(query: dict, periods: list[str] | None = None) -> dict:
    periods = c.available_periods() if periods is None else periods
    return {"period": state.period(query.get("period"), periods),
            "region": state.choice(query.get("region"), set(c.regions()["adcode"]) - {c.province()}, None)}


def params(v: dict, view: dict | None = None) -> dict:
    return dict(v)


def layout(lang: str | None = None, **query: str) -> html.Div:
    lang = state.language(lang)
    periods = c.available_periods()
    v = read(query, periods)
    period, region = v["period"], v["region"]
    controls = dbc.Row([
        dbc.Col([dbc.Label(t("overview.period", lang), html_for="submissions-period"),
                 c.period_dropdown("submissions-period", periods, period, lang)], xs=12, md=4, xl=3),
        dbc.Col([dbc.Label(t("filter.region", lang), html_for="submissions-region"),
                 c.dropdown(lang, id="submissions-region", value=region, placeholder=c.whole_region_label(lang),
                              options=c.region_options(lang, include_root=False))], xs=12, md=4, xl=3),
    ], className="g-3 mb-3 align-items-end")
    upload = dcc.Link(t("submissions.upload_link", lang), href=state.href("/upload", lang),
                      className="btn btn-sm btn-primary")
    return html.Div([
        dcc.Location(id="submissions-url", refresh=False),
        dcc.Store(id="submissions-view", data={"lang": lang}),
        c.page_header(t("submissions.title", lang), t("submissions.subtitle", lang), actions=upload),
        controls,
        c.loading(html.Div(id="submissions-kpis", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("submissions.by_region", lang), [
                dcc.Loading(dcc.Graph(id="submissions-chart", config=GRAPH_CONFIG), type="dot", color="#1f4e79"),
                c.loading(html.Div(id="submissions-regions"))]), lg=6),
            dbc.Col(c.section(html.Span(id="submissions-missing-title"),
                              c.loading(html.Div(id="submissions-missing")),
                              actions=c.download_buttons("submissions", lang)), lg=6),
        ], className="g-3 mb-3"),
        c.section(t("submissions.recent", lang), c.loading(html.Div(id="submissions-recent"))),
    ])


# ----------------------------------------------------------------------------------------- data
def region_rates(engine, period: str, region: str | None) -> pd.DataFrame:
    """Expected, reporting, reporting and timely rates for the regions one level below the view (wide)."""
    regions = c.regions()
    province = c.province()
    parent = region or province
    level = regions.set_index("adcode")["level"].get(parent)
    # The view's children (prefecture level includes the directly run county-level cities); a county
    # shows its own row.
    child = {"nation": "province", "province": "prefecture", "prefecture": "county"}.get(level, "county")
    long = data.query(engine, RATE_IDS, child, period, region=parent)
    long = long[(long["parent_code"] == parent) | ((level == "county") & (long["code"] == parent))]
    wide = long.pivot(index=["code", "name", "parent_code"], columns="indicator", values="value").reset_index()
    wide.columns.name = None
    level_of = regions.set_index("adcode")["level"]
    wide["is_direct"] = wide["parent_code"].map(level_of).isin(["province", "nation"]) & (
        wide["code"].map(level_of) == "county")
    return wide.sort_values(["is_direct", "code"]).reset_index(drop=True)


def missing_hospitals(engine, period: str, region: str | None, lang: str = "zh") -> pd.DataFrame:
    """The 催报 list: open hospitals in view without a current report for *period*."""
    frame = data.query(engine, "hospitals_reporting", "hospital", period, region=region)
    frame = frame[frame["value"] == 0]
    regions = c.regions().set_index("adcode")
    return frame.assign(
        county=[regions["name"].get(p, "") for p in frame["parent_code"]],
        prefecture=[regions["name"].get(regions["geo_parent_adcode"].get(p), "") for p in frame["parent_code"]],
        href=[c.hospital_href(code, lang, period) for code in frame["code"]],
    ).sort_values(["parent_code", "name"]).reset_index(drop=True)


MISSING_EXPORT = [("name", "col.hospital", None), ("code", "col.hospital_code", "@"),
                  ("prefecture", "col.prefecture", None), ("county", "col.county", None),
                  ("period", "col.period", None), ("due", "col.due_date", None)]


def rates_chart(rates: pd.DataFrame, lang: str) -> go.Figure:
    if rates.empty:
        return empty_figure(t("data.none_period", lang))
    labels = rates["name"].where(~rates["is_direct"], rates["name"] + f"（{t('region.direct', lang)}）")
    fig = go.Figure()
    fig.add_bar(y=labels, x=rates["reporting_rate"], orientation="h", name=t("col.reporting_rate", lang),
                marker_color="#1f4e79", hovertemplate="%{y}: %{x:.1%}<extra></extra>",
                texttemplate="%{x:.0%}", textposition="inside")
    fig.add_bar(y=labels, x=rates["timely_rate"], orientation="h", name=t("col.timely_rate", lang),
                marker_color="#7fb3d5", hovertemplate="%{y}: %{x:.1%}<extra></extra>",
                texttemplate="%{x:.0%}", textposition="inside")
    style_figure(fig, max(300, 46 * len(rates) + 80))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(tickformat=".0%", range=[0, 1.02])
    fig.update_yaxes(autorange="reversed")
    return fig


def recent_table(engine, lang: str):
    frame = data.list_submissions(engine, limit=RECENT)
    if frame.empty:
        return html.Div(t("submissions.no_recent", lang), className="opsmon-empty-small")
    rows = pd.DataFrame({
        "id": frame["submission_id"],
        "received": [timestamp(x) if pd.notna(x) else "—" for x in frame["received_at"]],
        "file": frame["file_name"],
        "kind": [t(f"kind.{k}", lang) if isinstance(k, str) else "—" for k in frame["kind"]],
        "user": frame["username"],
        "status_text": [t(f"status.{s}", lang) for s in frame["status"]],
        "status": frame["status"],
        "rows": frame["rows_total"],
        "revisions": frame["revisions_created"],
        "errors": frame["n_errors"],
        "warnings": frame["n_warnings"],
    })
    columns = [
        {"field": "received", "headerName": t("history.received_at", lang), "minWidth": 160, "pinned": "left"},
        {"field": "status_text", "headerName": t("history.status", lang), "cellRenderer": "OpsmonPill",
         "cellRendererParams": {"classField": "status"}, "minWidth": 90},
        {"field": "file", "headerName": t("history.file_name", lang), "minWidth": 220, "tooltipField": "file"},
        {"field": "kind", "headerName": t("history.kind", lang), "minWidth": 150},
        {"field": "user", "headerName": t("history.username", lang), "minWidth": 100},
        c.number_column("rows", t("history.rows", lang), ",.0f", minWidth=70),
        c.number_column("revisions", t("history.revisions", lang), ",.0f", minWidth=80),
        c.number_column("errors", t("history.errors", lang), ",.0f", minWidth=70),
        c.number_column("warnings", t("history.warnings", lang), ",.0f", minWidth=70),
    ]
    return c.grid("submissions-recent-grid", rows.to_dict("records"), columns, lang, height=420,
                  getRowId="String(params.data.id)")


def _kpis(engine, period: str, region: str | None, missing: int, lang: str) -> dbc.Row:
    code = region or c.province()
    level = c.regions().set_index("adcode")["level"].get(code, "province")
    frame = data.query(engine, RATE_IDS, level, period, region=region)
    v = frame[frame["code"] == code].set_index("indicator")["value"].to_dict()
    due = ingest_api.due_date_for(engine, period)
    width = {"xs": 6, "md": 3}
    return dbc.Row([
        c.kpi(t("overview.kpi.reporting", lang), f"{integer(v.get('hospitals_reporting'))} / "
              f"{integer(v.get('hospitals_expected'))}", "submissions-kpi-reporting",
              sub=c.region_name(code), width=width),
        c.kpi(t("col.reporting_rate", lang), percent(v.get("reporting_rate")), "submissions-kpi-rate",
              width=width),
        c.kpi(t("col.timely_rate", lang), percent(v.get("timely_rate")), "submissions-kpi-timely",
              sub=t("submissions.due", lang).format(date=due.isoformat()), width=width),
        c.kpi(t("submissions.kpi.missing", lang), integer(missing), "submissions-kpi-missing",
              tone="bad" if missing else "good", width=width),
    ], className="g-3")


_INPUTS = [Input("submissions-period", "value"), Input("submissions-region", "value")]


@callback(Output("submissions-kpis", "children"), Output("submissions-chart", "figure"),
          Output("submissions-regions", "children"), Output("submissions-missing", "children"),
          Output("submissions-missing-title", "children"), Output("submissions-recent", "children"),
          *_INPUTS, State("submissions-view", "data"))
def update(period, region, view=None):
    lang = (view or {}).get("lang", "zh")
    engine = context.engine()
    recent = recent_table(engine, lang)
    if not period:
        return (c.empty(lang), empty_figure(t("data.none_period", lang)), None, c.empty(lang),
                t("submissions.missing", lang).format(n=0), recent)
    rates = region_rates(engine, period, region)
    missing = missing_hospitals(engine, period, region, lang)
    if missing.empty:
        missing_view = html.Div(t("submissions.all_reported", lang), className="opsmon-empty-small",
                                id="submissions-all-reported")
    else:
        columns = [c.link_column("name", t("col.hospital", lang), pinned="left", minWidth=200),
                   {"field": "prefecture", "headerName": t("col.prefecture", lang), "minWidth": 100},
                   {"field": "county", "headerName": t("col.county", lang), "minWidth": 100},
                   {"field": "code", "headerName": t("col.hospital_code", lang), "minWidth": 170}]
        missing_view = c.grid("submissions-missing-grid", missing[["code", "name", "href", "prefecture",
                                                                   "county"]].to_dict("records"),
                              columns, lang, height=None if len(missing) <= 12 else 420,
                              getRowId="params.data.code")
    labels = rates["name"].where(~rates["is_direct"], rates["name"] + f"（{t('region.direct', lang)}）")
    table_rows = rates.assign(label=labels)[["code", "label", "hospitals_expected", "hospitals_reporting",
                                             "reporting_rate", "timely_rate"]]
    table = c.grid("submissions-region-grid", table_rows.to_dict("records"), [
        {"field": "label", "headerName": t("col.name", lang), "pinned": "left", "minWidth": 140},
        c.number_column("hospitals_expected", t("col.hospitals_expected", lang), ",.0f"),
        c.number_column("hospitals_reporting", t("col.hospitals_reporting", lang), ",.0f"),
        c.number_column("reporting_rate", t("col.reporting_rate", lang), ".1%"),
        c.number_column("timely_rate", t("col.timely_rate", lang), ".1%"),
    ], lang, height=None, getRowId="params.data.code")
    return (_kpis(engine, period, region, len(missing), lang), rates_chart(rates, lang), table, missing_view,
            t("submissions.missing", lang).format(n=len(missing)), recent)


c.url_sync("submissions", CONTROLS, read, params)


@callback(Output("submissions-download", "data"), Input("submissions-csv", "n_clicks"),
          Input("submissions-xlsx", "n_clicks"), State("submissions-period", "value"),
          State("submissions-region", "value"), State("submissions-view", "data"), prevent_initial_call=True)
def send_download(_csv, _xlsx, period, region, view):
    if not period:
        raise PreventUpdate
    lang = (view or {}).get("lang", "zh")
    fmt = "xlsx" if dash.ctx.triggered_id == "submissions-xlsx" else "csv"
    engine = context.engine()
    frame = missing_hospitals(engine, period, region, lang).assign(
        due=ingest_api.due_date_for(engine, period).isoformat())
    as_of = reporting.data_as_of(engine)
    columns = [(col, t(key, lang), f) for col, key, f in MISSING_EXPORT]
    title = t("submissions.export_title", lang).format(period=period_label(period, lang))
    subtitle = t("filters.used", lang).format(filters=exports.filters_text({}, lang, region))
    content = exports.table(frame, columns, fmt, title=title, subtitle=subtitle, as_of=as_of, lang=lang)
    return exports.send(content, exports.file_name(t("submissions.file", lang), period, as_of=as_of, ext=fmt),
                        rows=len(frame))
