"""风险 Risk monitor: what is new, persisting and resolved in a month, by rule, level, region and tier.

URL: ``/risk?period=YYYY-MM&rule=deficit_12m,…&risk_level=red,orange&status=new&region=<adcode>&tier=三级&lang=en``.

Rows come from :func:`opsmon.indicators.risk.risks_frame` — the very reading ``opsmon risks
list`` makes (the region is passed to it; tier, rule, level and status narrow its frame) — in
its order: new, persisting, resolved, the most severe level first. Every row explains itself:
the values that triggered the rule and the threshold they passed
(:func:`opsmon.indicators.risk_rules.explain`, in the page's language), and for
``cash_forecast`` the month the cash cover is projected to fall below one month. The
download carries the columns of ``opsmon risks list --format json``
(:func:`opsmon.indicators.risk.risks_document`) plus that explanation. The map counts the
open (new or persisting) red and orange episodes by prefecture — and by the county-level
units the province administers directly.
"""

from __future__ import annotations

import json

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from opsmon import geo, periods
from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, exports, paged_grid
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import GRAPH_CONFIG, empty_figure, region_map, style_figure
from opsmon.dashboard.format import integer, money, number, percent, period_label
from opsmon.dashboard.outlines import outline
from opsmon.dashboard.page import PERIOD, REGION, Page, choices
from opsmon.dashboard.strings import current_language, t
from opsmon.indicators import Indicator, reporting
from opsmon.indicators.restrict import TIERS
from opsmon.indicators.risk import STATUSES, risks_document
from opsmon.indicators.risk_rules import BY_ID as RULES
from opsmon.indicators.risk_rules import LEVELS

SERIOUS = ("red", "orange")
# A stand-in catalogue entry so the shared map colours counts (more is worse).
_COUNT = Indicator("risk_count", "风险数", "Risks", "counts", "count", "roster", "1", unit="个", decimals=0,
                   direction="none")

PAGE = Page(__name__, path="/risk", name_key="nav.risk", permission="view_regions", order=30, quick_filter=True,
            paged_table=True, period_status=True, controls={"period": PERIOD, "rule": choices("rule", RULES),
                      "risk_level": choices("risk_level", LEVELS, id="level"),
                      "status": choices("status", STATUSES), "region": REGION, "tier": choices("tier", TIERS)})
search_options = PAGE.search_options("risk-region", c.region_choices)


@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    width = {"xs": 6, "md": 4, "xl": 2}
    controls = dbc.Row([
        c.labelled("overview.period", c.period_dropdown("risk-period", c.available_periods(), v["period"]),
                   "risk-period", xs=12, md=4, xl=2),
        c.labelled("col.rule", c.multi_dropdown("risk-rule", v["rule"], [
            {"label": c.label(r), "value": r.id} for r in RULES.values()]), "risk-rule", xs=12, md=8, xl=2),
        c.labelled("risk.level", c.multi_dropdown("risk-level", v["risk_level"], [
            {"label": c.risk_level_label(lv), "value": lv} for lv in reversed(LEVELS)]), "risk-level", **width),
        c.labelled("risk.change", c.multi_dropdown("risk-status", v["status"], [
            {"label": t(f"risk.status.{s}"), "value": s} for s in STATUSES]), "risk-status", **width),
        c.labelled("filter.region", c.region_dropdown("risk-region", v["region"]), "risk-region", **width),
        c.labelled("filter.tier", c.multi_dropdown("risk-tier", v["tier"], [
            {"label": c.enum_label(x), "value": x} for x in TIERS]), "risk-tier", **width),
    ], className="g-2")
    return PAGE.frame(
        c.page_header(t("risk.title"), t("risk.subtitle")),
        html.Div(controls, className="opsmon-filters mb-3"),
        PAGE.status(v),
        c.loading(html.Div(id="risk-kpis", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("risk.map_title"), [
                c.graph("risk-map"), html.Div(t("risk.map_hint"), className="opsmon-hint")]), lg=4),
            # The list is the wider half: every row carries the sentence explaining it.
            dbc.Col(c.section(html.Span(id="risk-table-title"), c.loading(html.Div(id="risk-table")),
                              actions=PAGE.table_actions()), lg=8),
        ], className="g-3"),
        c.section(t("risk.figures"), disposal_figures(), class_name="mt-3"),
    )


