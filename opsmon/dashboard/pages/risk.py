"""风险 Risk monitor: what is new, persisting and resolved in a month, by rule, level, region and tier.

URL: ``/risk?period=YYYY-MM&rule=deficit_ytd,…&risk_level=red,orange&status=new&region=<adcode>&tier=三级&lang=en``.

Rows come from :func:`opsmon.indicators.risk.changes` (region and tier are passed
to it; rule, level and status narrow its frame). The map counts the open
(new or persisting) red and orange episodes by prefecture — and by the
county-level units the province administers directly.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, Patch, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsmon import geo
from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, exports, state
from opsmon.dashboard.figures import GRAPH_CONFIG, empty_figure, region_map
from opsmon.dashboard.format import integer, money, number, percent, period_label
from opsmon.dashboard.pages.overview import province_geojson
from opsmon.dashboard.strings import t
from opsmon.indicators import Indicator, reporting
from opsmon.indicators.restrict import TIERS
from opsmon.indicators.risk import STATUSES as RISK_STATUSES
from opsmon.indicators.risk_rules import BY_ID as RULES
from opsmon.indicators.risk_rules import LEVELS

PATH = "/risk"
STATUSES = RISK_STATUSES
SERIOUS = ("red", "orange")
# A stand-in catalogue entry so the shared map colours counts (more is worse).
_COUNT = Indicator("risk_count", "风险数", "Risks", "counts", "count", "roster", "1", unit="个", decimals=0,
                   direction="none")


def register() -> None:
    dash.register_page(__name__, path=PATH, name="nav.risk", title=f"{t('nav.risk')} · {t('app.title')}",
                       layout=layout, order=30)


CONTROLS = [("risk-period", "value", "period"), ("risk-rule", "value", "rule"), ("risk-level", "value", "risk_level"),
            ("risk-status", "value", "status"), ("risk-region", "value", "region"), ("risk-tier", "value", "tier")]


def read(query: dict, periods: list[str] | None = None) -> dict:
    periods = c.available_periods() if periods is None else periods
    return {"period": state.period(query.get("period"), periods), "rule": state.choices(query.get("rule"), RULES),
            "risk_level": state.choices(query.get("risk_level"), LEVELS),
            "status": state.choices(query.get("status"), STATUSES),
            "region": state.choice(query.get("region"), set(c.regions()["adcode"]) - {c.province()}, None),
            "tier": state.choices(query.get("tier"), TIERS)}


def params(v: dict, view: dict | None = None) -> dict:
    return dict(v)


def layout(lang: str | None = None, **query: str) -> html.Div:
    lang = state.language(lang)
    periods = c.available_periods()
    v = read(query, periods)
    period, rules, levels, statuses, region, tiers = (v["period"], v["rule"], v["risk_level"], v["status"],
                                                       v["region"], v["tier"])
    controls = dbc.Row([
        dbc.Col([dbc.Label(t("overview.period", lang), html_for="risk-period"),
                 c.period_dropdown("risk-period", periods, period, lang)], xs=12, md=4, xl=2),
        dbc.Col([dbc.Label(t("col.rule", lang), html_for="risk-rule"),
                 c.dropdown(lang, id="risk-rule", multi=True, value=rules, placeholder=t("filter.all", lang),
                              options=[{"label": r.label(lang), "value": r.id} for r in RULES.values()])],
                xs=12, md=8, xl=2),
        dbc.Col([dbc.Label(t("risk.level", lang), html_for="risk-level"),
                 c.dropdown(lang, id="risk-level", multi=True, value=levels, placeholder=t("filter.all", lang),
                              options=[{"label": c.risk_level_label(lv, lang), "value": lv}
                                       for lv in reversed(LEVELS)])], xs=6, md=4, xl=2),
        dbc.Col([dbc.Label(t("risk.change", lang), html_for="risk-status"),
                 c.dropdown(lang, id="risk-status", multi=True, value=statuses, placeholder=t("filter.all", lang),
                              options=[{"label": t(f"risk.status.{s}", lang), "value": s} for s in STATUSES])],
                xs=6, md=4, xl=2),
        dbc.Col([dbc.Label(t("filter.region", lang), html_for="risk-region"),
                 c.dropdown(lang, id="risk-region", value=region, placeholder=c.whole_region_label(lang),
                              options=c.region_options(lang, include_root=False))], xs=6, md=4, xl=2),
        dbc.Col([dbc.Label(t("filter.tier", lang), html_for="risk-tier"),
                 c.dropdown(lang, id="risk-tier", multi=True, value=tiers, placeholder=t("filter.all", lang),
                              options=[{"label": c.enum_label(x, lang), "value": x} for x in TIERS])],
                xs=6, md=4, xl=2),
    ], className="g-2")
    return html.Div([
        dcc.Location(id="risk-url", refresh=False),
        dcc.Store(id="risk-view", data={"lang": lang}),
        c.page_header(t("risk.title", lang), t("risk.subtitle", lang)),
        html.Div(controls, className="opsmon-filters mb-3"),
        c.loading(html.Div(id="risk-kpis", className="mb-3")),
        dbc.Row([
            dbc.Col(c.section(t("risk.map_title", lang), [
                dcc.Loading(dcc.Graph(id="risk-map", config=GRAPH_CONFIG), type="dot", color="#1f4e79"),
                html.Div(t("risk.map_hint", lang), className="opsmon-hint")]), lg=5),
            dbc.Col(c.section(html.Span(id="risk-table-title"), c.loading(html.Div(id="risk-table")),
                              actions=[c.quick_search("risk-search", lang), *c.download_buttons("risk", lang)]),
                    lg=7),
        ], className="g-3"),
    ])


# ----------------------------------------------------------------------------------------- data
def metric_text(rule_id: str, value: float | None, lang: str) -> str:
    """A rule's metric as a person reads it (a ratio as %, money in 万元, months …)."""
    if value is None or pd.isna(value):
        return "—"
    rule = RULES.get(rule_id)
    unit = rule.unit if rule else ""
    if rule_id == "report_missing":
        return t("overview.not_reported", lang) if value >= 1 else "—"
    if unit == "%":
        return percent(value, 2 if abs(value) < 0.01 else 1)
    if unit == "元":
        return money(value, lang)
    if unit == "月":
        return f"{number(value, 0 if float(value).is_integer() else 1)} {t('unit.months', lang)}"
    return number(value, 2)


