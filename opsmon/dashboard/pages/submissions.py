"""报送 Submission monitor: who has reported and on time, the 催报 list, the latest submissions.

URL: ``/submissions?period=YYYY-MM&region=<adcode>&lang=en``.

Rates by region are the catalogue's ``reporting_rate`` and ``timely_rate``
(:func:`opsmon.indicators.query`); the 催报 list is the hospitals whose
``hospitals_reporting`` is 0 for the month; recent submissions come from the
ingestion log (:func:`opsmon.ingest.api.list_submissions`). Uploading is on the
填报 page (``/upload``).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, exports, paged_grid, url_query
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import empty_figure, style_figure
from opsmon.dashboard.format import integer, percent, period_label, timestamp
from opsmon.dashboard.page import COLLECTING_PERIOD, REGION, Page
from opsmon.dashboard.strings import t
from opsmon.indicators import reporting
from opsmon.ingest import api as ingest_api

RATE_IDS = ["hospitals_expected", "hospitals_reporting", "reporting_rate", "timely_rate"]
RECENT = 50

PAGE = Page(__name__, path="/submissions", name_key="nav.submissions", permission="view_regions", order=45,
            period_status=True, controls={"period": COLLECTING_PERIOD, "region": REGION})
search_options = PAGE.search_options("submissions-region", c.region_choices)


@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    controls = dbc.Row([
        c.labelled("overview.period", c.period_dropdown("submissions-period", c.collecting_periods(), v["period"]),
                   "submissions-period", xs=12, md=4, xl=3),
        c.labelled("filter.region", c.region_dropdown("submissions-region", v["region"]), "submissions-region",
                   xs=12, md=4, xl=3),
    ], className="g-3 mb-3 align-items-end")
    upload = dcc.Link(t("submissions.upload_link"), href=url_query.href("/upload"), className="btn btn-sm btn-primary")
    return PAGE.frame(
        c.page_header(t("submissions.title"), t("submissions.subtitle"), actions=upload),
        controls,
        PAGE.status(v),
        c.loading(html.Div(id="submissions-kpis", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("submissions.by_region"), [
                c.graph("submissions-chart"), c.loading(html.Div(id="submissions-regions"))]), lg=6),
            dbc.Col(c.section(html.Span(id="submissions-missing-title"), c.loading(html.Div(id="submissions-missing")),
                              actions=PAGE.table_actions()), lg=6),
        ], className="g-3 mb-3"),
        c.section(t("submissions.recent"), c.loading(html.Div(id="submissions-recent"))),
    )


# ----------------------------------------------------------------------------------------- data
def region_rates(engine, period: str, region: str | None) -> pd.DataFrame:
    """Expected, reporting, reporting and timely rates for the regions one level below the view (wide)."""
    regions = c.regions()
    province = c.root_region()
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


@memo
def missing_hospitals(engine, period: str, region: str | None) -> pd.DataFrame:
    """The 催报 list: open hospitals in view without a current report for *period* (memoised: the grid's blocks
    read it)."""
    frame = data.query(engine, "hospitals_reporting", "hospital", period, region=region)
    frame = frame[frame["value"] == 0]
    regions = c.regions().set_index("adcode")
    return frame.assign(
        county=frame["parent_code"].map(regions["name"]).fillna(""),
        prefecture=frame["parent_code"].map(regions["geo_parent_adcode"]).map(regions["name"]).fillna(""),
    ).sort_values(["parent_code", "name"]).reset_index(drop=True)


def with_links(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """*frame*'s hospitals with the link to each one's profile (made per block, in the page's language)."""
    return frame.assign(href=c.hospital_hrefs(frame["code"], period))


MISSING_EXPORT = [("name", "col.hospital", None), ("code", "col.hospital_code", "@"),
                  ("prefecture", "col.prefecture", None), ("county", "col.county", None),
                  ("period", "col.period", None), ("due", "col.due_date", None)]


def rates_chart(rates: pd.DataFrame) -> go.Figure:
    if rates.empty:
        return empty_figure(t("data.none_period"))
    labels = rates["name"].where(~rates["is_direct"], c.direct_label(rates["name"]))
    fig = go.Figure()
    fig.add_bar(y=labels, x=rates["reporting_rate"], orientation="h", name=t("col.reporting_rate"),
                marker_color="#1f4e79", hovertemplate="%{y}: %{x:.1%}<extra></extra>",
                texttemplate="%{x:.0%}", textposition="inside")
    fig.add_bar(y=labels, x=rates["timely_rate"], orientation="h", name=t("col.timely_rate"),
                marker_color="#7fb3d5", hovertemplate="%{y}: %{x:.1%}<extra></extra>",
                texttemplate="%{x:.0%}", textposition="inside")
    style_figure(fig, max(300, 46 * len(rates) + 80))
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_xaxes(tickformat=".0%", range=[0, 1.02])
    fig.update_yaxes(autorange="reversed")
    return fig


def recent_table(engine):
    frame = data.list_submissions(engine, limit=RECENT)
    if frame.empty:
        return html.Div(t("submissions.no_recent"), className="opsmon-empty-small")
    rows = pd.DataFrame({
        "id": frame["submission_id"],
        # The grid's row id, as text (its expression language has no String(): rows would share "undefined").
        "row_id": [f"s{x}" for x in frame["submission_id"]],
        "received": [timestamp(x) if pd.notna(x) else "—" for x in frame["received_at"]],
        "file": frame["file_name"],
        "kind": [t(f"kind.{k}") if isinstance(k, str) else "—" for k in frame["kind"]],
        "user": frame["username"],
        "status_text": [t(f"status.{s}") for s in frame["status"]],
        "status": frame["status"],
        "rows": frame["rows_total"],
        "revisions": frame["revisions_created"],
        "errors": frame["n_errors"],
        "warnings": frame["n_warnings"],
    })
    columns = [
        c.column("received", "history.received_at", minWidth=160, pinned="left"),
        c.pill_column("status_text", "history.status", "status", minWidth=90),
        c.column("file", "history.file_name", minWidth=220, tooltipField="file"),
        c.column("kind", "history.kind", minWidth=150),
        c.column("user", "history.username", minWidth=100),
        c.number_column("rows", t("history.rows"), ",.0f", minWidth=70),
        c.number_column("revisions", t("history.revisions"), ",.0f", minWidth=80),
        c.number_column("errors", t("history.errors"), ",.0f", minWidth=70),
        c.number_column("warnings", t("history.warnings"), ",.0f", minWidth=70),
    ]
    return c.grid("submissions-recent-grid", rows.to_dict("records"), columns, height=420,
                  getRowId="params.data.row_id")


def _kpis(engine, period: str, region: str | None, missing: int) -> dbc.Row:
    code = region or c.root_region()
    level = c.regions().set_index("adcode")["level"].get(code, "province")
    frame = data.query(engine, RATE_IDS, level, period, region=region)
    v = frame[frame["code"] == code].set_index("indicator")["value"].to_dict()
    due = ingest_api.due_date_for(engine, period)
    width = {"xs": 6, "md": 3}
    return dbc.Row([
        c.kpi(t("overview.kpi.reporting"), f"{integer(v.get('hospitals_reporting'))} / "
              f"{integer(v.get('hospitals_expected'))}", "submissions-kpi-reporting",
              sub=c.region_name(code), width=width),
        c.kpi(t("col.reporting_rate"), percent(v.get("reporting_rate")), "submissions-kpi-rate", width=width),
        c.kpi(t("col.timely_rate"), percent(v.get("timely_rate")), "submissions-kpi-timely",
              sub=t("submissions.due").format(date=due.isoformat()), width=width),
        c.kpi(t("submissions.kpi.missing"), integer(missing), "submissions-kpi-missing",
              tone="bad" if missing else "good", width=width),
    ], className="g-3")


@PAGE.callback(Output("submissions-kpis", "children"), Output("submissions-chart", "figure"),
               Output("submissions-regions", "children"), Output("submissions-missing", "children"),
               Output("submissions-missing-title", "children"), Output("submissions-recent", "children"),
               *PAGE.inputs())
def update(period, region, view=None):
    """Rates by region, the 催报 list and the latest submissions."""
    engine = context.reader()
    recent = recent_table(engine)
    if not period:
        return (c.empty(), empty_figure(t("data.none_period")), None, c.empty(),
                t("submissions.missing").format(n=0), recent)
    rates = region_rates(engine, period, region)
    missing = missing_hospitals(engine, period, region)
    if missing.empty:
        missing_view = html.Div(t("submissions.all_reported"), className="opsmon-empty-small",
                                id="submissions-all-reported")
    else:
        columns = [c.link_column("name", t("col.hospital"), pinned="left", minWidth=200),
                   c.column("prefecture", "col.prefecture", minWidth=100),
                   c.column("county", "col.county", minWidth=100),
                   c.column("code", "col.hospital_code", minWidth=170)]
        # Sent empty, the rows asked for by blocks (page_of_rows): thousands nationally in a month being collected.
        missing_view = c.paged_grid("submissions-missing-grid", columns, row_count=len(missing), row_id="code",
                                    height=min(420, 90 + 42 * len(missing)))
    labels = rates["name"].where(~rates["is_direct"], c.direct_label(rates["name"]))
    table_rows = rates.assign(label=labels)[["code", "label", "hospitals_expected", "hospitals_reporting",
                                             "reporting_rate", "timely_rate"]]
    table = c.grid("submissions-region-grid", table_rows.to_dict("records"), [
        c.column("label", "col.name", pinned="left", minWidth=140),
        c.number_column("hospitals_expected", t("col.hospitals_expected"), ",.0f"),
        c.number_column("hospitals_reporting", t("col.hospitals_reporting"), ",.0f"),
        c.number_column("reporting_rate", t("col.reporting_rate"), ".1%"),
        c.number_column("timely_rate", t("col.timely_rate"), ".1%"),
    ], height=None, getRowId="params.data.code")
    return (_kpis(engine, period, region, len(missing)), rates_chart(rates), table, missing_view,
            t("submissions.missing").format(n=len(missing)), recent)


@PAGE.callback(Output("submissions-missing-grid", "getRowsResponse"), Input("submissions-missing-grid", "getRowsRequest"),
               *PAGE.inputs(as_state=True))
def page_of_rows(request, period, region, view=None):
    """The rows of the 催报 list the grid asks for, filtered and sorted as it says."""
    if not request or not period:
        raise PreventUpdate
    return paged_grid.rows(missing_hospitals(context.reader(), period, region), request,
                           fields=["code", "name", "href", "prefecture", "county"],
                           finish=lambda block: with_links(block, period))


@PAGE.download
def download(fmt: str, v: dict) -> dict:
    """The 催报 list (hospitals without a report, with the due date) as CSV or XLSX."""
    engine = context.reader()
    period, region = v["period"], v["region"]
    frame = missing_hospitals(engine, period, region).assign(due=ingest_api.due_date_for(engine, period).isoformat())
    as_of = reporting.data_as_of(engine)
    columns = [(col, t(key), f) for col, key, f in MISSING_EXPORT]
    title = t("submissions.export_title").format(period=period_label(period))
    subtitle = t("filters.used").format(filters=exports.filters_text({}, region))
    content = exports.table(frame, columns, fmt, title=title, subtitle=subtitle, as_of=as_of)
    return exports.send(content, exports.file_name(t("submissions.file"), period, as_of=as_of, ext=fmt),
                        rows=len(frame))
