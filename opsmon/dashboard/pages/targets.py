"""目标 Target tracker: each target's current value, gap, projection to its due month and verdict.

URL: ``/targets?period=YYYY-MM&region=<adcode>&lang=en``.

Everything comes from :func:`opsmon.indicators.targets.evaluate` (for the region
in view, and for each region directly under it — "by region"; a target with a
tier is evaluated on that tier's hospitals — "by tier"), the programme counts
from :func:`opsmon.indicators.export.progress_table`, and the 进展情况表 download
from :func:`opsmon.indicators.export.progress_table_xlsx`.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, exports, state
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import PALETTE, empty_figure, month_axis, style_figure
from opsmon.dashboard.format import percent, period_label
from opsmon.dashboard.page import PERIOD, Control, Page
from opsmon.dashboard.strings import current_language, t
from opsmon.indicators import get, reporting
from opsmon.indicators.programme import PROGRAMME_IDS


def _region(query) -> str:
    """The region in view: the served one, or a prefecture-level unit under it (targets are not set for counties)."""
    regions = c.regions()
    return state.choice(query.get("region"), set(regions.loc[regions["level"] != "county", "adcode"]), c.root_region())


PAGE = Page(__name__, path="/targets", name_key="nav.targets", permission="view_regions", order=40,
            controls={"period": PERIOD, "region": Control(_region, omit=c.root_region)})


@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    controls = dbc.Row([
        c.labelled("overview.period", c.period_dropdown("targets-period", c.available_periods(), v["period"]),
                   "targets-period", xs=12, md=4, xl=3),
        c.labelled("filter.region", c.dropdown(id="targets-region", value=v["region"], clearable=False,
                                               options=c.region_options(("nation", "province", "prefecture"))),
                   "targets-region", xs=12, md=4, xl=3),
    ], className="g-3 mb-3 align-items-end")
    return PAGE.frame(
        c.page_header(t("targets.title"), t("targets.subtitle")),
        controls,
        c.loading(html.Div(id="targets-cards", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("targets.chart_title"), c.graph("targets-chart")), lg=6),
            dbc.Col(c.section(t("targets.by_region"), c.loading(html.Div(id="targets-regions")),
                              actions=PAGE.table_actions()), lg=6),
        ], className="g-3 mb-3"),
        c.section(t("targets.programme"), c.loading(html.Div(id="targets-programme")), actions=[
            dbc.Button(t("targets.progress_xlsx"), id="targets-progress-xlsx", size="sm", color="primary",
                       outline=True, className="opsmon-download"),
            dcc.Download(id="targets-progress-download"),
        ]),
    )


# ----------------------------------------------------------------------------------------- data
def target_label(row) -> str:
    """'三级公立医院运营管理信息集成平台覆盖率 ≥ 100%（2027年12月）'."""
    name = c.label(get(row["indicator"]))
    return f"{name} ≥ {percent(row['target'], 0)}（{period_label(row['due_period'])}）" if current_language() == "zh" \
        else f"{name} ≥ {percent(row['target'], 0)} ({period_label(row['due_period'])})"


@memo
def by_region(engine, region: str, period: str) -> pd.DataFrame:
    """:func:`targets.evaluate` for each region directly under *region* (one frame, a ``region_name`` column)."""
    out = data.evaluate_targets_by_region(engine, region=region, as_of=period)
    names = c.regions().set_index("adcode")["name"]
    return out.assign(region_name=[names.get(r, r) for r in out["region"]])


@memo
def target_history(engine, ind_id: str, region: str, start: str, period: str, tier: str) -> pd.DataFrame:
    """A targeted indicator's monthly values (on *tier*'s hospitals when set), memoised per data version."""
    return data.series(engine, ind_id, region, start, period, filters={"tier": tier} if tier else None)


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        target_text=[target_label(r) for _, r in frame.iterrows()],
        tier_text=[c.enum_label(x) if isinstance(x, str) else t("filter.all") for x in frame["tier"]],
        verdict=[t(f"target.status.{s}") for s in frame["status"]],
        interval=[f"{percent(lo)}–{percent(hi)}" if pd.notna(lo) else "—"
                  for lo, hi in zip(frame["projected_lower"], frame["projected_upper"])],
    )


def cards(frame: pd.DataFrame) -> dbc.Row:
    """One card per target: value against target, gap, projection with its interval, verdict."""
    if frame.empty:
        return c.empty("targets.none_hint", title_key="targets.none")
    out = []
    for _, row in _display(frame).iterrows():
        tone = {"met": "good", "on_track": "good", "off_track": "bad", "missed": "bad"}.get(row["status"])
        projection = (t("targets.projection_line").format(value=percent(row["projected"]), interval=row["interval"])
                      if pd.notna(row["projected"]) else t("targets.no_projection"))
        out.append(c.kpi(
            row["target_text"], percent(row["value"]), f"target-card-{row['target_id']}",
            sub=html.Div([
                html.Div(t("targets.gap_line").format(gap=percent(max(row["gap"], 0)) if pd.notna(row["gap"])
                                                       else "—", tier=row["tier_text"])),
                html.Div(projection),
                html.Span(row["verdict"], className=f"opsmon-pill opsmon-pill-{row['status']} mt-1"),
            ]), tone=tone, width={"xs": 12, "md": 6, "xl": 3}))
    return dbc.Row(out, className="g-3")


def chart(engine, frame: pd.DataFrame, region: str, period: str) -> go.Figure:
    """History of each targeted indicator (24 months), its targets and the projection to the due month."""
    if frame.empty:
        return empty_figure(t("targets.none"))
    fig = go.Figure()
    start = c.months_before(period, 23)
    for n, (key, group) in enumerate(frame.groupby(["indicator", frame["tier"].fillna("")], sort=False)):
        ind_id, tier = key
        color = PALETTE[n % len(PALETTE)]
        history = target_history(engine, ind_id, region, start, period, tier)
        history = history[history["reporting"] > 0]
        name = c.label(get(ind_id))
        fig.add_scatter(x=history["period"], y=history["value"], mode="lines+markers", name=name,
                        line={"color": color, "width": 2}, marker={"size": 4},
                        hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>")
        for _, row in group.iterrows():
            fig.add_scatter(x=[row["due_period"]], y=[row["target"]], mode="markers", showlegend=False,
                            marker={"symbol": "star", "size": 14, "color": color, "line": {"color": "#333", "width": 1}},
                            hovertemplate=t("targets.hover_target").format(
                                target=percent(row["target"]), due=row["due_period"]) + "<extra></extra>")
            if pd.notna(row["projected"]):
                fig.add_scatter(
                    x=[period, row["due_period"]], y=[row["value"], row["projected"]], mode="lines+markers",
                    showlegend=False, line={"color": color, "dash": "dot"}, marker={"symbol": "diamond", "size": 8},
                    error_y={"type": "data", "symmetric": False,
                             "array": [0, row["projected_upper"] - row["projected"]],
                             "arrayminus": [0, row["projected"] - row["projected_lower"]], "color": color},
                    hovertemplate=t("targets.hover_projection") + ": %{y:.1%}<extra></extra>")
    style_figure(fig, 420)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    month_axis(fig)
    fig.update_layout(legend={"yanchor": "top", "y": -0.12})
    return fig


REGION_EXPORT = [("region_name", "col.region", None), ("name", "targets.col.target_name", None),
                 ("tier", "col.tier", None), ("due_period", "col.due_period", None), ("target", "col.target", "0.0%"),
                 ("value", "col.current", "0.0%"), ("gap", "col.gap", "0.0%"), ("projected", "col.projected", "0.0%"),
                 ("projected_lower", "targets.col.lower", "0.0%"), ("projected_upper", "targets.col.upper", "0.0%"),
                 ("verdict", "col.verdict", None), ("source", "col.source", None)]


def region_table(frame: pd.DataFrame):
    if frame.empty:
        return c.empty("targets.none_hint", title_key="targets.none")
    rows = _display(frame)
    rows = rows.assign(pill=rows["status"], gap=rows["gap"].clip(lower=0))[[
        "region_name", "target_text", "tier_text", "value", "gap", "projected", "interval", "verdict", "pill",
        "target_id", "region"]]
    columns = [
        c.column("region_name", "col.region", pinned="left", minWidth=110),
        c.column("target_text", "nav.targets", minWidth=220, tooltipField="target_text"),
        c.number_column("value", t("col.current"), ".1%", minWidth=90),
        c.number_column("gap", t("col.gap"), ".1%", minWidth=80),
        c.number_column("projected", t("col.projected"), ".1%", minWidth=90),
        c.column("interval", "col.interval", minWidth=110),
        c.pill_column("verdict", "col.verdict", "pill", minWidth=120),
    ]
    return c.grid("targets-grid", rows.to_dict("records"), columns, height=420,
                  getRowId="params.data.region + '-' + params.data.target_id")


def programme_table(engine, region: str, period: str):
    """Programme counts by region: the 进展情况表's rows (children, then the total)."""
    table = data.progress_table(engine, period, region=region)
    if table.empty:
        return c.empty()
    rows = []
    for rec in table.to_dict("records"):
        row = {"name": rec["name"] + (f"（{t('targets.total')}）" if rec["code"] == region else ""),
               "code": rec["code"], "reporting_rate": rec["reporting_rate"],
               "pilot_projects_total": rec["pilot_projects_total"]}
        for ind_id in PROGRAMME_IDS:
            if get(ind_id).kind == "ratio":
                num, den = rec.get(f"{ind_id}__numerator"), rec.get(f"{ind_id}__denominator")
                row[ind_id] = rec[ind_id]
                row[f"{ind_id}__n"] = f"{int(num)}/{int(den)}" if pd.notna(num) and pd.notna(den) else "—"
        rows.append(row)
    columns = [c.column("name", "col.region", pinned="left", minWidth=140)]
    for ind_id in PROGRAMME_IDS:
        ind = get(ind_id)
        if ind.kind == "ratio":
            columns.append(c.number_column(ind_id, c.label(ind), ".1%", minWidth=120,
                                           tooltipField=f"{ind_id}__n", headerTooltip=c.label(ind)))
        else:
            columns.append(c.number_column(ind_id, c.label(ind), ",.0f", minWidth=100,
                                           headerTooltip=c.label(ind)))
    return c.grid("targets-programme-grid", rows, columns, height=None, getRowId="params.data.code")


