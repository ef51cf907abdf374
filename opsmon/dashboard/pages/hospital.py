"""医院 Hospital profile: ``/hospital/<code>?period=YYYY-MM&span=month``.

Registry facts; the key indicators as cards beside the median of the hospitals of
the same tier (peers: the province's open hospitals of that tier, same period and
span — computed from ``query(level="hospital", filters={"tier": …})``); 36-month
trends; the hospital's risk history; its monthly and progress revisions with the
files that brought them.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Output, dcc, html
from plotly.subplots import make_subplots

from opsmon.dashboard import auth, context, data, todo, url_query
from opsmon.dashboard import components as c
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import FONT, PALETTE, approx_lines, empty_figure
from opsmon.dashboard.format import d3_format, indicator_value, period_label, timestamp
from opsmon.dashboard.page import PERIOD, SPAN, Page
from opsmon.dashboard.strings import in_language, t
from opsmon.indicators import get
from opsmon.indicators.programme import EXTRAS, PROGRAMME_IDS
from opsmon.indicators.risk_rules import BY_ID as RULES
from opsmon.ingest.fields import FIELDS

KEY_IDS = ["surplus_rate", "medical_surplus_rate", "debt_ratio", "cash_months", "personnel_expense_share",
           "medical_service_revenue_share", "avg_inpatient_cost", "salary_arrears_total"]
TREND_IDS = ["surplus_rate", "debt_ratio", "cash_months", "personnel_expense_share"]
TIER_OF_LEVEL = {"三级甲等": "三级", "三级乙等": "三级", "三级": "三级", "二级甲等": "二级", "二级乙等": "二级",
                 "二级": "二级", "一级": "一级", "未定级": "未定级"}
REGISTRY_FIELDS = ("level", "category", "affiliation", "authority", "is_pilot", "is_budget_managed",
                   "alliance_lead_code")

# Open to every signed-in user: the data are scoped like everything else (a hospital user sees only its own).
PAGE = Page(__name__, path_template="/hospital/<code>", name_key="nav.hospital", permission=None, order=90,
            period_status=True, controls={"period": PERIOD, "span": SPAN})


def registry(code: str | None) -> dict | None:
    """The hospital's current registry row (None when unknown), with its tier."""
    if not code:
        return None
    frame = data.current_values(context.reader(), "registry", pd.DataFrame({"hospital_code": [code.upper()]}))
    if frame.empty:
        return None
    row = frame.iloc[0].to_dict()
    row["tier"] = TIER_OF_LEVEL.get(row.get("level"), "未定级")
    return row


def _field_label(code: str) -> str:
    field = next(f for f in FIELDS["registry"] if f.code == code)
    return in_language(field.label, field.en)


def _facts(row: dict) -> html.Div:
    regions = c.regions()
    by_code = regions.set_index("adcode")
    county = row["adcode"]
    prefecture = by_code.loc[county, "geo_parent_adcode"] if county in by_code.index else None
    items = []
    for code in REGISTRY_FIELDS:
        value = row.get(code)
        if code == "alliance_lead_code":
            if not isinstance(value, str) or not value.strip():
                continue
            lead = registry(value)
            value = dcc.Link(lead["name"] if lead else value, href=c.hospital_href(value.strip()))
        elif isinstance(value, bool):
            value = t("common.yes" if value else "common.no")
        else:
            value = c.enum_label(value)
        items += [html.Dt(_field_label(code), className="col-5 text-muted fw-normal"),
                  html.Dd(value, className="col-7 mb-1")]
    # Links to the region's overview only for users who may open it (not a hospital user).
    in_scope = c.regions_in_scope()

    def region(code: str) -> Any:
        name = c.region_name(code, regions)
        return dcc.Link(name, href=url_query.href("/", region=code)) if code in in_scope else name

    items += [html.Dt(t("hospital.region"), className="col-5 text-muted fw-normal"),
              html.Dd([region(prefecture) if prefecture else "—", " · ", region(county)],
                      className="col-7 mb-1"),
              html.Dt(t("col.hospital_code"), className="col-5 text-muted fw-normal"),
              html.Dd(html.Code(row["hospital_code"]), className="col-7 mb-1")]
    return html.Dl(items, className="row mb-0 opsmon-facts")


