"""目标 Target tracker: each target's current value, gap, projection to its due month and verdict.

URL: ``/targets?period=YYYY-MM&region=<adcode>&lang=en``.

Everything comes from :func:`opsmon.indicators.targets.evaluate` (for the region
in view, and for each region directly under it — "by region"; a target with a
tier is evaluated on that tier's hospitals — "by tier"), the programme counts
from :func:`opsmon.indicators.export.progress_table`, and the 进展情况表 download
from :func:`opsmon.indicators.export.progress_table_xlsx`. Beside the programme
counts: whose status is stale (进展未更新: the latest report is older than two
quarters) or missing, per region and by name, and the two progress fields no
catalogue indicator reports (运营管理部门, 内部控制评价), from
:mod:`opsmon.indicators.programme`. An overdue unmet target stays on the page as
逾期未达标 (how many months overdue) until it is met.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, dcc, html
from dash.exceptions import PreventUpdate

from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, exports, url_query
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import PALETTE, empty_figure, month_axis, style_figure
from opsmon.dashboard.format import d3_format, indicator_value, integer, percent, period_label
from opsmon.dashboard.page import PERIOD, Control, Page
from opsmon.dashboard.strings import current_language, t
from opsmon.indicators import get, reporting
from opsmon.indicators.programme import EXTRAS, PROGRAMME_IDS


def _region(query) -> str:
    """The region in view: the served one, or a prefecture-level unit under it (targets are not set for counties)."""
    regions = c.regions()
    return url_query.choice(query.get("region"), set(regions.loc[regions["level"] != "county", "adcode"]), c.root_region())


PAGE = Page(__name__, path="/targets", name_key="nav.targets", permission="view_regions", order=40,
            period_status=True, controls={"period": PERIOD, "region": Control(_region, omit=c.root_region)})


def target_regions() -> list[dict]:
    """The regions whose targets can be shown: down to prefectures."""
    return c.region_options(("nation", "province", "prefecture"))


search_options = PAGE.search_options("targets-region", target_regions)


@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    controls = dbc.Row([
        c.labelled("overview.period", c.period_dropdown("targets-period", c.available_periods(), v["period"]),
                   "targets-period", xs=12, md=4, xl=3),
        c.labelled("filter.region", c.dropdown(id="targets-region", value=v["region"], clearable=False,
                                               options=c.offered(target_regions(), v["region"])),
                   "targets-region", xs=12, md=4, xl=3),
    ], className="g-3 mb-3 align-items-end")
    return PAGE.frame(
        c.page_header(t("targets.title"), t("targets.subtitle")),
        controls,
        PAGE.status(v, {"region": v["region"]}),
        c.loading(html.Div(id="targets-cards", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("targets.chart_title"), c.graph("targets-chart")), lg=6),
            dbc.Col(c.section(t("targets.by_region"), c.loading(html.Div(id="targets-regions")),
                              actions=PAGE.table_actions()), lg=6),
        ], className="g-3 mb-3"),
        c.section(t("targets.programme"), html.Div([
            html.Div(id="targets-programme-stale"), c.loading(html.Div(id="targets-programme"))]), actions=[
            dbc.Button(t("targets.progress_xlsx"), id="targets-progress-xlsx", size="sm", color="primary",
                       outline=True, className="opsmon-download"),
            dcc.Download(id="targets-progress-download"),
        ]),
    )


# ----------------------------------------------------------------------------------------- data
def target_value(ind_id: str, value) -> str:
    """A target's value as its indicator's values read: '100%' for percentages, '2.00' for the 医护比."""
    ind = get(ind_id)
    return percent(value, 0) if ind.unit == "%" else indicator_value(ind, value)


def target_label(row) -> str:
    """'三级公立医院运营管理信息集成平台覆盖率 ≥ 100%（2027年12月）'; a yearly target says so."""
    name = c.label(get(row["indicator"]))
    due = period_label(row["due_period"])
    if isinstance(row.get("recurrence"), str):
        due = t("targets.yearly_due").format(due=due)
    return f"{name} ≥ {target_value(row['indicator'], row['target'])}（{due}）" if current_language() == "zh" \
        else f"{name} ≥ {target_value(row['indicator'], row['target'])} ({due})"


@memo
def programme_counts(engine, region: str, period: str) -> pd.DataFrame:
    """:func:`opsmon.indicators.programme.unit_counts` of the regions under *region*, in the user's scope."""
    return data.programme_unit_counts(engine, period, region=region)


@memo
def outdated_hospitals(engine, region: str, period: str) -> pd.DataFrame:
    """:func:`opsmon.indicators.programme.outdated` in *region*, in the user's scope: stale, then missing."""
    return data.programme_outdated(engine, period, region=region)


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


