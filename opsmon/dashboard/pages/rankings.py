"""排名 Rankings: one indicator across prefectures, counties or hospitals, with filters.

URL: ``/rankings?indicator=<id>&level=hospital&period=YYYY-MM&span=ytd&tier=三级&category=…&affiliation=…
&authority=…&pilot=1&region=<adcode>&lang=en``.

Ranks follow the indicator's direction (↓ indicators rank the lowest first).
At hospital level each row carries its tier's median and quartiles: the
province's open hospitals of that tier, same period and span, computed from
``query(level="hospital", filters={"tier": …})`` — a peer view, labelled as such,
not an aggregate. The downloads are :func:`opsmon.indicators.export.export_table`
of the same query.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, Patch, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, exports, state
from opsmon.dashboard.figures import GRAPH_CONFIG, bar_ranking, empty_figure
from opsmon.dashboard.format import period_label
from opsmon.dashboard.strings import t
from opsmon.indicators import get, reporting
from opsmon.indicators.restrict import TIERS

PATH = "/rankings"
LEVELS = ("prefecture", "county", "hospital")


def levels() -> tuple[str, ...]:
    """The levels to rank at: a national instance ranks provinces too."""
    return (("province",) if c.regions()["level"].eq("nation").any() else ()) + LEVELS
DEFAULT_INDICATOR = "surplus_rate"
CHART_ROWS = 30
FILTER_IDS = ("tier", "category", "affiliation", "authority", "pilot")


def register() -> None:
    dash.register_page(__name__, path=PATH, name="nav.rankings", title=f"{t('nav.rankings')} · {t('app.title')}",
                       layout=layout, order=10)


CONTROLS = [("rankings-indicator", "value", "indicator"), ("rankings-level", "value", "level"),
            ("rankings-period", "value", "period"), ("rankings-span", "value", "span"),
            ("rankings-region", "value", "region"), *[(f"rankings-{k}", "value", k) for k in FILTER_IDS]]


def read(query: dict, periods: list[str] | None = None) -> dict:
    """The controls' values for a query string (invalid values fall back to defaults)."""
    periods = c.available_periods() if periods is None else periods
    view_filters = state.filters(query)
    pilot = view_filters.get("pilot")
    return {
        "indicator": state.indicator(query.get("indicator"), DEFAULT_INDICATOR),
        "level": state.choice(query.get("level"), levels(), "hospital"),
        "period": state.period(query.get("period"), periods),
        "span": state.span(query.get("span")),
        "region": state.choice(query.get("region"), set(c.regions()["adcode"]) - {c.province()}, None),
        **{k: view_filters.get(k, []) for k in FILTER_IDS if k != "pilot"},
        "pilot": "" if pilot is None else ("1" if pilot else "0"),
    }


def params(v: dict, view: dict | None = None) -> dict:
    """URL parameters for the controls' values."""
    return {"indicator": v["indicator"], "level": v["level"], "period": v["period"],
            "span": None if v["span"] == "month" else v["span"], "region": v["region"],
            **_filters(v["tier"], v["category"], v["affiliation"], v["authority"], v["pilot"])}


