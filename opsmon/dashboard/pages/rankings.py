"""排名 Rankings: one indicator across prefectures, counties or hospitals, with filters.

URL: ``/rankings?indicator=<id>&level=hospital&period=YYYY-MM&span=ytd&tier=三级&category=…&affiliation=…
&authority=…&pilot=1&region=<adcode>&lang=en``.

Ranks follow the indicator's direction (↓ indicators rank the lowest first).
At hospital level each row carries its tier's median and quartiles: the
province's open hospitals of that tier, same period and span, computed from
``query(level="hospital", filters={"tier": …})`` — a peer view, labelled as such,
not an aggregate. The downloads are :func:`opsmon.indicators.export.export_table`
of the same query: the CSV and Excel buttons send the indicator in view (``dcc.Download``);
the 全部指标 link fetches every indicator of the selection from
``/download/rankings.xlsx?indicator=all&…`` (:mod:`opsmon.dashboard.downloads`, streamed —
at national size that table is 125 000 rows).
"""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from opsmon.dashboard import auth, context, data, exports, paged_grid, url_query
from opsmon.dashboard import components as c
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import bar_ranking, empty_figure
from opsmon.dashboard.format import d3_format, period_label
from opsmon.dashboard.page import PERIOD, REGION, SPAN, Control, Page, choices, indicator
from opsmon.dashboard.strings import current_language, t
from opsmon.indicators import IDS, get, reporting
from opsmon.indicators.restrict import FILTERS, TIERS

LEVELS = ("prefecture", "county", "hospital")
DEFAULT_INDICATOR = "surplus_rate"
CHART_ROWS = 30
FILTER_IDS = ("tier", "category", "affiliation", "authority", "pilot")
# The download route's indicator value for every catalogue indicator at once (the page shows one).
ALL_INDICATORS = "all"
DOWNLOAD_PATH = "/download/rankings.{fmt}"


def levels() -> tuple[str, ...]:
    """The levels to rank at: a national instance ranks provinces too."""
    return (("province",) if c.regions()["level"].eq("nation").any() else ()) + LEVELS


PAGE = Page(__name__, path="/rankings", name_key="nav.rankings", permission="view_regions", order=10,
            quick_filter=True, paged_table=True, period_status=True, controls={
                "indicator": indicator(DEFAULT_INDICATOR),
                "level": Control(lambda q: url_query.choice(q.get("level"), levels(), "hospital")),
                "period": PERIOD, "span": SPAN, "region": REGION,
                **{key: choices(key, FILTERS[key]) for key in FILTER_IDS if key != "pilot"},
                # The pilot choice: '' (all), '1' (pilot hospitals only) or '0' (none of them).
                "pilot": Control(lambda q: {True: "1", False: "0"}.get(url_query.boolean(q.get("pilot")), "")),
            })
search_options = PAGE.search_options("rankings-region", c.region_choices)


def _view_filters(v: dict) -> dict:
    """The hospital filters among the controls' values *v*, as URL filters."""
    return url_query.filters_from_controls(*(v[key] for key in FILTER_IDS))


@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    controls = dbc.Row([
        c.labelled("common.indicator", c.indicator_dropdown("rankings-indicator", v["indicator"]),
                   "rankings-indicator", xs=12, md=6, xl=4),
        c.labelled("common.level", dbc.RadioItems(
            id="rankings-level", value=v["level"], inline=True, className="opsmon-radio",
            options=[{"label": t(f"level.{lv}"), "value": lv} for lv in levels()]), xs=12, md=6, xl=3),
        c.labelled("overview.period", c.period_dropdown("rankings-period", c.available_periods(), v["period"]),
                   "rankings-period", xs=6, md=4, xl=2),
        c.labelled("common.span", c.span_control("rankings-span", v["span"]), xs=12, md=8, xl=3),
    ], className="g-3 mb-2 align-items-end")
    filters_row = dbc.Row(c.filter_controls("rankings", v, v["region"]), className="g-2")
    return PAGE.frame(
        c.page_header(t("rankings.title"), t("rankings.subtitle")),
        controls,
        html.Div(filters_row, className="opsmon-filters mb-3"),
        PAGE.status(v),
        html.Div(id="rankings-summary", className="mb-2"),
        dbc.Row([
            dbc.Col(c.section(html.Span(id="rankings-chart-title"), [
                c.graph("rankings-chart"), html.Div(id="rankings-chart-note", className="opsmon-hint"),
            ]), lg=4),
            dbc.Col(c.section(html.Span(id="rankings-table-title"), [
                c.loading(html.Div(id="rankings-table")),
                html.Div(id="rankings-note", className="opsmon-hint"),
            ], actions=PAGE.table_actions() + download_all(v)), lg=8),
        ], className="g-3"),
    )