@memo
def approx_codes(engine, ind_id: str, tier: str, levels: tuple[str, ...], period: str) -> frozenset[str]:
    """The regions (at *levels*) whose value of *ind_id* (on *tier*'s hospitals when set) is 近似 in *period*."""
    found: set[str] = set()
    for level in levels:
        frame = data.query(engine, ind_id, level, period, filters={"tier": tier} if tier else None)
        found |= set(frame.loc[frame["approx"].fillna(False).astype(bool), "code"])
    return frozenset(found)


def with_approx(engine, frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """*frame* (targets evaluated per ``region``) with ``approx`` — the region's value of the target's
    indicator is 近似 — and its grid and export cells (:func:`components.with_approx`)."""
    if frame.empty:
        return frame.assign(approx=[], approx_text=[], approx_tip=[])
    level = c.regions().set_index("adcode")["level"]
    levels = tuple(sorted({level.get(r, "province") for r in frame["region"]}))
    flags = [get(i).approximation is not None and r in approx_codes(engine, i, tier if isinstance(tier, str) else "",
                                                                     levels, period)
             for i, tier, r in zip(frame["indicator"], frame["tier"], frame["region"])]
    out = frame.assign(approx=flags)
    tips = [c.approx_text(get(i)) if a else "" for i, a in zip(out["indicator"], out["approx"])]
    return out.assign(approx_text=[c.approx_cell(a) for a in out["approx"]], approx_tip=tips)


def _shown(ind_id: str, value) -> str:
    return indicator_value(get(ind_id), value)


def _display(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(
        target_text=[target_label(r) for _, r in frame.iterrows()],
        tier_text=[c.enum_label(x) if isinstance(x, str) else t("filter.all") for x in frame["tier"]],
        verdict=[t(f"target.status.{s}") for s in frame["status"]],
        interval=[f"{_shown(i, lo)}–{_shown(i, hi)}" if pd.notna(lo) else "—"
                  for i, lo, hi in zip(frame["indicator"], frame["projected_lower"], frame["projected_upper"])],
        fmt=[d3_format(get(i)) for i in frame["indicator"]],
    )


def cards(frame: pd.DataFrame) -> dbc.Row:
    """One card per target: value against target, gap, projection with its interval, verdict."""
    if frame.empty:
        return c.empty("targets.none_hint", title_key="targets.none")
    out = []
    for _, row in _display(frame).iterrows():
        tone = {"met": "good", "on_track": "good", "off_track": "bad", "missed": "bad"}.get(row["status"])
        ind_id = row["indicator"]
        if row["status"] == "missed":  # overdue and unmet: say since when, until it is met
            projection = t("targets.overdue_line").format(n=-int(row["months_left"])) if row["months_left"] < 0 \
                else t("targets.due_now_line")
        elif pd.notna(row["projected"]):
            projection = t("targets.projection_line").format(value=_shown(ind_id, row["projected"]),
                                                             interval=row["interval"])
        else:
            projection = t("targets.no_projection")
        out.append(c.kpi(
            row["target_text"], _shown(ind_id, row["value"]), f"target-card-{row['target_id']}",
            badge=c.approx_badge(get(ind_id), row.get("approx"), id=f"target-approx-{row['target_id']}"),
            sub=html.Div([
                html.Div(t("targets.gap_line").format(gap=_shown(ind_id, max(row["gap"], 0)) if pd.notna(row["gap"])
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
    other_units = False
    for n, (key, group) in enumerate(frame.groupby(["indicator", frame["tier"].fillna("")], sort=False)):
        ind_id, tier = key
        color = PALETTE[n % len(PALETTE)]
        ind = get(ind_id)
        fmt = d3_format(ind)
        # Percentages share the left axis; another unit (the 医护比's nurses per doctor) the right one.
        axis = {"yaxis": "y"} if ind.unit == "%" else {"yaxis": "y2"}
        other_units = other_units or ind.unit != "%"
        history = target_history(engine, ind_id, region, start, period, tier)
        history = history[history["reporting"] > 0]
        name = c.label(ind)
        fig.add_scatter(x=history["period"], y=history["value"], mode="lines+markers", name=name,
                        line={"color": color, "width": 2}, marker={"size": 4}, **axis,
                        hovertemplate=f"%{{x}}: %{{y:{fmt}}}<extra>" + name + "</extra>")
        for _, row in group.iterrows():
            fig.add_scatter(x=[row["due_period"]], y=[row["target"]], mode="markers", showlegend=False,
                            marker={"symbol": "star", "size": 14, "color": color,
                                    "line": {"color": "#333", "width": 1}}, **axis,
                            hovertemplate=t("targets.hover_target").format(
                                target=target_value(ind_id, row["target"]), due=row["due_period"]) + "<extra></extra>")
            if pd.notna(row["projected"]):
                fig.add_scatter(
                    x=[period, row["due_period"]], y=[row["value"], row["projected"]], mode="lines+markers",
                    showlegend=False, line={"color": color, "dash": "dot"}, marker={"symbol": "diamond", "size": 8},
                    error_y={"type": "data", "symmetric": False,
                             "array": [0, row["projected_upper"] - row["projected"]],
                             "arrayminus": [0, row["projected"] - row["projected_lower"]], "color": color},
                    hovertemplate=t("targets.hover_projection") + f": %{{y:{fmt}}}<extra></extra>", **axis)
    style_figure(fig, 420)
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    if other_units:
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False})
    month_axis(fig)
    fig.update_layout(legend={"yanchor": "top", "y": -0.12})
    return fig


REGION_EXPORT = [("region_name", "col.region", None), ("name", "targets.col.target_name", None),
                 ("tier", "col.tier", None), ("due_period", "col.due_period", None), ("target", "col.target", "0.0%"),
                 ("value", "col.current", "0.0%"), ("approx_text", "approx.column", None), ("gap", "col.gap", "0.0%"),
                 ("projected", "col.projected", "0.0%"),
                 ("projected_lower", "targets.col.lower", "0.0%"), ("projected_upper", "targets.col.upper", "0.0%"),
                 ("verdict", "col.verdict", None), ("source", "col.source", None)]


def _row_format_column(field: str, header: str, **extra) -> dict:
    """A numeric column whose cells follow their row's indicator (``fmt``: '.1%' or ',.2f')."""
    return c.number_column(field, header, ".1%", **extra) | {"valueFormatter": {
        "function": "params.value == null ? '—' : d3.format(params.data.fmt)(params.value)"}}


def region_table(frame: pd.DataFrame):
    if frame.empty:
        return c.empty("targets.none_hint", title_key="targets.none")
    rows = _display(frame)
    rows = rows.assign(pill=rows["status"], gap=rows["gap"].clip(lower=0))[[
        "region_name", "target_text", "tier_text", "value", "approx_text", "approx_tip", "gap", "projected",
        "interval", "verdict", "pill", "target_id", "region", "fmt"]]
    columns = [
        c.column("region_name", "col.region", pinned="left", minWidth=110),
        c.column("target_text", "nav.targets", minWidth=220, tooltipField="target_text"),
        _row_format_column("value", t("col.current"), minWidth=90),
        c.approx_column(),
        _row_format_column("gap", t("col.gap"), minWidth=80),
        _row_format_column("projected", t("col.projected"), minWidth=90),
        c.column("interval", "col.interval", minWidth=110),
        c.pill_column("verdict", "col.verdict", "pill", minWidth=120),
    ]
    return c.grid("targets-grid", rows.to_dict("records"), columns, height=420,
                  getRowId="params.data.region + '-' + params.data.target_id")


def _fraction(num, den) -> str:
    return f"{int(num)}/{int(den)}" if pd.notna(num) and pd.notna(den) else "—"


def programme_table(engine, region: str, period: str):
    """Programme counts by region: the 进展情况表's rows (children, then the total).

    Beside the catalogue's programme indicators: the hospitals whose progress is
    missing or stale (进展未报/未更新), and the shares of 运营管理部门 and 内部控制评价.
    A ratio cell's tooltip gives its count and how many of its hospitals are stale.
    """
    table = data.progress_table(engine, period, region=region)
    if table.empty:
        return c.empty()
    counts = programme_counts(engine, region, period).set_index("code")
    # The rows' levels: the region's own (its total) and the one under it (as the progress table's).
    chain = ("nation", "province", "prefecture", "county")
    own = c.regions().set_index("adcode")["level"].get(region, "province")
    levels = tuple(chain[chain.index(own):chain.index(own) + 2])
    approximate = {i: approx_codes(engine, i, "", levels, period) for i in PROGRAMME_IDS
                   if get(i).approximation is not None}
    rows = []
    for rec in table.to_dict("records"):
        extra = counts.loc[rec["code"]] if rec["code"] in counts.index else None
        row = {"name": rec["name"] + (f"（{t('targets.total')}）" if rec["code"] == region else ""),
               "code": rec["code"], "reporting_rate": rec["reporting_rate"],
               "pilot_projects_total": rec["pilot_projects_total"]}
        for ind_id in PROGRAMME_IDS:
            if get(ind_id).kind == "ratio":
                row[ind_id] = rec[ind_id]
                n = _fraction(rec.get(f"{ind_id}__numerator"), rec.get(f"{ind_id}__denominator"))
                stale = extra[f"{ind_id}__stale"] if extra is not None else 0
                row[f"{ind_id}__n"] = t("programme.cell_stale").format(n=n, stale=int(stale)) if stale else n
                if rec["code"] in approximate.get(ind_id, ()):  # 近似: marked in the cell, explained in its tooltip
                    row[f"{ind_id}__approx"] = True
                    row[f"{ind_id}__n"] += f" · {c.approx_text(get(ind_id))}"
        if extra is not None:
            row["outdated"] = int(extra["outdated"])
            row["outdated__n"] = t("programme.outdated_tip").format(stale=int(extra["stale"]),
                                                                   missing=int(extra["missing"]),
                                                                   hospitals=int(extra["hospitals"]))
            for entry in EXTRAS:
                row[entry.id] = None if pd.isna(extra[entry.id]) else float(extra[entry.id])
                row[f"{entry.id}__n"] = _fraction(extra[f"{entry.id}__numerator"], extra[f"{entry.id}__denominator"])
        rows.append(row)
    columns = [c.column("name", "col.region", pinned="left", minWidth=140),
               c.number_column("outdated", t("programme.col.outdated"), ",.0f", minWidth=110,
                               tooltipField="outdated__n", headerTooltip=t("programme.col.outdated_tip"))]
    for ind in [get(i) for i in PROGRAMME_IDS] + list(EXTRAS):
        if ind.kind == "ratio":
            column = c.approx_number_column if getattr(ind, "approximation", None) else c.number_column
            columns.append(column(ind.id, c.label(ind), ".1%", minWidth=120,
                                  tooltipField=f"{ind.id}__n", headerTooltip=c.label(ind)))
        else:
            columns.append(c.number_column(ind.id, c.label(ind), ",.0f", minWidth=100,
                                           headerTooltip=c.label(ind)))
    return c.grid("targets-programme-grid", rows, columns, height=None, getRowId="params.data.code")


def stale_note(engine, region: str, period: str) -> html.Div:
    """'进展未更新 n 家 · 未报送进展 m 家', and the hospitals by name (a collapsed list)."""
    frame = outdated_hospitals(engine, region, period)
    stale, missing = frame[frame["stale"]], frame[frame["missing"]]
    summary = t("programme.stale_summary").format(stale=integer(len(stale)), missing=integer(len(missing)))
    if frame.empty:
        return html.Div(summary, className="opsmon-hint mb-2")
    items = [html.Li(t("programme.stale_item").format(name=r["name"], period=period_label(r["status_period"])),
                     className="opsmon-stale") for _, r in stale.iterrows()]
    items += [html.Li(t("programme.missing_item").format(name=r["name"]), className="opsmon-missing")
              for _, r in missing.iterrows()]
    return html.Div(html.Details([html.Summary(summary), html.Ul(items, className="mb-0 small")]),
                    className="opsmon-hint mb-2")


@PAGE.callback(Output("targets-cards", "children"), Output("targets-chart", "figure"),
               Output("targets-regions", "children"), Output("targets-programme", "children"), *PAGE.inputs())
def update(period, region, view=None):
    """Cards, chart, the table by region and the programme counts for the region in view."""
    if not period:
        return c.empty(), empty_figure(t("data.none_period")), c.empty(), c.empty()
    engine = context.reader()
    region = region or c.root_region()
    frame = with_approx(engine, c.evaluated_targets(engine, region, period), period)
    return (cards(frame), chart(engine, frame, region, period),
            region_table(with_approx(engine, by_region(engine, region, period), period)),
            programme_table(engine, region, period))


@PAGE.callback(Output("targets-programme-stale", "children"), *PAGE.inputs())
def update_stale(period, region, view=None):
    """How many hospitals' progress is stale or missing, beside the programme table, and which."""
    if not period:
        return None
    return stale_note(context.reader(), region or c.root_region(), period)


@PAGE.download
def download(fmt: str, v: dict) -> dict:
    """The targets of each region under the one in view, as CSV or XLSX."""
    engine = context.reader()
    period, region = v["period"], v["region"] or c.root_region()
    frame = _display(with_approx(engine, by_region(engine, region, period), period))
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
    engine = context.reader()
    region = region or c.root_region()
    content = data.progress_table_xlsx(engine, period, region=region)
    rows = len(data.progress_table(engine, period, region=region))
    return exports.send(content, exports.file_name(t("targets.progress_file"), c.region_name(region), period,
                                                   as_of=reporting.data_as_of(engine), ext="xlsx"), rows=rows)
