"""目标 Target tracker: each target's current value, gap, projection to its due month and verdict.

URL: ``/targets?period=YYYY-MM&region=<adcode>&lang=en``.

Everything comes from :func:`opsmon.indicators.targets.evaluate` (for the region
in view, and for each region directly under it — "by region"; a target with a
tier is evaluated on that tier's hospitals — "by tier"), the programme counts
from :func:`opsmon.indicators.export.progress_table`, and the 进展情况表 download
from :func:`opsmon.indicators.export.progress_table_xlsx`.
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
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import GRAPH_CONFIG, PALETTE, empty_figure, month_axis, style_figure
from opsmon.dashboard.format import percent, period_label
from opsmon.dashboard.strings import t
from opsmon.indicators import get, reporting
from opsmon.indicators.programme import PROGRAMME_IDS

PATH = "/targets"
VERDICT_ORDER = ("missed", "off_track", "insufficient_data", "on_track", "met")


def register() -> None:
    dash.register_page(__name__, path=PATH, name="nav.targets", title=f"{t('nav.targets')} · {t('app.title')}",
                       layout=layout, order=40)


CONTROLS = [("targets-period", "value", "period"), ("targets-region", "value", "region")]


def read(query: dict, periods: list[str] | None = None) -> dict:
    periods = c.available_periods() if periods is None else periods
    regions = c.regions()
    allowed = set(regions.loc[regions["level"] != "county", "adcode"])
    return {"period": state.period(query.get("period"), periods),
            "region": state.choice(query.get("region"), allowed, c.province())}


def params(v: dict, view: dict | None = None) -> dict:
    return {"period": v["period"], "region": None if v["region"] == c.province() else v["region"]}


def layout(lang: str | None = None, **query: str) -> html.Div:
    lang = state.language(lang)
    periods = c.available_periods()
    v = read(query, periods)
    period, region = v["period"], v["region"]
    controls = dbc.Row([
        dbc.Col([dbc.Label(t("overview.period", lang), html_for="targets-period"),
                 c.period_dropdown("targets-period", periods, period, lang)], xs=12, md=4, xl=3),
        dbc.Col([dbc.Label(t("filter.region", lang), html_for="targets-region"),
                 c.dropdown(lang, id="targets-region", value=region, clearable=False,
                              options=c.region_options(lang, ("nation", "province", "prefecture")))], xs=12, md=4, xl=3),
    ], className="g-3 mb-3 align-items-end")
    return html.Div([
        dcc.Location(id="targets-url", refresh=False),
        dcc.Store(id="targets-view", data={"lang": lang}),
        c.page_header(t("targets.title", lang), t("targets.subtitle", lang)),
        controls,
        c.loading(html.Div(id="targets-cards", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("targets.chart_title", lang), dcc.Loading(
                dcc.Graph(id="targets-chart", config=GRAPH_CONFIG), type="dot", color="#1f4e79")), lg=6),
            dbc.Col(c.section(t("targets.by_region", lang), c.loading(html.Div(id="targets-regions")),
                              actions=c.download_buttons("targets", lang)), lg=6),
        ], className="g-3 mb-3"),
        c.section(t("targets.programme", lang), c.loading(html.Div(id="targets-programme")), actions=[
            dbc.Button(t("targets.progress_xlsx", lang), id="targets-progress-xlsx", size="sm", color="primary",
                       outline=True, className="opsmon-download"),
            dcc.Download(id="targets-progress-download"),
        ]),
    ])


# ----------------------------------------------------------------------------------------- data
def target_label(row, lang: str) -> str:
    """'三级公立医院运营管理信息集成平台覆盖率 ≥ 100%（2027年12月）'."""
    name = get(row["indicator"]).label(lang)
    return f"{name} ≥ {percent(row['target'], 0)}（{period_label(row['due_period'], lang)}）" if lang == "zh" else \
        f"{name} ≥ {percent(row['target'], 0)} ({period_label(row['due_period'], lang)})"


@memo
def evaluated(engine, region: str, period: str) -> pd.DataFrame:
    """:func:`targets.evaluate` for *region* as of *period* (memoised per data version)."""
    return data.evaluate_targets(engine, region=region, as_of=period)


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


def _display(frame: pd.DataFrame, lang: str) -> pd.DataFrame:
    return frame.assign(
        target_text=[target_label(r, lang) for _, r in frame.iterrows()],
        tier_text=[c.enum_label(x, lang) if isinstance(x, str) else t("filter.all", lang) for x in frame["tier"]],
        verdict=[t(f"target.status.{s}", lang) for s in frame["status"]],
        interval=[f"{percent(lo)}–{percent(hi)}" if pd.notna(lo) else "—"
                  for lo, hi in zip(frame["projected_lower"], frame["projected_upper"])],
    )


def cards(frame: pd.DataFrame, lang: str) -> dbc.Row:
    """One card per target: value against target, gap, projection with its interval, verdict."""
    if frame.empty:
        return c.empty(lang, "targets.none_hint", title_key="targets.none")
    out = []
    for n, row in _display(frame, lang).iterrows():
        tone = {"met": "good", "on_track": "good", "off_track": "bad", "missed": "bad"}.get(row["status"])
        projection = (t("targets.projection_line", lang).format(value=percent(row["projected"]),
                                                                 interval=row["interval"])
                      if pd.notna(row["projected"]) else t("targets.no_projection", lang))
        out.append(c.kpi(
            row["target_text"], percent(row["value"]), f"target-card-{row['target_id']}",
            sub=html.Div([
                html.Div(t("targets.gap_line", lang).format(gap=percent(max(row["gap"], 0)) if pd.notna(row["gap"])
                                                             else "—", tier=row["tier_text"])),
                html.Div(projection),
                html.Span(row["verdict"], className=f"opsmon-pill opsmon-pill-{row['status']} mt-1"),
            ]), tone=tone, width={"xs": 12, "md": 6, "xl": 3}))
    return dbc.Row(out, className="g-3")


def chart(engine, frame: pd.DataFrame, region: str, period: str, lang: str) -> go.Figure:
    """History of each targeted indicator (24 months), its targets and the projection to the due month."""
    if frame.empty:
        return empty_figure(t("targets.none", lang))
    fig = go.Figure()
    start = c.months_before(period, 23)
    for n, (key, group) in enumerate(frame.groupby(["indicator", frame["tier"].fillna("")], sort=False)):
        ind_id, tier = key
        color = PALETTE[n % len(PALETTE)]
        history = target_history(engine, ind_id, region, start, period, tier)
        history = history[history["reporting"] > 0]
        name = get(ind_id).label(lang)
        fig.add_scatter(x=history["period"], y=history["value"], mode="lines+markers", name=name,
                        line={"color": color, "width": 2}, marker={"size": 4},
                        hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>")
        for _, row in group.iterrows():
            fig.add_scatter(x=[row["due_period"]], y=[row["target"]], mode="markers", showlegend=False,
                            marker={"symbol": "star", "size": 14, "color": color, "line": {"color": "#333", "width": 1}},
                            hovertemplate=t("targets.hover_target", lang).format(
                                target=percent(row["target"]), due=row["due_period"]) + "<extra></extra>")
            if pd.notna(row["projected"]):
                fig.add_scatter(
                    x=[period, row["due_period"]], y=[row["value"], row["projected"]], mode="lines+markers",
                    showlegend=False, line={"color": color, "dash": "dot"}, marker={"symbol": "diamond", "size": 8},
                    error_y={"type": "data", "symmetric": False,
                             "array": [0, row["projected_upper"] - row["projected"]],
                             "arrayminus": [0, row["projected"] - row["projected_lower"]], "color": color},
                    hovertemplate=t("targets.hover_projection", lang) + ": %{y:.1%}<extra></extra>")
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


def region_table(frame: pd.DataFrame, lang: str):
    if frame.empty:
        return c.empty(lang, "targets.none_hint", title_key="targets.none")
    rows = _display(frame, lang)
    rows = rows.assign(pill=rows["status"], gap=rows["gap"].clip(lower=0))[["region_name", "target_text", "tier_text", "value", "gap", "projected",
                                              "interval", "verdict", "pill", "target_id", "region"]]
    columns = [
        {"field": "region_name", "headerName": t("col.region", lang), "pinned": "left", "minWidth": 110},
        {"field": "target_text", "headerName": t("nav.targets", lang), "minWidth": 220, "tooltipField": "target_text"},
        c.number_column("value", t("col.current", lang), ".1%", minWidth=90),
        c.number_column("gap", t("col.gap", lang), ".1%", minWidth=80),
        c.number_column("projected", t("col.projected", lang), ".1%", minWidth=90),
        {"field": "interval", "headerName": t("col.interval", lang), "minWidth": 110},
        {"field": "verdict", "headerName": t("col.verdict", lang), "cellRenderer": "OpsmonPill",
         "cellRendererParams": {"classField": "pill"}, "minWidth": 120},
    ]
    return c.grid("targets-grid", rows.to_dict("records"), columns, lang, height=420,
                  getRowId="params.data.region + '-' + params.data.target_id")


def programme_table(engine, region: str, period: str, lang: str):
    """Programme counts by region: the 进展情况表's rows (children, then the total)."""
    table = data.progress_table(engine, period, region=region)
    if table.empty:
        return c.empty(lang)
    rows = []
    for rec in table.to_dict("records"):
        row = {"name": rec["name"] + (f"（{t('targets.total', lang)}）" if rec["code"] == region else ""),
               "code": rec["code"], "reporting_rate": rec["reporting_rate"],
               "pilot_projects_total": rec["pilot_projects_total"]}
        for ind_id in PROGRAMME_IDS:
            if get(ind_id).kind == "ratio":
                num, den = rec.get(f"{ind_id}__numerator"), rec.get(f"{ind_id}__denominator")
                row[ind_id] = rec[ind_id]
                row[f"{ind_id}__n"] = f"{int(num)}/{int(den)}" if pd.notna(num) and pd.notna(den) else "—"
        rows.append(row)
    columns = [{"field": "name", "headerName": t("col.region", lang), "pinned": "left", "minWidth": 140}]
    for ind_id in PROGRAMME_IDS:
        ind = get(ind_id)
        if ind.kind == "ratio":
            columns.append(c.number_column(ind_id, ind.label(lang), ".1%", minWidth=120,
                                           tooltipField=f"{ind_id}__n", headerTooltip=ind.label(lang)))
        else:
            columns.append(c.number_column(ind_id, ind.label(lang), ",.0f", minWidth=100,
                                           headerTooltip=ind.label(lang)))
    return c.grid("targets-programme-grid", rows, columns, lang, height=None,
                  getRowId="params.data.code")