# ----------------------------------------------------------------------------------------- data
def selection(engine, indicator: str | None, level: str, period: str, span: str, region: str | None,
              view_filters: dict) -> pd.DataFrame:
    """The indicator API's frame for the view (what the downloads contain); *indicator* None: all of them."""
    return data.query(engine, indicator, level, period, span=span, region=region,
                      filters=url_query.api_filters(view_filters))


@memo
def ranking_frame(engine, indicator: str, level: str, period: str, span: str, region: str | None,
                  view_filters: dict, lang: str | None = None) -> pd.DataFrame:
    """The table: the query's rows with rank, last year's value and change, and (hospitals) tier peers.

    Memoised per view (*lang*: the language of its labels), so the grid's blocks of one view read it once."""
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
    frame["parent"] = frame["parent_code"].map(regions["name"]).fillna("")
    if level == "hospital":
        frame = frame.merge(tier_peers(engine, frame, indicator, period, span, region, view_filters),
                            on="code", how="left")
        frame["tier_label"] = [c.enum_label(x) if isinstance(x, str) else "—" for x in frame["tier"]]
        frame["href"] = c.hospital_hrefs(frame["code"], period)
    else:
        frame["href"] = [url_query.href("/", period=period, indicator=indicator, region=code)
                         for code in frame["code"]]
    frame["coverage"] = frame["reporting"] / frame["expected"].where(frame["expected"] > 0)
    frame = c.with_approx(frame, ind, hospital=level == "hospital")
    return frame.sort_values(["rank", "name"], na_position="last").reset_index(drop=True)


def tier_peers(engine, frame: pd.DataFrame, indicator: str, period: str, span: str, region: str | None,
               view_filters: dict) -> pd.DataFrame:
    """Per hospital of *frame*: its tier and the tier's peers — median, quartiles and number with a value among
    the open hospitals of that tier in the user's scope (whatever the view's region and filters narrow)."""
    narrowed = region or url_query.api_filters(view_filters)
    everyone = selection(engine, indicator, "hospital", period, span, None, {}) if narrowed else frame
    tiers = data.visible_hospitals(engine).set_index("hospital_code")["tier"]
    values = everyone[["code", "value"]].assign(tier=everyone["code"].map(tiers))
    values = values[values["tier"].isin(TIERS)]
    stats = c.quartiles(values.groupby("tier")["value"]).add_prefix("peer_")
    own = pd.DataFrame({"code": frame["code"], "tier": frame["code"].map(tiers)})
    return own.merge(stats, left_on="tier", right_index=True, how="left")


def _columns(ind, level: str, parts_format: str = ",.2~f") -> list[dict]:
    fmt = d3_format(ind)
    name_header = t(f"col.{level}")
    parent_header = t({"hospital": "col.county", "county": "col.prefecture", "prefecture": "col.province"}.get(
        level, "col.region"))
    change = (c.number_column("change", t("rankings.change_pp"), "+.1f", minWidth=100) if ind.unit == "%"
              else c.number_column("change", t("rankings.change_growth"), "+.1%", minWidth=100))
    columns = [
        c.number_column("rank", t("col.rank"), ",.0f", pinned="left", maxWidth=90, minWidth=80),
        c.link_column("name", name_header, pinned="left", minWidth=200 if level == "hospital" else 150),
    ]
    if level not in ("province", "prefecture"):
        columns.append({"field": "parent", "headerName": parent_header, "minWidth": 120})
    if level == "hospital":
        columns.append(c.column("tier_label", "col.tier", minWidth=95))
    columns += [
        c.number_column("value", c.indicator_title(ind.id), fmt, minWidth=110),
        c.approx_column(),
        c.number_column("numerator", t("col.numerator"), parts_format, minWidth=120),
        c.number_column("denominator", t("col.denominator"), parts_format, minWidth=120),
        c.number_column("last_year", t("col.last_year"), fmt, minWidth=100),
        change,
    ]
    if level == "hospital":
        columns += [c.number_column("peer_median", t("col.peer_median"), fmt, minWidth=100),
                    c.number_column("peer_q1", t("col.peer_q1"), fmt, minWidth=100),
                    c.number_column("peer_q3", t("col.peer_q3"), fmt, minWidth=100)]
    else:
        columns += [c.number_column("reporting", t("col.hospitals_reporting"), ",.0f", minWidth=90),
                    c.number_column("expected", t("col.hospitals_expected"), ",.0f", minWidth=90),
                    c.number_column("coverage", t("col.coverage"), ".1%", minWidth=90)]
    return columns