def layout(lang: str | None = None, **query: str) -> html.Div:
    lang = state.language(lang)
    periods = c.available_periods()
    v = read(query, periods)
    indicator, level, period, span, region = v["indicator"], v["level"], v["period"], v["span"], v["region"]
    view_filters = state.filters(query)
    controls = dbc.Row([
        dbc.Col([dbc.Label(t("common.indicator", lang), html_for="rankings-indicator"),
                 c.indicator_dropdown("rankings-indicator", indicator, lang)], xs=12, md=6, xl=4),
        dbc.Col([dbc.Label(t("common.level", lang)),
                 dbc.RadioItems(id="rankings-level", value=level, inline=True, className="opsmon-radio",
                                options=[{"label": t(f"level.{lv}", lang), "value": lv} for lv in levels()])],
                xs=12, md=6, xl=3),
        dbc.Col([dbc.Label(t("overview.period", lang), html_for="rankings-period"),
                 c.period_dropdown("rankings-period", periods, period, lang)], xs=6, md=4, xl=2),
        dbc.Col([dbc.Label(t("common.span", lang)), c.span_control("rankings-span", span, lang)], xs=12, md=8,
                xl=3),
    ], className="g-3 mb-2 align-items-end")
    filters_row = dbc.Row(c.filter_controls("rankings", lang, view_filters, region), className="g-2")
    return html.Div([
        dcc.Location(id="rankings-url", refresh=False),
        dcc.Store(id="rankings-view", data={"lang": lang}),
        c.page_header(t("rankings.title", lang), t("rankings.subtitle", lang)),
        controls,
        html.Div(filters_row, className="opsmon-filters mb-3"),
        html.Div(id="rankings-summary", className="mb-2"),
        dbc.Row([
            dbc.Col(c.section(html.Span(id="rankings-chart-title"), [
                dcc.Loading(dcc.Graph(id="rankings-chart", config=GRAPH_CONFIG), type="dot", color="#1f4e79"),
                html.Div(id="rankings-chart-note", className="opsmon-hint"),
            ]), lg=4),
            dbc.Col(c.section(html.Span(id="rankings-table-title"), [
                c.loading(html.Div(id="rankings-table")),
                html.Div(id="rankings-note", className="opsmon-hint"),
            ], actions=[c.quick_search("rankings-search", lang), *c.download_buttons("rankings", lang)]), lg=8),
        ], className="g-3"),
    ])


# ----------------------------------------------------------------------------------------- data
def selection(engine, indicator: str, level: str, period: str, span: str, region: str | None,
              view_filters: dict) -> pd.DataFrame:
    """The indicator API's frame for the view (what the downloads contain)."""
    return data.query(engine, indicator, level, period, span=span, region=region,
                 filters=state.api_filters(view_filters))


def ranking_frame(engine, indicator: str, level: str, period: str, span: str, region: str | None,
                  view_filters: dict, lang: str = "zh") -> pd.DataFrame:
    """The table: the query's rows with rank, last year's value and change, and (hospitals) tier peers."""
    ind = get(indicator)
    frame = selection(engine, indicator, level, period, span, region, view_filters)
    last = selection(engine, indicator, level, c.year_earlier(period), span, region, view_filters)
    frame = frame.merge(last[["code", "value"]].rename(columns={"value": "last_year"}), on="code", how="left")
    ascending = ind.direction == "down"
    frame["rank"] = frame["value"].rank(method="min", ascending=ascending)
    if ind.unit == "%":
        frame["change"] = (frame["value"] - frame["last_year"]) * 100  # percentage points
    else:
        frame["change"] = frame["value"] / frame["last_year"].where(frame["last_year"] != 0) - 1
    regions = c.regions().set_index("adcode")
    frame["parent"] = [regions["name"].get(p, "") for p in frame["parent_code"]]
    if level == "hospital":
        peers = []
        for tier in TIERS:
            tier_frame = data.query(engine, indicator, "hospital", period, span=span, filters={"tier": tier})
            if tier_frame.empty:
                continue
            values = tier_frame["value"]
            peers.append(tier_frame[["code"]].assign(
                tier=tier, peer_median=values.median(), peer_q1=values.quantile(0.25),
                peer_q3=values.quantile(0.75), peer_n=int(values.notna().sum())))
        if peers:
            frame = frame.merge(pd.concat(peers, ignore_index=True), on="code", how="left")
        frame["tier_label"] = [c.enum_label(x, lang) if isinstance(x, str) else "—" for x in frame.get("tier", [])]
        frame["href"] = [c.hospital_href(code, lang, period) for code in frame["code"]]
    else:
        frame["href"] = [state.href("/", lang, period=period, indicator=indicator, region=code)
                         for code in frame["code"]]
    frame["coverage"] = frame["reporting"] / frame["expected"].where(frame["expected"] > 0)
    return frame.sort_values(["rank", "name"], na_position="last").reset_index(drop=True)