@PAGE.layout
def layout(v: dict, code: str | None = None, **_query: str) -> html.Div:
    row = registry(code)
    if row is None:
        return html.Div([
            c.page_header(t("hospital.not_found")),
            c.empty("hospital.not_found_hint", title_key="hospital.not_found"),
        ])
    code, period = row["hospital_code"], v["period"]
    badges = [dbc.Badge(c.enum_label(row["level"]), color="primary", className="me-1"),
              dbc.Badge(c.enum_label(row["category"]), color="secondary", className="me-1"),
              dbc.Badge(c.enum_label(row["affiliation"]), color="light", text_color="dark",
                        className="me-1")]
    if row.get("is_pilot"):
        badges.append(dbc.Badge(t("hospital.pilot"), color="success", className="me-1"))
    header = c.page_header(row["name"], html.Div(badges, className="mt-1"), actions=[
        dcc.Link(t("hospital.see_trends"), href=url_query.href("/trends", codes=[code], indicator="surplus_rate"),
                 className="btn btn-sm btn-outline-primary"),
        dcc.Link(t("hospital.see_rankings"),
                 href=url_query.href("/rankings", level="hospital", tier=[row["tier"]], period=period),
                 className="btn btn-sm btn-outline-secondary"),
    ])
    controls = dbc.Row([
        c.labelled("overview.period", c.period_dropdown("hospital-period", c.available_periods(), period),
                   "hospital-period", xs=12, md=4, xl=3),
        c.labelled("common.span", c.span_control("hospital-span", v["span"]), xs=12, md=8),
    ], className="mb-3 g-3 align-items-end")
    return PAGE.frame(
        header,
        controls,
        PAGE.status(v, {"code": code}),
        own_todo(code),
        c.loading(html.Div(id="hospital-kpis", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("hospital.facts"), _facts(row)), lg=4),
            dbc.Col(c.section(t("hospital.programme"), c.loading(html.Div(id="hospital-programme"))), lg=8),
        ], className="g-3 mb-3"),
        c.section(t("hospital.trends"), [c.graph("hospital-trends")], class_name="mb-3"),
        c.section(t("hospital.disposals"), disposal_status(code), class_name="mb-3"),
        c.section(t("hospital.risks"), risk_history(code), class_name="mb-3"),
        c.section(t("hospital.revisions"), revisions(code)),
        code=code, tier=row["tier"],
    )


# ----------------------------------------------------------------------------------------- cards
@memo
def tier_statistics(engine, tier: str, period: str, span: str, ids: tuple[str, ...] = tuple(KEY_IDS)) -> pd.DataFrame:
    """Per indicator: the median, quartiles and number with a value of the tier's hospitals in the user's scope —
    the same for every hospital of the tier (memoised per tier, month and span: one read serves them all)."""
    frame = data.query(engine, list(ids), "hospital", period, span=span, filters={"tier": tier})
    return c.quartiles(frame.groupby("indicator")["value"])


def peer_frame(engine, code: str, tier: str, period: str, span: str, ids=KEY_IDS) -> pd.DataFrame:
    """Per indicator: this hospital's value and whether it is 近似 (``approx``), the tier's median, quartiles
    and number of peers with a value."""
    own = data.fetch(engine, list(ids), "hospital", [period], span=span, code=code)
    own = own.set_index("indicator")[["value", "approx"]]
    return tier_statistics(engine, tier, period, span, tuple(ids)).join(own, how="left").reindex(list(ids))


def _comparison(ind, value: float, median: float) -> tuple[str, str | None]:
    if pd.isna(value) or pd.isna(median):
        return "", None
    higher = value > median
    word = t("hospital.above" if higher else "hospital.below") if value != median else t("hospital.equal")
    good = {"up": higher, "down": not higher}.get(ind.direction)
    return word, (None if good is None or value == median else ("good" if good else "bad"))


def kpi_cards(engine, code: str, tier: str, period: str, span: str) -> dbc.Row:
    peers = peer_frame(engine, code, tier, period, span)
    cards = []
    # A hospital user's scope holds only its own hospital: no peers to compare with (and none to disclose).
    alone = data.scope() == code
    # Without this month's report the cards say so, rather than set a peer median beside a blank.
    missing = c.reporting_counts(period, code)[0] == 0
    for ind_id, p in peers.iterrows():
        ind = get(ind_id)
        word, tone = (None, None) if alone or missing else _comparison(ind, p["value"], p["median"])
        sub = t("hospital.not_reported") if missing else t("hospital.no_peers") if alone else \
            t("hospital.peer_line").format(tier=c.enum_label(tier), median=indicator_value(ind, p["median"]),
                                           n=int(p["n"]) if pd.notna(p["n"]) else 0)
        cards.append(c.kpi(c.label(ind), indicator_value(ind, p["value"]), f"hospital-kpi-{ind_id}",
                           sub=[sub, html.Span(f" · {word}", className=f"kpi-cmp kpi-cmp-{tone}") if word else None],
                           badge=c.approx_badge(ind, p["approx"], hospital=True, id=f"hospital-approx-{ind_id}"),
                           tone=tone))
    return dbc.Row(cards, className="g-3")