ROW_FIELDS = ["rank", "code", "name", "href", "parent", "tier_label", "value", "approx_text", "approx_tip",
              "numerator", "denominator",
              "last_year", "change", "peer_median", "peer_q1", "peer_q3", "reporting", "expected", "coverage"]

@PAGE.callback(
    Output("rankings-chart", "figure"), Output("rankings-table", "children"), Output("rankings-summary", "children"),
    Output("rankings-chart-title", "children"), Output("rankings-table-title", "children"),
    Output("rankings-chart-note", "children"), Output("rankings-note", "children"),
    *PAGE.inputs(),
)
def update(indicator, level, period, span, region, tier, category, affiliation, authority, pilot, view=None):
    """Chart, table and titles for the selection."""
    ind = get(indicator or DEFAULT_INDICATOR)
    view_filters = url_query.filters_from_controls(tier, category, affiliation, authority, pilot)
    title = f"{c.label(ind)} · {period_label(period)} · {c.span_label(span or 'month')}"
    if not period:
        return empty_figure(t("data.none_period")), c.empty(), None, title, "", "", ""
    frame = ranking_frame(context.reader(), ind.id, level, period, span or "month", region, view_filters,
                          lang=current_language())
    order = t("rankings.order_down" if ind.direction == "down" else
              "rankings.order_up" if ind.direction == "up" else "rankings.order_neutral")
    summary = html.Div([
        html.Span(t("rankings.summary").format(n=int(frame["value"].notna().sum()), total=len(frame)),
                  id="rankings-count"),
        html.Span(" · " + order, className="text-muted"),
        html.Span(" · " + t("filters.used").format(filters=exports.filters_text(view_filters, region)),
                  className="text-muted"),
    ], className="opsmon-note")
    if frame["value"].notna().sum() == 0:
        empty = c.empty("data.none_selection", title_key="data.none_period")
        return empty_figure(t("data.none_period")), empty, summary, title, t("rankings.table"), "", ""
    # Sums of money are large: whole yuan are enough; small parts (counts, rates) keep two decimals.
    big = frame[["numerator", "denominator"]].abs().median().max() >= 1000
    # Sent empty: the grid asks page_of_rows for the rows it shows (12 000 hospitals nationally).
    grid = c.paged_grid("rankings-grid", _columns(ind, level, ",.0f" if big else ",.2~f"), row_count=len(frame),
                        row_id="code", height=620)
    top = frame[frame["value"].notna()].head(CHART_ROWS)
    fig = bar_ranking(top, ind, title=c.label(ind), peer=frame["value"].median(), peer_label=t("rankings.median_line"),
                      approx_note=c.approx_text(ind, hospital=level == "hospital"))
    note = t("rankings.top_note").format(n=CHART_ROWS) if frame["value"].notna().sum() > CHART_ROWS else ""
    peer_note = t("rankings.peer_note") if level == "hospital" else ""
    return (fig, grid, summary, title, t("rankings.table_n").format(n=len(frame)), note, peer_note)


@PAGE.callback(Output("rankings-grid", "getRowsResponse"), Input("rankings-grid", "getRowsRequest"),
               *PAGE.inputs(as_state=True), State("rankings-search", "value"))
def page_of_rows(request, indicator, level, period, span, region, tier, category, affiliation, authority, pilot,
                 search_text=None, view=None):
    """The rows the grid asks for: the view's ranking (memoised), searched, filtered and sorted as the grid says."""
    if not request or not period:
        raise PreventUpdate
    view_filters = url_query.filters_from_controls(tier, category, affiliation, authority, pilot)
    frame = ranking_frame(context.reader(), get(indicator or DEFAULT_INDICATOR).id, level, period, span or "month",
                          region, view_filters, lang=current_language())
    return paged_grid.rows(frame, request, search=search_text, search_fields=("name", "code", "parent"),
                           fields=ROW_FIELDS)