@PAGE.callback(Output("targets-cards", "children"), Output("targets-chart", "figure"),
               Output("targets-regions", "children"), Output("targets-programme", "children"), *PAGE.inputs())
def update(period, region, view=None):
    """Cards, chart, the table by region and the programme counts for the region in view."""
    if not period:
        return c.empty(), empty_figure(t("data.none_period")), c.empty(), c.empty()
    engine = context.engine()
    region = region or c.root_region()
    frame = c.evaluated_targets(engine, region, period)
    return (cards(frame), chart(engine, frame, region, period),
            region_table(by_region(engine, region, period)), programme_table(engine, region, period))


@PAGE.download
def download(fmt: str, v: dict) -> dict:
    """The targets of each region under the one in view, as CSV or XLSX."""
    engine = context.engine()
    period, region = v["period"], v["region"] or c.root_region()
    frame = _display(by_region(engine, region, period))
    as_of = reporting.data_as_of(engine)
    columns = [(col, t(key), f) for col, key, f in REGION_EXPORT]
    title = t("targets.export_title").format(name=c.region_name(region), period=period_label(period))
    content = exports.table(frame, columns, fmt, title=title,
                            subtitle=t("filters.used").format(filters=c.region_name(region)), as_of=as_of)
    return exports.send(content, exports.file_name(t("targets.file"), c.region_name(region), period,
                                                   as_of=as_of, ext=fmt), rows=len(frame))


@PAGE.callback(Output("targets-progress-download", "data"), Input("targets-progress-xlsx", "n_clicks"),
               *PAGE.inputs(as_state=True), prevent_initial_call=True)
def send_progress(_n, period, region, view=None):
    """The 进展情况表 workbook of the region in view (the indicator API's own layout)."""
    if not period:
        raise PreventUpdate
    engine = context.engine()
    region = region or c.root_region()
    content = data.progress_table_xlsx(engine, period, region=region)
    rows = len(data.progress_table(engine, period, region=region))
    return exports.send(content, exports.file_name(t("targets.progress_file"), c.region_name(region), period,
                                                   as_of=reporting.data_as_of(engine), ext="xlsx"), rows=rows)