# ----------------------------------------------------------------------------------------- disposal figures
FIGURE_SHARES = (("assigned_in_time_share", "col.assigned_in_time"), ("answered_in_time_share", "col.answered_in_time"),
                 ("closed_share", "col.closed_share"))


def figures_level() -> str:
    """The regions the figures compare: those one level under the user's (a county compares itself)."""
    level = c.regions().set_index("adcode")["level"].get(c.home_region(), "province")
    return {"nation": "province", "province": "prefecture"}.get(level, "county")


@memo
def _figures(engine, level: str, stamp: tuple, today) -> pd.DataFrame:
    """The figures by region (memoised until a disposal record changes, or the day does: *stamp*, *today*)."""
    return data.disposal_figures(engine, level=level, today=today)


def disposal_figures() -> html.Div:
    """For leadership: per region, how fast orange and red risks are handled (:func:`opsmon.disposal.figures.by_region`)
    — the three shares as bars, and the table with the median days to close."""
    engine = context.reader()
    frame = _figures(engine, figures_level(), data.disposal_stamp(engine), periods.today())
    if frame.empty:
        return html.Div(t("risk.figures_none"), className="opsmon-empty-small", id="risk-figures-none")
    fig = go.Figure([go.Bar(x=frame["name"], y=frame[col], name=t(key),
                            hovertemplate="%{x}<br>" + t(key) + ": %{y:.0%}<extra></extra>")
                     for col, key in FIGURE_SHARES])
    style_figure(fig, 320)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.05])
    fig.update_layout(barmode="group")
    columns = [c.column("name", "col.name", pinned="left", minWidth=110),
               c.number_column("risks", t("col.disposal_items"), ",.0f", minWidth=90),
               *[c.number_column(col, t(key), ".0%", minWidth=100) for col, key in FIGURE_SHARES],
               c.number_column("median_days_to_close", t("col.median_days_to_close"), ",.0f", minWidth=100)]
    table = frame.astype(object).where(frame.notna(), None)
    return html.Div([
        dbc.Row([dbc.Col(dcc.Graph(id="risk-figures-chart", figure=fig, config=GRAPH_CONFIG), lg=6),
                 dbc.Col(c.grid("risk-figures-grid", table.to_dict("records"), columns, height=None, filters=False),
                         lg=6)], className="g-3"),
        html.Div(t("risk.figures_hint"), className="opsmon-hint"),
    ])


# ----------------------------------------------------------------------------------------- data
def metric_text(rule_id: str, value: float | None, detail=None) -> str:
    """A rule's metric as a person reads it (a ratio as %, money in 万元, months …), in the unit of the
    condition that fired (*detail*'s metric); cash_forecast adds its projected month."""
    if value is None or pd.isna(value):
        return "—"
    rule = RULES.get(rule_id)
    metric = detail.get("metric") if isinstance(detail, dict) else None
    unit = (rule.condition(metric).unit if metric and any(x.metric == metric for x in rule.conditions)
            else rule.unit) if rule else ""
    if rule_id == "cash_forecast" and projected(rule_id, detail):
        return t("risk.projected").format(value=metric_text("cash_short", value),
                                          period=projected(rule_id, detail))
    if rule_id == "report_missing":
        return t("overview.not_reported") if value >= 1 else "—"
    if unit == "%":
        return percent(value, 2 if abs(value) < 0.01 else 1)
    if unit == "元":
        return money(value)
    if unit == "月":
        return f"{number(value, 0 if float(value).is_integer() else 1)} {t('unit.months')}"
    if unit == "天":
        return f"{number(value, 0)} {t('unit.天')}"
    return number(value, 2)


