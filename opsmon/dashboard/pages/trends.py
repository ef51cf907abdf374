"""趋势 Trends: one indicator over time for one or more regions or hospitals.

URL: ``/trends?indicator=<id>&codes=220000,220100,<hospital code>&period=YYYY-MM&months=24&span=month&lang=en``.

The monthly line (:func:`opsmon.indicators.series`), the same month a year
earlier and the change (:func:`opsmon.indicators.trends.yoy`), the targets that
apply (:func:`opsmon.indicators.targets.applicable`), anomaly markers
(:func:`opsmon.indicators.trends.flag_anomalies`) and a forecast with its 80 %
interval: for flow indicators the year-end value
(:func:`opsmon.indicators.trends.forecast_year_end`, drawn on the year-to-date
line when the span is ``ytd``), for targeted indicators the trend projection to
the target's due month (:func:`opsmon.indicators.targets.project`).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, state
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import GRAPH_CONFIG, PALETTE, empty_figure, month_axis, style_figure
from opsmon.dashboard.format import indicator_value, period_label
from opsmon.dashboard.strings import t
from opsmon.indicators import get, reporting, targets
from opsmon.indicators import periods as ind_periods

PATH = "/trends"
DEFAULT_INDICATOR = "surplus_rate"
MONTH_CHOICES = (12, 24, 36)
MAX_UNITS = 6


def register() -> None:
    dash.register_page(__name__, path=PATH, name="nav.trends", title=f"{t('nav.trends')} · {t('app.title')}",
                       layout=layout, order=20)


def unit_options(lang: str, period: str | None) -> list[dict]:
    """Regions (province, prefectures, counties) and then every open hospital, as dropdown options."""
    options = c.region_options(lang)
    if period:
        hospitals = data.query(context.engine(), "hospitals_expected", "hospital", period)
        names = c.regions().set_index("adcode")["name"]
        options += [{"label": f"{row.name}", "value": row.code,
                     "search": f"{row.name} {names.get(row.parent_code, '')} {row.code}"}
                    for row in hospitals.sort_values("name").itertuples()]
    return options


CONTROLS = [("trends-indicator", "value", "indicator"), ("trends-codes", "value", "codes"),
            ("trends-period", "value", "period"), ("trends-months", "value", "months"), ("trends-span", "value", "span")]


def read(query: dict, periods: list[str] | None = None, options: list[dict] | None = None) -> dict:
    periods = c.available_periods() if periods is None else periods
    period = state.period(query.get("period"), periods)
    options = unit_options("zh", period) if options is None else options
    valid = {o["value"] for o in options}
    units = [u.upper() if len(u) == 18 else u for u in state.as_list(query.get("codes"))]
    return {"indicator": state.indicator(query.get("indicator"), DEFAULT_INDICATOR),
            "codes": [u for u in units if u in valid][:MAX_UNITS] or [c.home_region()],
            "period": period, "months": int(state.choice(query.get("months"), [str(m) for m in MONTH_CHOICES], "24")),
            "span": state.span(query.get("span"))}


def params(v: dict, view: dict | None = None) -> dict:
    return {"indicator": v["indicator"], "codes": v["codes"], "period": v["period"],
            "months": None if v["months"] == 24 else v["months"], "span": None if v["span"] == "month" else v["span"]}


def layout(lang: str | None = None, **query: str) -> html.Div:
    lang = state.language(lang)
    periods = c.available_periods()
    period = state.period(query.get("period"), periods)
    options = unit_options(lang, period)
    v = read(query, periods, options)
    indicator, units, months_n, span = v["indicator"], v["codes"], v["months"], v["span"]
    controls = dbc.Row([
        dbc.Col([dbc.Label(t("common.indicator", lang), html_for="trends-indicator"),
                 c.indicator_dropdown("trends-indicator", indicator, lang)], xs=12, md=6, xl=3),
        dbc.Col([dbc.Label(t("trends.units", lang), html_for="trends-codes"),
                 c.dropdown(lang, id="trends-codes", options=options, value=units, multi=True,
                              placeholder=t("trends.units_hint", lang))], xs=12, md=6, xl=4),
        dbc.Col([dbc.Label(t("trends.end", lang), html_for="trends-period"),
                 c.period_dropdown("trends-period", periods, period, lang)], xs=6, md=4, xl=2),
        dbc.Col([dbc.Label(t("common.months", lang)),
                 dbc.RadioItems(id="trends-months", value=months_n, inline=True, className="opsmon-radio",
                                options=[{"label": t("common.months_n", lang).format(n=m), "value": m}
                                         for m in MONTH_CHOICES])], xs=6, md=8, xl=3),
        dbc.Col([dbc.Label(t("common.span", lang)), c.span_control("trends-span", span, lang)], xs=12),
    ], className="g-2")
    return html.Div([
        dcc.Location(id="trends-url", refresh=False),
        dcc.Store(id="trends-view", data={"lang": lang}),
        c.page_header(t("trends.title", lang), t("trends.subtitle", lang)),
        html.Div(controls, className="opsmon-filters mb-3"),
        c.section(html.Span(id="trends-title"), [
            dcc.Loading(dcc.Graph(id="trends-chart", config=GRAPH_CONFIG), type="dot", color="#1f4e79"),
            html.Div(t("trends.legend_hint", lang), className="opsmon-hint"),
        ], class_name="mb-3"),
        dbc.Row([
            dbc.Col(c.section(t("trends.yoy", lang), dcc.Loading(
                dcc.Graph(id="trends-yoy", config=GRAPH_CONFIG), type="dot", color="#1f4e79")), lg=7),
            dbc.Col(c.section(t("trends.forecast", lang), c.loading(html.Div(id="trends-forecast"))), lg=5),
        ], className="g-3"),
    ])


# ----------------------------------------------------------------------------------------- data
def unit_name(code: str) -> str:
    if len(code) == 18:
        frame = data.query(context.engine(), "hospitals_expected", "hospital", reporting.latest_period(context.engine()))
        hit = frame.loc[frame["code"] == code, "name"]
        return str(hit.iloc[0]) if len(hit) else code
    return c.region_name(code)


def _region_for_targets(code: str) -> str:
    """The region whose targets apply to *code* (a hospital: its county)."""
    if len(code) == 18:
        frame = data.query(context.engine(), "hospitals_expected", "hospital", reporting.latest_period(context.engine()))
        hit = frame.loc[frame["code"] == code, "parent_code"]
        return str(hit.iloc[0]) if len(hit) else c.province()
    return code


def _evidence(ind, frame: pd.DataFrame, start: str) -> pd.DataFrame:
    """*frame* from *start*, without the values no hospital reported for.

    Programme status counts a hospital that never reported progress as "not done":
    months before anyone reported are no evidence of a 0 % rollout (as in
    :mod:`opsmon.indicators.targets`), so they are left out of the lines.
    """
    frame = frame.copy()
    if ind.basis == "status":
        silent = frame["reporting"] == 0
        frame.loc[silent, ["value", "change", "growth"]] = float("nan")
        reported = frame.set_index("period")["reporting"]
        earlier = [c.months_before(p, 12) for p in frame["period"]]
        before = reported.reindex(earlier).fillna(0).to_numpy() == 0
        frame.loc[before, ["value_last_year", "change", "growth"]] = float("nan")
    return frame[frame["period"] >= start].reset_index(drop=True)


def figures(engine, indicator: str, codes: list[str], period: str, months: int, span: str, lang: str):
    """(main figure, YoY figure, forecast rows) for the selection."""
    ind = get(indicator)
    fmt = ".1%" if ind.unit == "%" else f",.{ind.decimals}f"
    start = c.months_before(period, months - 1)
    main, yoy_fig = go.Figure(), go.Figure()
    forecasts = []
    any_data = False
    target_rows = targets.applicable(engine, _region_for_targets(codes[0])) if codes else pd.DataFrame()
    target_rows = target_rows[target_rows["indicator"] == indicator] if len(target_rows) else target_rows
    frames = {code: _evidence(ind, data.yoy(engine, indicator, code, c.months_before(start, 12), period,
                                              span=span), start) for code in codes}
    with_data = [f.loc[f["value"].notna(), "period"].min() for f in frames.values() if f["value"].notna().any()]
    first = min(with_data) if with_data else start  # leave out the months before any unit has data
    for n, code in enumerate(codes):
        color = PALETTE[n % len(PALETTE)]
        name = unit_name(code)
        frame = frames[code]
        frame = frame[frame["period"] >= first].reset_index(drop=True)
        if frame["value"].notna().any():
            any_data = True
        main.add_scatter(x=frame["period"], y=frame["value"], mode="lines+markers", name=name,
                         line={"color": color, "width": 2.5}, marker={"size": 6},
                         hovertemplate=f"{name}<br>%{{x}}: %{{y:{fmt}}}<extra></extra>")
        if frame["value_last_year"].notna().any():
            main.add_scatter(x=frame["period"], y=frame["value_last_year"], mode="lines",
                             name=f"{name} · {t('col.last_year', lang)}", legendgroup=code,
                             line={"color": color, "width": 1, "dash": "dot"}, opacity=0.6,
                             hovertemplate=f"{name} {t('col.last_year', lang)}<br>%{{x}}: %{{y:{fmt}}}<extra></extra>")
        change = frame["change"] * 100 if ind.unit == "%" else frame["growth"]
        yoy_fig.add_bar(x=frame["period"], y=change, name=name, marker_color=color,
                        hovertemplate=f"{name}<br>%{{x}}: %{{y:{'+.1f' if ind.unit == '%' else '+.1%'}}}"
                                      "<extra></extra>")
        if span == "month":
            flags = data.flag_anomalies(engine, indicator, code, first, period)
            odd = flags[flags["anomaly"]]
            if len(odd):
                main.add_scatter(x=odd["period"], y=odd["value"], mode="markers", name=t("trends.anomaly", lang),
                                 legendgroup="anomaly", showlegend=n == 0 or None,
                                 marker={"symbol": "x", "size": 13, "color": "#c0392b", "line": {"width": 2}},
                                 hovertemplate=f"{name}<br>%{{x}}: %{{y:{fmt}}}<br>"
                                               f"{t('trends.anomaly', lang)}<extra></extra>")
        forecasts.append(_forecast(engine, ind, code, name, period, frame, target_rows, span, color, main, lang))
    for _, row in target_rows.iterrows():
        label = t("trends.target_line", lang).format(
            target=indicator_value(ind, row["value"], lang), due=period_label(ind_periods.to_period(row["due_period"]),
                                                                            lang))
        main.add_hline(y=row["value"], line_dash="dash", line_color="#2e8b57", annotation_text=label,
                       annotation_position="top left", annotation_font_color="#2e8b57")
    if not any_data:
        empty = empty_figure(t("data.none_selection_short", lang))
        return empty, empty_figure(t("data.none_selection_short", lang)), forecasts
    style_figure(main, 460)
    main.update_yaxes(tickformat=fmt)
    month_axis(main)
    style_figure(yoy_fig, 320)
    yoy_fig.update_yaxes(ticksuffix=" pp" if ind.unit == "%" and lang == "en" else "",
                         tickformat="+.1f" if ind.unit == "%" else "+.0%",
                         title_text=t("trends.yoy_pp" if ind.unit == "%" else "trends.yoy_growth", lang))
    month_axis(yoy_fig)
    yoy_fig.update_layout(barmode="group")
    return main, yoy_fig, forecasts


@memo
def year_end_forecast(engine, indicator_id: str, code: str, period: str) -> dict:
    """The year-end forecast (two Holt-Winters fits, ~0.5 s each): memoised per data version and scope."""
    return data.forecast_year_end(engine, indicator_id, code, period)


def _forecast(engine, ind, code: str, name: str, period: str, frame: pd.DataFrame, target_rows: pd.DataFrame,
              span: str, color: str, fig: go.Figure, lang: str) -> html.Div | None:
    """A forecast line for *code* (text), drawing it on *fig* where it belongs."""
    fmt = ".1%" if ind.unit == "%" else f",.{ind.decimals}f"
    if ind.basis == "flow" and ind.kind != "growth":
        result = year_end_forecast(engine, ind.id, code, period)
        if pd.isna(result["forecast"]):
            return html.Div(t("trends.no_forecast_data", lang).format(name=name), className="opsmon-note")
        december = f"{result['year']}-12"
        if span == "ytd" and december > period:
            last = frame["value"].iloc[-1]
            fig.add_scatter(x=[period, december], y=[last, result["forecast"]], mode="lines+markers",
                            showlegend=False, line={"color": color, "dash": "dash"},
                            marker={"symbol": "diamond", "size": 9},
                            error_y={"type": "data", "symmetric": False,
                                     "array": [0, result["upper"] - result["forecast"]],
                                     "arrayminus": [0, result["forecast"] - result["lower"]], "color": color},
                            hovertemplate=f"{name}<br>{t('trends.forecast', lang)} %{{x}}: %{{y:{fmt}}}"
                                          "<extra></extra>")
        return html.Div([
            html.Div(name, className="fw-semibold"),
            html.Div(t("trends.forecast_line", lang).format(
                year=result["year"], value=indicator_value(ind, result["forecast"], lang),
                lower=indicator_value(ind, result["lower"], lang), upper=indicator_value(ind, result["upper"], lang),
                ytd=indicator_value(ind, result["ytd_value"], lang))),
        ], className="mb-2")
    if len(target_rows):
        row = target_rows.sort_values("due_period").iloc[-1]
        due = ind_periods.to_period(row["due_period"])
        ahead = (ind_periods.to_date(due).year - ind_periods.to_date(period).year) * 12 + \
            ind_periods.to_date(due).month - ind_periods.to_date(period).month
        if ahead <= 0:
            return None
        history = frame["value"].where(frame["reporting"] > 0)
        proj = targets.project(history, ahead, bounds=(0.0, 1.0) if ind.unit == "%" else None)
        if pd.isna(proj.value):
            return html.Div(t("trends.no_forecast_data", lang).format(name=name), className="opsmon-note")
        fig.add_scatter(x=[period, due], y=[frame["value"].iloc[-1], proj.value], mode="lines+markers",
                        showlegend=False, line={"color": color, "dash": "dash"}, marker={"symbol": "diamond", "size": 9},
                        error_y={"type": "data", "symmetric": False, "array": [0, proj.upper - proj.value],
                                 "arrayminus": [0, proj.value - proj.lower], "color": color},
                        hovertemplate=f"{name}<br>{t('trends.projection', lang)} %{{x}}: %{{y:{fmt}}}<extra></extra>")
        return html.Div([
            html.Div(name, className="fw-semibold"),
            html.Div(t("trends.projection_line", lang).format(
                due=period_label(due, lang), value=indicator_value(ind, proj.value, lang),
                lower=indicator_value(ind, proj.lower, lang), upper=indicator_value(ind, proj.upper, lang))),
        ], className="mb-2")
    return None


_INPUTS = [Input("trends-indicator", "value"), Input("trends-codes", "value"), Input("trends-period", "value"),
           Input("trends-months", "value"), Input("trends-span", "value")]


@callback(Output("trends-chart", "figure"), Output("trends-yoy", "figure"), Output("trends-forecast", "children"),
          Output("trends-title", "children"), *_INPUTS, State("trends-view", "data"))
def update(indicator, codes, period, months, span, view=None):
    lang = (view or {}).get("lang", "zh")
    ind = get(indicator or DEFAULT_INDICATOR)
    title = f"{ind.label(lang)} · {c.span_label(span or 'month', lang)}"
    if not period:
        return (empty_figure(t("data.none_period", lang)), empty_figure(t("data.none_period", lang)),
                c.empty(lang), title)
    codes = (codes or [])[:MAX_UNITS]
    if not codes:
        return (empty_figure(t("trends.pick_units", lang)), empty_figure(t("trends.pick_units", lang)), None, title)
    main, yoy_fig, forecasts = figures(context.engine(), ind.id, codes, period, int(months or 24), span or "month",
                                       lang)
    forecasts = [f for f in forecasts if f is not None] or [
        html.Div(t("trends.no_forecast", lang), className="opsmon-note")]
    if ind.note and lang == "zh":  # the catalogue's notes are in Chinese
        forecasts.append(html.Div(ind.note, className="opsmon-hint"))
    return main, yoy_fig, forecasts, title


c.url_sync("trends", CONTROLS, read, params)