def download_href(v: dict, fmt: str = "xlsx", indicator: str = ALL_INDICATORS, layout: str = "long") -> str:
    """The streamed download's URL for the controls' values *v*: the page's own query string, *indicator*
    instead of the one in view (the route reads the selection as the page does); *layout* 'wide': a row
    per region or hospital, a column per indicator."""
    wide = {"layout": "wide"} if layout == "wide" else {}
    return DOWNLOAD_PATH.format(fmt=fmt) + url_query.search(
        {**PAGE.params(v), "indicator": indicator, **wide, "lang": current_language()})


def download_all(v: dict) -> list:
    """The 全部指标 Excel link: a plain link (the browser saves the route's attachment), shown to users who may
    export — the route checks again. (Hidden, not left out, for the others: its href callback needs it.)"""
    hidden = None if auth.may("export") else {"display": "none"}
    return [dbc.Button(t(f"rankings.download_{name}"), id=f"rankings-xlsx-{name}", href=download_href(v, layout=layout),
                       external_link=True, size="sm", color="primary", outline=True, className="opsmon-download",
                       title=t(f"rankings.download_{name}_hint"), style=hidden)
            for name, layout in DOWNLOAD_LINKS]


# The 全部指标 links: the long table (a row per region and indicator), the wide one (a column per indicator).
DOWNLOAD_LINKS = (("all", "long"), ("wide", "wide"))


@PAGE.callback([Output(f"rankings-xlsx-{name}", "href") for name, _ in DOWNLOAD_LINKS], *PAGE.inputs())
def update_download_href(*args):
    """Keep the links on the selection in view."""
    v = dict(zip(PAGE.controls, args))
    return [download_href(v, layout=layout) for _, layout in DOWNLOAD_LINKS]


def export_selection(v: dict, fmt: str) -> tuple[pd.DataFrame, str, str, datetime | None]:
    """What a download of the controls' values *v* holds: the query frame in ranking order, its title, the
    file name and the data's as-of time. ``v["indicator"]`` may be :data:`ALL_INDICATORS`: every catalogue
    indicator, each ranked in its own direction, in catalogue order."""
    engine = context.reader()
    level, period, span, region = v["level"], v["period"], v["span"] or "month", v["region"]
    every = v["indicator"] == ALL_INDICATORS
    view_filters = _view_filters(v)
    frame = ranked(selection(engine, None if every else get(v["indicator"]).id, level, period, span, region,
                             view_filters))
    as_of = reporting.data_as_of(engine)
    label = t("rankings.all_indicators") if every else c.label(get(v["indicator"]))
    title = exports.selection_title(t("rankings.title"), label, period, span, view_filters, region)
    used = exports.filters_text(view_filters, region)
    name = exports.file_name(t("rankings.file"), label, t(f"level.{level}"), period, c.span_label(span),
                             used if used != t("filters.none") else "", as_of=as_of, ext=fmt)
    return frame, exports.sheet_safe(title), name, as_of


def ranked(frame: pd.DataFrame) -> pd.DataFrame:
    """*frame* (one or more indicators) in ranking order: by indicator (catalogue order), then each
    indicator's rank in its own direction (↓ indicators the lowest first), then name; no value last."""
    codes, ids = pd.factorize(frame["indicator"])  # each indicator looked up once, not once per row
    position = {i: n for n, i in enumerate(IDS)}
    down = np.array([get(i).direction == "down" for i in ids], dtype=bool)[codes]
    order = np.array([position[i] for i in ids], dtype=int)[codes]
    by_indicator = frame.groupby(codes)["value"]
    rank = by_indicator.rank(method="min", ascending=True).where(
        down, by_indicator.rank(method="min", ascending=False))
    return (frame.assign(_o=order, _r=rank).sort_values(["_o", "_r", "name"], na_position="last")
            .drop(columns=["_o", "_r"]))


@PAGE.download
def download(fmt: str, v: dict) -> dict:
    """The selection's query frame, in ranking order, as CSV or XLSX (via the indicator API's exporter)."""
    frame, title, name, as_of = export_selection(v, fmt)
    content = exports.indicator_table(frame, fmt, title=title, as_of=as_of)
    return exports.send(content, name, rows=len(frame))