def changes_frame(engine, period: str, rules: list[str], levels: list[str], statuses: list[str],
                  region: str | None, tiers: list[str], lang: str = "zh") -> pd.DataFrame:
    """:func:`risk.changes` for the view, narrowed by rule, level and status, with display columns."""
    frame = data.risk_changes(engine, period, region=region, filters={"tier": tiers} if tiers else None)
    if rules:
        frame = frame[frame["rule"].isin(rules)]
    if levels:
        frame = frame[frame["level"].isin(levels)]
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    regions = c.regions().set_index("adcode")
    frame = frame.assign(
        status_text=[t(f"risk.status.{s}", lang) for s in frame["status"]],
        rule_text=[RULES[r].label(lang) if r in RULES else r for r in frame["rule"]],
        level_text=[c.risk_level_label(x, lang) for x in frame["level"]],
        metric_text=[metric_text(r, m, lang) for r, m in zip(frame["rule"], frame["metric"])],
        # The export's metric is a number with its unit beside it (text like "-12.3%" would be
        # neutralised against formula injection, and is no use to an analyst anyway).
        metric_unit=[RULES[r].unit if r in RULES else "" for r in frame["rule"]],
        county=[regions["name"].get(a, "") for a in frame["adcode"]],
        prefecture=[regions["name"].get(regions["geo_parent_adcode"].get(a), "") for a in frame["adcode"]],
        href=[c.hospital_href(code, lang, period) for code in frame["hospital_code"]],
        severity=frame["level"].map({"red": 3, "orange": 2, "yellow": 1}).fillna(0),
    )
    order = {"new": 0, "persisting": 1, "resolved": 2}
    return frame.assign(_o=frame["status"].map(order)).sort_values(
        ["_o", "severity", "adcode", "name"], ascending=[True, False, True, True]).drop(columns="_o")