def programme_status(engine, code: str, period: str) -> html.Div:
    """The hospital's programme checklist as of *period*; a stale or missing progress report says so.

    Besides the catalogue's programme indicators, the two progress fields no indicator
    reports (运营管理部门, 内部控制评价: :data:`opsmon.indicators.programme.EXTRAS`).
    """
    own = data.fetch(engine, [*PROGRAMME_IDS, *EXTRAS], "hospital", [period], code=code).set_index("indicator")
    if own.empty:
        return c.empty()
    items = []
    for ind in [get(i) for i in PROGRAMME_IDS] + list(EXTRAS):
        ind_id = ind.id
        value = own.loc[ind_id, "value"] if ind_id in own.index else None
        if value is None or pd.isna(value):
            continue  # not this hospital's population (e.g. a tertiary-only indicator)
        if ind.kind == "count":
            mark, cls = indicator_value(ind, value), "opsmon-check-count"
        else:
            done = value >= 1
            mark, cls = ("✓", "opsmon-check-yes") if done else ("✗", "opsmon-check-no")
        approx = own.loc[ind_id, "approx"] if ind_id in own.index and "approx" in own else False
        items.append(html.Li([html.Span(mark, className=f"opsmon-check {cls}"), c.label(ind),
                              c.approx_badge(ind, approx, hospital=True)]))
    reported = own["reporting"].max() if len(own) else 0
    note = None
    if not reported:  # no status: never reported, or the latest report is over two quarters old (进展未更新)
        st = data.programme_status(engine, period, hospital=code)
        stale = len(st) and bool(st["stale"].iloc[0])
        note = html.Div(t("hospital.stale_progress").format(period=period_label(st["status_period"].iloc[0]))
                        if stale else t("hospital.no_progress"), className="opsmon-hint", id="hospital-progress-note")
    return html.Div([html.Ul(items, className="opsmon-checklist"), note])