def _columns(ind, level: str, lang: str, parts_format: str = ",.2~f") -> list[dict]:
    fmt = ".1%" if ind.unit == "%" else f",.{ind.decimals}f"
    name_header = t(f"col.{level}", lang)
    parent_header = t({"hospital": "col.county", "county": "col.prefecture", "prefecture": "col.province"}.get(
        level, "col.region"), lang)
    change = (c.number_column("change", t("rankings.change_pp", lang), "+.1f", minWidth=100) if ind.unit == "%"
              else c.number_column("change", t("rankings.change_growth", lang), "+.1%", minWidth=100))
    columns = [
        c.number_column("rank", t("col.rank", lang), ",.0f", pinned="left", maxWidth=90, minWidth=80),
        c.link_column("name", name_header, pinned="left", minWidth=200 if level == "hospital" else 150),
    ]
    if level not in ("province", "prefecture"):
        columns.append({"field": "parent", "headerName": parent_header, "minWidth": 120})
    if level == "hospital":
        columns.append({"field": "tier_label", "headerName": t("col.tier", lang), "minWidth": 95})
    columns += [
        c.number_column("value", c.indicator_title(ind.id, lang), fmt, minWidth=110),
        c.number_column("numerator", t("col.numerator", lang), parts_format, minWidth=120),
        c.number_column("denominator", t("col.denominator", lang), parts_format, minWidth=120),
        c.number_column("last_year", t("col.last_year", lang), fmt, minWidth=100),
        change,
    ]
    if level == "hospital":
        columns += [c.number_column("peer_median", t("col.peer_median", lang), fmt, minWidth=100),
                    c.number_column("peer_q1", t("col.peer_q1", lang), fmt, minWidth=100),
                    c.number_column("peer_q3", t("col.peer_q3", lang), fmt, minWidth=100)]
    else:
        columns += [c.number_column("reporting", t("col.hospitals_reporting", lang), ",.0f", minWidth=90),
                    c.number_column("expected", t("col.hospitals_expected", lang), ",.0f", minWidth=90),
                    c.number_column("coverage", t("col.coverage", lang), ".1%", minWidth=90)]
    return columns


ROW_FIELDS = ["rank", "code", "name", "href", "parent", "tier_label", "value", "numerator", "denominator",
              "last_year", "change", "peer_median", "peer_q1", "peer_q3", "reporting", "expected", "coverage"]

_INPUTS = [Input("rankings-indicator", "value"), Input("rankings-level", "value"), Input("rankings-period", "value"),
           Input("rankings-span", "value"), Input("rankings-region", "value")] + [
    Input(f"rankings-{key}", "value") for key in FILTER_IDS]


def _filters(tier, category, affiliation, authority, pilot) -> dict:
    return state.filters_from_controls(tier, category, affiliation, authority, pilot)