@memo
def register_rows(engine, period: str, rules: list[str], levels: list[str], statuses: list[str],
                  region: str | None, tiers: list[str], lang: str | None = None) -> pd.DataFrame:
    """:func:`risk.risks_frame` (the CLI's rows, in its order) for the view, narrowed by tier, rule, level and
    status, with the display columns every row of the list needs to be sorted, filtered and searched on: the
    status's, rule's and level's names, the region's. Memoised per view (*lang*: its labels' language);
    the explanation and the link are made per block of the grid (:func:`explained`)."""
    # The details as JSON text: a grid block decodes its own hundred (explained), not the register's 20 000.
    _period, frame = data.risks_frame(engine, period, region=region, detail_as_text=True)
    if tiers:
        tier_of = data.visible_hospitals(engine).set_index("hospital_code")["tier"]
        frame = frame[frame["hospital_code"].map(tier_of).isin(tiers)]
    if rules:
        frame = frame[frame["rule"].isin(rules)]
    if levels:
        frame = frame[frame["level"].isin(levels)]
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    regions = c.regions().set_index("adcode")
    status_text = {s: t(f"risk.status.{s}") for s in STATUSES}
    rule_text = {r: c.label(rule) for r, rule in RULES.items()}
    level_text = {lv: c.risk_level_label(lv) for lv in LEVELS}
    frame = frame.assign(
        status_text=frame["status"].map(status_text),
        rule_text=frame["rule"].map(rule_text).fillna(frame["rule"]),
        level_text=frame["level"].map(level_text).fillna("—"),
        county=frame["adcode"].map(regions["name"]).fillna(""),
        prefecture=frame["adcode"].map(regions["geo_parent_adcode"]).map(regions["name"]).fillna(""),
        severity=frame["level"].map({lv: c.risk_severity(lv) for lv in LEVELS}).fillna(0).astype(int),
        # The grid's row ids must be text: its expression language has no String(), which gave every row the
        # id "undefined" — and the grid then recycled the first row's element for another row (a blank row).
        row_id="e" + frame["episode_id"].astype(str),
    )
    return frame.reset_index(drop=True)  # risks_frame's order: status, most severe first, region, hospital, rule