def map_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Open red/orange episodes per mapped unit: prefecture or directly administered county
    (a province's instance), province (a national one)."""
    regions = c.regions()
    province = c.province()
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


def map_geojson(root: str) -> dict:
    """The outlines :func:`map_counts` counts in: the provinces of a national instance, else the prefectures."""
    return geo.load_geojson(geo.NATION, "provinces") if root == geo.NATION else province_geojson(root)


EXPORT_COLUMNS = [("status_text", "col.status", None), ("name", "col.hospital", None),
                  ("hospital_code", "col.hospital_code", "@"), ("prefecture", "col.prefecture", None),
                  ("county", "col.county", None), ("rule_text", "col.rule", None), ("level_text", "col.level", None),
                  ("metric", "col.metric", "#,##0.0000"), ("metric_unit", "col.metric_unit", None),
                  ("first_period", "col.first_period", None),
                  ("months_firing", "col.months_firing", "0"), ("resolved_period", "col.resolved_period", None)]


def _columns(lang: str) -> list[dict]:
    return [
        {"field": "status_text", "headerName": t("col.status", lang), "cellRenderer": "OpsmonPill",
         "cellRendererParams": {"classField": "status"}, "minWidth": 105, "maxWidth": 120, "pinned": "left"},
        c.link_column("name", t("col.hospital", lang), href_field="href", pinned="left", minWidth=190),
        {"field": "rule_text", "headerName": t("col.rule", lang), "minWidth": 120},
        {"field": "level_text", "headerName": t("col.level", lang), "cellRenderer": "OpsmonRisk",
         "cellRendererParams": {"levelField": "level"}, "minWidth": 75, "maxWidth": 95},
        {"field": "metric_text", "headerName": t("col.metric", lang), "minWidth": 130},
        {"field": "prefecture", "headerName": t("col.prefecture", lang), "minWidth": 95},
        {"field": "county", "headerName": t("col.county", lang), "minWidth": 95},
        {"field": "first_period", "headerName": t("col.first_period", lang), "minWidth": 90},
        c.number_column("months_firing", t("col.months_firing", lang), ",.0f", minWidth=80),
    ]


_INPUTS = [Input("risk-period", "value"), Input("risk-rule", "value"), Input("risk-level", "value"),
           Input("risk-status", "value"), Input("risk-region", "value"), Input("risk-tier", "value")]


def _kpis(frame: pd.DataFrame, lang: str) -> dbc.Row:
    counts = frame["status"].value_counts()
    serious = frame[frame["level"].isin(SERIOUS)]
    width = {"xs": 6, "md": 3}
    return dbc.Row([
        c.kpi(t("risk.status.new", lang), integer(counts.get("new", 0)), "risk-kpi-new",
              sub=t("risk.kpi.serious", lang).format(n=int((serious["status"] == "new").sum())),
              tone="bad" if counts.get("new", 0) else None, width=width),
        c.kpi(t("risk.status.persisting", lang), integer(counts.get("persisting", 0)), "risk-kpi-persisting",
              sub=t("risk.kpi.serious", lang).format(n=int((serious["status"] == "persisting").sum())), width=width),
        c.kpi(t("risk.status.resolved", lang), integer(counts.get("resolved", 0)), "risk-kpi-resolved",
              tone="good" if counts.get("resolved", 0) else None, width=width),
        c.kpi(t("risk.kpi.hospitals", lang),
              integer(frame.loc[frame["status"] != "resolved", "hospital_code"].nunique()), "risk-kpi-hospitals",
              sub=t("risk.kpi.hospitals_sub", lang), width=width),
    ], className="g-3")


@callback(Output("risk-kpis", "children"), Output("risk-map", "figure"), Output("risk-table", "children"),
          Output("risk-table-title", "children"), *_INPUTS, State("risk-search", "value"),
          State("risk-view", "data"))
def update(period, rules, levels, statuses, region, tiers, search_text=None, view=None):
    lang = (view or {}).get("lang", "zh")
    if not period:
        return c.empty(lang), empty_figure(t("data.none_period", lang)), c.empty(lang), t("risk.table", lang)
    engine = context.engine()
    frame = changes_frame(engine, period, rules or [], levels or [], statuses or [], region, tiers or [], lang)
    counts = map_counts(frame)
    counts["label"] = counts["name"].where(~counts["is_direct"], counts["name"] + f"（{t('region.direct', lang)}）")
    counts["extra"] = [t("risk.map_hospitals", lang).format(n=n) for n in counts["hospitals"]]
    fig = region_map(counts, map_geojson(c.province()), _COUNT, title=t("risk.map_count", lang),
                     height=440, scale={"colorscale": "OrRd", "zmin": 0})
    title = t("risk.table_n", lang).format(period=period_label(period, lang), n=len(frame))
    if frame.empty:
        table = html.Div(t("risk.none", lang), className="opsmon-empty-small")
    else:
        rows = frame[["status", "status_text", "name", "href", "hospital_code", "rule_text", "level", "level_text",
                      "metric_text", "prefecture", "county", "first_period", "months_firing", "episode_id"]]
        table = c.grid("risk-grid", rows.to_dict("records"), _columns(lang), lang, height=560,
                       quick_filter=search_text, getRowId="String(params.data.episode_id)")
    return _kpis(frame, lang), fig, table, title


c.url_sync("risk", CONTROLS, read, params)


@callback(Output("risk-grid", "dashGridOptions"), Input("risk-search", "value"), prevent_initial_call=True)
def quick_filter(text: str | None):
    patch = Patch()
    patch["quickFilterText"] = text or ""
    return patch


def download(fmt: str, period, rules, levels, statuses, region, tiers, lang: str) -> dict:
    engine = context.engine()
    frame = changes_frame(engine, period, rules or [], levels or [], statuses or [], region, tiers or [], lang)
    as_of = reporting.data_as_of(engine)
    parts = [f"{t('col.rule', lang)}={'、'.join(RULES[r].label(lang) for r in rules)}" if rules else None,
             f"{t('risk.level', lang)}={'、'.join(c.risk_level_label(x, lang) for x in levels)}" if levels else None,
             f"{t('risk.change', lang)}={'、'.join(t(f'risk.status.{s}', lang) for s in statuses)}"
             if statuses else None,
             exports.filters_text({"tier": tiers or []}, lang, region)]
    subtitle = t("filters.used", lang).format(filters="；".join(p for p in parts if p))
    title = t("risk.export_title", lang).format(period=period_label(period, lang))
    columns = [(col, t(key, lang), fmt_) for col, key, fmt_ in EXPORT_COLUMNS]
    content = exports.table(frame, columns, fmt, title=title, subtitle=subtitle, as_of=as_of, lang=lang)
    return exports.send(content, exports.file_name(t("risk.file", lang), period, as_of=as_of, ext=fmt),
                        rows=len(frame))


@callback(Output("risk-download", "data"), Input("risk-csv", "n_clicks"), Input("risk-xlsx", "n_clicks"),
          *[State(i.component_id, i.component_property) for i in _INPUTS], State("risk-view", "data"),
          prevent_initial_call=True)
def send_download(_csv, _xlsx, period, rules, levels, statuses, region, tiers, view):
    if not period:
        raise PreventUpdate
    fmt = "xlsx" if dash.ctx.triggered_id == "risk-xlsx" else "csv"
    return download(fmt, period, rules, levels, statuses, region, tiers, (view or {}).get("lang", "zh"))