@callback(Output("targets-cards", "children"), Output("targets-chart", "figure"),
          Output("targets-regions", "children"), Output("targets-programme", "children"),
          Input("targets-period", "value"), Input("targets-region", "value"), State("targets-view", "data"))
def update(period, region, view=None):
    lang = (view or {}).get("lang", "zh")
    if not period:
        return c.empty(lang), empty_figure(t("data.none_period", lang)), c.empty(lang), c.empty(lang)
    engine = context.engine()
    region = region or c.province()
    frame = evaluated(engine, region, period)
    return (cards(frame, lang), chart(engine, frame, region, period, lang),
            region_table(by_region(engine, region, period), lang), programme_table(engine, region, period, lang))


c.url_sync("targets", CONTROLS, read, params)


@callback(Output("targets-download", "data"), Input("targets-csv", "n_clicks"), Input("targets-xlsx", "n_clicks"),
          State("targets-period", "value"), State("targets-region", "value"), State("targets-view", "data"),
          prevent_initial_call=True)
def send_download(_csv, _xlsx, period, region, view):
    if not period:
        raise PreventUpdate
    lang = (view or {}).get("lang", "zh")
    fmt = "xlsx" if dash.ctx.triggered_id == "targets-xlsx" else "csv"
    engine = context.engine()
    region = region or c.province()
    frame = _display(by_region(engine, region, period), lang)
    as_of = reporting.data_as_of(engine)
    columns = [(col, t(key, lang), f) for col, key, f in REGION_EXPORT]
    title = t("targets.export_title", lang).format(name=c.region_name(region), period=period_label(period, lang))
    content = exports.table(frame, columns, fmt, title=title,
                            subtitle=t("filters.used", lang).format(filters=c.region_name(region)),
                            as_of=as_of, lang=lang)
    return exports.send(content, exports.file_name(t("targets.file", lang), c.region_name(region), period,
                                                   as_of=as_of, ext=fmt), rows=len(frame))


@callback(Output("targets-progress-download", "data"), Input("targets-progress-xlsx", "n_clicks"),
          State("targets-period", "value"), State("targets-region", "value"), State("targets-view", "data"),
          prevent_initial_call=True)
def send_progress(_n, period, region, view=None):
    if not period:
        raise PreventUpdate
    lang = (view or {}).get("lang", "zh")
    engine = context.engine()
    region = region or c.province()
    content = data.progress_table_xlsx(engine, period, region=region)
    rows = len(data.progress_table(engine, period, region=region))
    return exports.send(content, exports.file_name(t("targets.progress_file", lang), c.region_name(region), period,
                                                   as_of=reporting.data_as_of(engine), ext="xlsx"), rows=rows)