def explained(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """*frame* (:func:`register_rows`) with what each row says of itself: the triggering value as a person reads
    it, the sentence explaining it, cash_forecast's projected month, the value's unit and the hospital's link;
    its details decoded."""
    frame = frame.assign(detail=[json.loads(d) if isinstance(d, str) else d for d in frame["detail"]])
    return frame.assign(
        metric_text=[metric_text(r, m, d) for r, m, d in zip(frame["rule"], frame["metric"], frame["detail"])],
        explanation=[c.risk_explanation(r, lv, d) for r, lv, d in zip(frame["rule"], frame["level"],
                                                                        frame["detail"])],
        projected_period=[projected(r, d) for r, d in zip(frame["rule"], frame["detail"])],
        # The export's metric is a number with its unit beside it (text like "-12.3%" would be
        # neutralised against formula injection, and is no use to an analyst anyway).
        metric_unit=[RULES[r].unit if r in RULES else "" for r in frame["rule"]],
        href=c.hospital_hrefs(frame["hospital_code"], period),
    )


def changes_frame(engine, period: str, rules: list[str], levels: list[str], statuses: list[str],
                  region: str | None, tiers: list[str]) -> pd.DataFrame:
    """Every row of the view with every display column (:func:`register_rows`, :func:`explained`): the download's."""
    return explained(register_rows(engine, period, rules, levels, statuses, region, tiers,
                                   lang=current_language()), period)


def projected(rule_id: str, detail) -> str | None:
    """cash_forecast's projected month (cash cover below one month), else None."""
    return (detail or {}).get("projected_period") if rule_id == "cash_forecast" and isinstance(detail, dict) else None


def export_frame(engine, period: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The download's rows: ``opsmon risks list --format json``'s items (:func:`risk.risks_document` of the
    same rows), every column of them, then the explanation in the page's language."""
    items = pd.DataFrame(risks_document(period, frame)["risks"], columns=list(DOCUMENT_COLUMNS))
    return items.assign(explanation=frame["explanation"].tolist())


def map_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Open red/orange episodes per mapped unit: prefecture or directly administered county
    (a province's instance), province (a national one)."""
    regions = c.regions()
    province = c.root_region()
    parent = regions.set_index("adcode")["parent_adcode"]
    open_serious = frame[frame["status"].isin(["new", "persisting"]) & frame["level"].isin(SERIOUS)]
    if province == geo.NATION:
        units = regions[regions["level"] == "province"]
        unit_of = [geo.province_of(a) for a in open_serious["adcode"]]
    else:
        units = regions[(regions["level"] == "prefecture") |
                        ((regions["level"] == "county") & (regions["parent_adcode"] == province))]
        unit_of = [a if parent.get(a) == province else parent.get(a) for a in open_serious["adcode"]]
    counts = open_serious.assign(unit=unit_of).groupby("unit").agg(
        value=("episode_id", "count"), hospitals=("hospital_code", "nunique"))
    out = units[["adcode", "name", "level"]].rename(columns={"adcode": "code"}).merge(
        counts, left_on="code", right_index=True, how="left")
    out["value"] = out["value"].fillna(0).astype(float)
    out["hospitals"] = out["hospitals"].fillna(0).astype(int)
    out["is_direct"] = out["level"] == "county"
    return out.sort_values(["is_direct", "code"]).reset_index(drop=True)


# The download's columns: those of ``opsmon risks list --format json`` (risk.risks_document), then the
# explanation. The CSV's header row is these names (like the indicator API's CSV); the XLSX's the labels.
DOCUMENT_COLUMNS = ("hospital_code", "hospital_name", "adcode", "rule", "level", "value", "first_period",
                    "last_period", "status", "projected_period")
EXPORT_COLUMNS = [("hospital_code", "col.hospital_code", "@"), ("hospital_name", "col.hospital", None),
                  ("adcode", "col.adcode", "@"), ("rule", "col.rule_id", None), ("level", "col.level", None),
                  ("value", "col.metric", "#,##0.0000"), ("first_period", "col.first_period", None),
                  ("last_period", "col.last_period", None), ("status", "col.status", None),
                  ("projected_period", "col.projected_period", None), ("explanation", "col.explanation", None)]


def _columns() -> list[dict]:
    return [
        c.pill_column("status_text", "col.status", "status", minWidth=90, maxWidth=110, pinned="left"),
        c.link_column("name", t("col.hospital"), href_field="href", pinned="left", minWidth=170),
        c.column("rule_text", "col.rule", minWidth=110, wrapText=True),
        c.risk_column("level_text", minWidth=70, maxWidth=90),
        # Made per block as it is sent: nothing to sort or filter the whole list by.
        c.column("metric_text", "col.metric", minWidth=110, wrapText=True, sortable=False, filter=False),
        # One row height in a paged grid: three lines of the sentence, the rest in its tooltip.
        {**c.explanation_column(), "sortable": False, "filter": False, "autoHeight": False},
        c.column("prefecture", "col.prefecture", minWidth=95),
        c.column("county", "col.county", minWidth=95),
        c.column("first_period", "col.first_period", minWidth=90),
        c.number_column("months_firing", t("col.months_firing"), ",.0f", minWidth=80),
    ]


def _kpis(frame: pd.DataFrame) -> dbc.Row:
    counts = frame["status"].value_counts()
    serious = frame[frame["level"].isin(SERIOUS)]
    width = {"xs": 6, "md": 3}
    return dbc.Row([
        c.kpi(t("risk.status.new"), integer(counts.get("new", 0)), "risk-kpi-new",
              sub=t("risk.kpi.serious").format(n=int((serious["status"] == "new").sum())),
              tone="bad" if counts.get("new", 0) else None, width=width),
        c.kpi(t("risk.status.persisting"), integer(counts.get("persisting", 0)), "risk-kpi-persisting",
              sub=t("risk.kpi.serious").format(n=int((serious["status"] == "persisting").sum())), width=width),
        c.kpi(t("risk.status.resolved"), integer(counts.get("resolved", 0)), "risk-kpi-resolved",
              tone="good" if counts.get("resolved", 0) else None, width=width),
        c.kpi(t("risk.kpi.hospitals"),
              integer(frame.loc[frame["status"] != "resolved", "hospital_code"].nunique()), "risk-kpi-hospitals",
              sub=t("risk.kpi.hospitals_sub"), width=width),
    ], className="g-3")


# What a block of the list carries.
ROW_FIELDS = ["row_id", "status", "status_text", "name", "href", "hospital_code", "rule_text", "level", "level_text",
              "metric_text", "explanation", "prefecture", "county", "first_period", "months_firing"]


@PAGE.callback(Output("risk-kpis", "children"), Output("risk-map", "figure"), Output("risk-table", "children"),
               Output("risk-table-title", "children"), *PAGE.inputs())
def update(period, rules, levels, statuses, region, tiers, view=None):
    """Counts, the map of open serious risks and the list for the selection (sent empty: it asks page_of_rows)."""
    if not period:
        return c.empty(), empty_figure(t("data.none_period")), c.empty(), t("risk.table")
    engine = context.reader()
    frame = register_rows(engine, period, rules or [], levels or [], statuses or [], region, tiers or [],
                          lang=current_language())
    counts = map_counts(frame)
    counts["label"] = counts["name"].where(~counts["is_direct"], c.direct_label(counts["name"]))
    counts["extra"] = [t("risk.map_hospitals").format(n=n) for n in counts["hospitals"]]
    fig = region_map(counts, outline("units", c.root_region())[1], _COUNT, title=t("risk.map_count"),
                     height=440, scale={"colorscale": "OrRd", "zmin": 0})
    title = t("risk.table_n").format(period=period_label(period), n=len(frame))
    if frame.empty:
        table = html.Div(t("risk.none"), className="opsmon-empty-small")
    else:
        table = c.paged_grid("risk-grid", _columns(), row_count=len(frame), row_id="row_id", height=560,
                             row_height=66)
    return _kpis(frame), fig, table, title


@PAGE.callback(Output("risk-grid", "getRowsResponse"), Input("risk-grid", "getRowsRequest"),
               *PAGE.inputs(as_state=True), State("risk-search", "value"))
def page_of_rows(request, period, rules, levels, statuses, region, tiers, search_text=None, view=None):
    """The rows the grid asks for: the view's list (memoised), searched, filtered and sorted as the grid says,
    each block explained as it is sent."""
    if not request or not period:
        raise PreventUpdate
    frame = register_rows(context.reader(), period, rules or [], levels or [], statuses or [], region, tiers or [],
                          lang=current_language())
    return paged_grid.rows(frame, request, search=search_text, fields=ROW_FIELDS,
                           search_fields=("name", "hospital_code", "rule_text", "prefecture", "county"),
                           finish=lambda block: explained(block, period))


@PAGE.download
def download(fmt: str, v: dict) -> dict:
    """The risk list of the selection as CSV or XLSX, its filters in the title: the columns of
    ``opsmon risks list --format json`` (the same rows, through the same function) and the explanation."""
    engine = context.reader()
    period, rules, levels, statuses = v["period"], v["rule"] or [], v["risk_level"] or [], v["status"] or []
    frame = changes_frame(engine, period, rules, levels, statuses, v["region"], v["tier"] or [])
    rows = export_frame(engine, period, frame)
    as_of = reporting.data_as_of(engine)
    parts = [f"{t('col.rule')}={'、'.join(c.label(RULES[r]) for r in rules)}" if rules else None,
             f"{t('risk.level')}={'、'.join(c.risk_level_label(x) for x in levels)}" if levels else None,
             f"{t('risk.change')}={'、'.join(t(f'risk.status.{s}') for s in statuses)}" if statuses else None,
             exports.filters_text({"tier": v["tier"] or []}, v["region"])]
    subtitle = t("filters.used").format(filters="；".join(p for p in parts if p))
    title = t("risk.export_title").format(period=period_label(period))
    # CSV: the JSON document's keys as the header (a machine reads both alike); XLSX: the labels.
    columns = [(col, col if fmt == "csv" else t(key), fmt_) for col, key, fmt_ in EXPORT_COLUMNS]
    content = exports.table(rows, columns, fmt, title=title, subtitle=subtitle, as_of=as_of)
    return exports.send(content, exports.file_name(t("risk.file"), period, as_of=as_of, ext=fmt), rows=len(rows))