@callback(
    Output("rankings-chart", "figure"), Output("rankings-table", "children"), Output("rankings-summary", "children"),
    Output("rankings-chart-title", "children"), Output("rankings-table-title", "children"),
    Output("rankings-chart-note", "children"), Output("rankings-note", "children"),
    *_INPUTS, State("rankings-search", "value"), State("rankings-view", "data"),
)
def update(indicator, level, period, span, region, tier, category, affiliation, authority, pilot,
           search_text=None, view=None):
    """Chart, table and titles for the selection."""
    lang = (view or {}).get("lang", "zh")
    ind = get(indicator or DEFAULT_INDICATOR)
    view_filters = _filters(tier, category, affiliation, authority, pilot)
    title = f"{ind.label(lang)} · {period_label(period, lang)} · {c.span_label(span or 'month', lang)}"
    if not period:
        return empty_figure(t("data.none_period", lang)), c.empty(lang), None, title, "", "", ""
    frame = ranking_frame(context.engine(), ind.id, level, period, span or "month", region, view_filters, lang)
    order = t("rankings.order_down" if ind.direction == "down" else
              "rankings.order_up" if ind.direction == "up" else "rankings.order_neutral", lang)
    summary = html.Div([
        html.Span(t("rankings.summary", lang).format(n=int(frame["value"].notna().sum()), total=len(frame)),
                  id="rankings-count"),
        html.Span(" · " + order, className="text-muted"),
        html.Span(" · " + t("filters.used", lang).format(filters=exports.filters_text(view_filters, lang, region)),
                  className="text-muted"),
    ], className="opsmon-note")
    if frame["value"].notna().sum() == 0:
        empty = c.empty(lang, "data.none_selection", title_key="data.none_period")
        return (empty_figure(t("data.none_period", lang)), empty, summary, title, t("rankings.table", lang), "",
                "")
    rows = frame.reindex(columns=ROW_FIELDS).astype(object).where(frame.reindex(columns=ROW_FIELDS).notna(), None)
    # Sums of money are large: whole yuan are enough; small parts (counts, rates) keep two decimals.
    big = frame[["numerator", "denominator"]].abs().median().max() >= 1000
    grid = c.grid("rankings-grid", rows.to_dict("records"), _columns(ind, level, lang, ",.0f" if big else ",.2~f"),
                  lang, height=620,
                  quick_filter=search_text, getRowId="params.data.code")
    top = frame[frame["value"].notna()].head(CHART_ROWS)
    median = frame["value"].median()
    fig = bar_ranking(top, ind, title=ind.label(lang), peer=median,
                      peer_label=t("rankings.median_line", lang))
    note = t("rankings.top_note", lang).format(n=CHART_ROWS) if frame["value"].notna().sum() > CHART_ROWS else ""
    peer_note = t("rankings.peer_note", lang) if level == "hospital" else ""
    return (fig, grid, summary, title, t("rankings.table_n", lang).format(n=len(frame)), note, peer_note)


c.url_sync("rankings", CONTROLS, read, params)


@callback(Output("rankings-grid", "dashGridOptions"), Input("rankings-search", "value"), prevent_initial_call=True)
def quick_filter(text: str | None):
    patch = Patch()
    patch["quickFilterText"] = text or ""
    return patch


def download(fmt: str, indicator, level, period, span, region, view_filters: dict, lang: str) -> dict:
    """The selection's query frame, in ranking order, as CSV or XLSX (via the indicator API's exporter)."""
    engine = context.engine()
    ind = get(indicator)
    frame = selection(engine, indicator, level, period, span, region, view_filters)
    ranked = frame.assign(_r=frame["value"].rank(method="min", ascending=ind.direction == "down"))
    frame = ranked.sort_values(["_r", "name"], na_position="last").drop(columns="_r")
    as_of = reporting.data_as_of(engine)
    title = exports.selection_title(t("rankings.title", lang), ind.label(lang), period, span, lang,
                                    view_filters, region)
    content = exports.indicator_table(frame, fmt, title=exports.sheet_safe(title), as_of=as_of, lang=lang)
    used = exports.filters_text(view_filters, lang, region)
    name = exports.file_name(t("rankings.file", lang), ind.label(lang), t(f"level.{level}", lang), period,
                             c.span_label(span, lang), used if used != t("filters.none", lang) else "",
                             as_of=as_of, ext=fmt)
    return exports.send(content, name, rows=len(frame))


@callback(Output("rankings-download", "data"), Input("rankings-csv", "n_clicks"), Input("rankings-xlsx", "n_clicks"),
          *[State(i.component_id, i.component_property) for i in _INPUTS], State("rankings-view", "data"),
          prevent_initial_call=True)
def send_download(_csv, _xlsx, indicator, level, period, span, region, tier, category, affiliation, authority,
                  pilot, view):
    if not period:
        raise PreventUpdate
    fmt = "xlsx" if dash.ctx.triggered_id == "rankings-xlsx" else "csv"
    return download(fmt, indicator, level, period, span or "month", region,
                    _filters(tier, category, affiliation, authority, pilot), (view or {}).get("lang", "zh"))