def trend_figure(engine, code: str, period: str):
    start = c.months_before(period, c.HISTORY_MONTHS - 1)
    fig = make_subplots(rows=2, cols=2, subplot_titles=[c.label(get(i)) for i in TREND_IDS],
                        vertical_spacing=0.16, horizontal_spacing=0.08)
    any_data = False
    for n, ind_id in enumerate(TREND_IDS):
        ind = get(ind_id)
        frame = data.series(engine, ind_id, code, start, period)
        known = frame["value"].notna()
        if known.any():
            frame = frame.loc[known.idxmax():]  # from the first month with data
            any_data = True
        fmt = d3_format(ind)
        approx = approx_lines(frame, c.approx_text(ind, hospital=True))  # a 近似 month: hollow, and says why
        fig.add_scatter(x=frame["period"], y=frame["value"], mode="lines+markers", name=c.label(ind),
                        line={"color": PALETTE[n % len(PALETTE)], "width": 2}, customdata=approx,
                        marker={"size": 5, "symbol": ["circle-open" if a else "circle" for a in approx]},
                        hovertemplate=f"%{{x}}: %{{y:{fmt}}}%{{customdata}}<extra></extra>", row=n // 2 + 1,
                        col=n % 2 + 1)
        fig.update_yaxes(tickformat=".1%" if ind.unit == "%" else None, row=n // 2 + 1, col=n % 2 + 1)
    if not any_data:
        return empty_figure(t("data.none_period"))
    fig.update_layout(height=520, showlegend=False, font=FONT, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(gridcolor="#e9ecef", type="date", tickformat="%Y-%m", hoverformat="%Y-%m")
    fig.update_yaxes(gridcolor="#e9ecef")
    fig.update_annotations(font={"size": 13})
    return fig


@PAGE.callback(Output("hospital-kpis", "children"), Output("hospital-programme", "children"),
               Output("hospital-trends", "figure"), *PAGE.inputs())
def update(period: str | None, span: str, view: dict):
    """The cards beside the tier's median, the programme checklist and the trends for the month."""
    engine = context.reader()
    if not period:
        return c.empty(), c.empty(), empty_figure(t("data.none_period"))
    return (kpi_cards(engine, view["code"], view["tier"], period, span or "month"),
            programme_status(engine, view["code"], period), trend_figure(engine, view["code"], period))


# ----------------------------------------------------------------------------------------- risk disposal
def own_todo(code: str):
    """The 待办 panel, for the hospital's own user only (this is where they land)."""
    user = auth.current_user()
    own = user is not None and (user.hospital_code or "").strip() == code.strip()
    return todo.panel("hospital") if own else None


def disposal_status(code: str):
    """The disposal of each of the hospital's orange and red risks: rule, level, status, deadline, and a link to
    the item on the 风险处置 page."""
    frame = data.list_disposals(context.reader(), hospital=code)
    if frame.empty:
        return html.Div(t("hospital.no_disposals"), className="opsmon-empty-small", id="hospital-no-disposals")
    rows = pd.DataFrame({
        "rule": [c.label(RULES[r]) if r in RULES else r for r in frame["rule"]],
        "level_text": [c.risk_level_label(x) for x in frame["level"]],
        "level": frame["level"],
        "status": [c.disposal_status_label(s) for s in frame["status"]],
        "pill": [c.DISPOSAL_PILL.get(s, "default") for s in frame["status"]],
        "due_on": [d.isoformat() if hasattr(d, "isoformat") and not pd.isna(d) else "—" for d in frame["due_on"]],
        "open": t("col.open_item"),
        "href": [url_query.href("/disposal", id=int(i)) for i in frame["disposal_id"]],
    })
    columns = [
        c.column("rule", "col.rule", minWidth=130),
        c.risk_column("level_text", minWidth=80),
        c.pill_column("status", "col.disposal_status", "pill", minWidth=90),
        c.column("due_on", "col.due_on", minWidth=100),
        c.link_column("open", t("col.open_item"), href_field="href", minWidth=90),
    ]
    return c.grid("hospital-disposal-grid", rows.to_dict("records"), columns, height=None, filters=False)


# ----------------------------------------------------------------------------------------- history tables
def risk_history(code: str):
    """The hospital's register episodes — open ones first, the most severe first, then the newest — each
    explained: the values that triggered it and the threshold (for cash_forecast, the projected month)."""
    frame = data.risk_register(context.reader(), hospital=code)
    if frame.empty:
        return html.Div(t("hospital.no_risks"), className="opsmon-empty-small")
    frame = frame.assign(_open=frame["resolved_period"].isna(), _sev=[c.risk_severity(x) for x in frame["level"]])
    frame = frame.sort_values(["_open", "_sev", "first_period", "rule"], ascending=[False, False, False, True])
    rows = pd.DataFrame({
        "rule": [c.label(RULES[r]) if r in RULES else r for r in frame["rule"]],
        "level_text": [c.risk_level_label(x) for x in frame["level"]],
        "level": frame["level"],
        "max_level": [c.risk_level_label(x) for x in frame["max_level"]],
        "explanation": [c.risk_explanation(r, lv, d) for r, lv, d in zip(frame["rule"], frame["level"],
                                                                          frame["detail"])],
        "first_period": frame["first_period"],
        "last_period": frame["last_period"],
        "resolved_period": frame["resolved_period"].fillna("—"),
        "status": [t("risk.status.open" if pd.isna(r) else "risk.status.closed")
                   for r in frame["resolved_period"]],
        "pill": ["open" if pd.isna(r) else "closed" for r in frame["resolved_period"]],
        "months": frame["months_firing"],
    })
    columns = [
        c.column("rule", "col.rule", pinned="left", minWidth=130),
        c.risk_column("level_text", minWidth=80),
        c.pill_column("status", "col.status", "pill", minWidth=80),
        c.explanation_column(),
        c.column("first_period", "col.first_period", minWidth=90),
        c.column("last_period", "col.last_period", minWidth=90),
        c.column("resolved_period", "col.resolved_period", minWidth=90),
        c.number_column("months", t("col.months_firing"), ",.0f", minWidth=80),
        c.column("max_level", "col.max_level", minWidth=80),
    ]
    return c.grid("hospital-risk-grid", rows.to_dict("records"), columns,
                  height=None if len(rows) <= 8 else 420)


def revisions(code: str):
    engine = context.reader()
    frames = []
    for kind in ("monthly", "progress"):
        frame = data.list_revisions(engine, code, kind=kind)
        frames.append(frame.assign(kind=t(f"kind.short.{kind}")))
    frame = pd.concat(frames, ignore_index=True)
    if frame.empty:
        return html.Div(t("hospital.no_revisions"), className="opsmon-empty-small")
    frame = frame.sort_values(["received_at", "period"], ascending=False)
    rows = pd.DataFrame({
        "period": frame["period"],
        "kind": frame["kind"],
        "revision": frame["revision"],
        "current": [t("common.yes") if x else "" for x in frame["is_current"]],
        "file": frame["file_name"],
        "user": frame["username"],
        "received": [timestamp(x) if pd.notna(x) else "—" for x in frame["received_at"]],
    })
    columns = [
        c.column("period", "col.period", pinned="left", minWidth=90),
        c.column("kind", "history.kind", minWidth=110),
        c.number_column("revision", t("col.revision"), ",.0f", minWidth=70),
        c.column("current", "col.is_current", minWidth=70),
        c.column("received", "history.received_at", minWidth=130),
        c.column("file", "history.file_name", minWidth=180, tooltipField="file"),
        c.column("user", "history.username", minWidth=90),
    ]
    return c.grid("hospital-revisions-grid", rows.to_dict("records"), columns, height=320)
