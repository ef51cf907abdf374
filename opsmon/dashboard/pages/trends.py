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

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import Output, State, html

from opsmon.dashboard import components as c
from opsmon.dashboard import context, data, url_query
from opsmon.dashboard.cache import memo
from opsmon.dashboard.figures import PALETTE, approx_lines, empty_figure, month_axis, style_figure
from opsmon.dashboard.format import d3_format, indicator_value, period_label
from opsmon.dashboard.page import PERIOD, SPAN, Control, Page, indicator
from opsmon.dashboard.strings import current_language, t
from opsmon.indicators import get, reporting, targets
from opsmon import periods as ind_periods

DEFAULT_INDICATOR = "surplus_rate"
MONTH_CHOICES = (12, 24, 36)
MAX_UNITS = 6


@memo
def _hospitals(engine, period: str) -> pd.DataFrame:
    """The hospitals expected to report for *period* (code, name, parent_code …): the units a trend may show."""
    return data.query(engine, "hospitals_expected", "hospital", period)


@memo
def _hospital_options(engine, period: str) -> list[dict]:
    """The open hospitals of *period* as dropdown options, by name (searchable by county and code too)."""
    hospitals = _hospitals(engine, period).sort_values("name")
    county = hospitals["parent_code"].map(c.regions().set_index("adcode")["name"]).fillna("")
    return pd.DataFrame({"label": hospitals["name"], "value": hospitals["code"],
                         "search": hospitals["name"] + " " + county + " " + hospitals["code"]}).to_dict("records")


def unit_options(period: str | None) -> list[dict]:
    """Regions (province, prefectures, counties) and then every open hospital, as dropdown options."""
    options = c.region_options()
    if period:
        options += _hospital_options(context.reader(), period)
    return options


def _codes(query) -> list[str]:
    """The units of a query string that may be shown (at most MAX_UNITS); the user's region when none."""
    period = PERIOD.parse(query)
    valid = {o["value"] for o in c.region_options()}
    if period:
        valid |= set(_hospitals(context.reader(), period)["code"])
    units = [u.upper() if len(u) == 18 else u for u in url_query.as_list(query.get("codes"))]
    return [u for u in units if u in valid][:MAX_UNITS] or [c.home_region()]


PAGE = Page(__name__, path="/trends", name_key="nav.trends", permission="view_regions", order=20, period_status=True,
            controls={
    "indicator": indicator(DEFAULT_INDICATOR),
    "codes": Control(_codes),
    "period": PERIOD,
    "months": Control(lambda q: int(url_query.choice(q.get("months"), [str(m) for m in MONTH_CHOICES], "24")), omit=24),
    "span": SPAN,
})
search_options = PAGE.search_options("trends-codes", unit_options, State("trends-period", "value"))


@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    controls = dbc.Row([
        c.labelled("common.indicator", c.indicator_dropdown("trends-indicator", v["indicator"]), "trends-indicator",
                   xs=12, md=6, xl=3),
        c.labelled("trends.units", c.dropdown(id="trends-codes", options=c.offered(unit_options(v["period"]), v["codes"]),
                                              value=v["codes"],
                                              multi=True, placeholder=t("trends.units_hint")),
                   "trends-codes", xs=12, md=6, xl=4),
        c.labelled("trends.end", c.period_dropdown("trends-period", c.available_periods(), v["period"]),
                   "trends-period", xs=6, md=4, xl=2),
        c.labelled("common.months", dbc.RadioItems(
            id="trends-months", value=v["months"], inline=True, className="opsmon-radio",
            options=[{"label": t("common.months_n").format(n=m), "value": m} for m in MONTH_CHOICES]),
            xs=6, md=8, xl=3),
        c.labelled("common.span", c.span_control("trends-span", v["span"]), xs=12),
    ], className="g-2")
    return PAGE.frame(
        c.page_header(t("trends.title"), t("trends.subtitle")),
        html.Div(controls, className="opsmon-filters mb-3"),
        PAGE.status(v),
        c.section(html.Span(id="trends-title"), [
            c.graph("trends-chart"), html.Div(t("trends.legend_hint"), className="opsmon-hint"),
        ], class_name="mb-3"),
        dbc.Row([
            dbc.Col(c.section(t("trends.yoy"), c.graph("trends-yoy")), lg=7),
            dbc.Col(c.section(t("trends.forecast"), c.loading(html.Div(id="trends-forecast"))), lg=5),
        ], className="g-3"),
    )


# ----------------------------------------------------------------------------------------- data
def _latest_hospitals() -> pd.DataFrame:
    engine = context.reader()
    return _hospitals(engine, reporting.latest_period(engine))


def unit_name(code: str) -> str:
    """A region's or a hospital's name."""
    if len(code) == 18:
        frame = _latest_hospitals()
        hit = frame.loc[frame["code"] == code, "name"]
        return str(hit.iloc[0]) if len(hit) else code
    return c.region_name(code)


def _region_for_targets(code: str) -> str:
    """The region whose targets apply to *code* (a hospital: its county)."""
    if len(code) == 18:
        frame = _latest_hospitals()
        hit = frame.loc[frame["code"] == code, "parent_code"]
        return str(hit.iloc[0]) if len(hit) else c.root_region()
    return code


def _evidence(ind, frame: pd.DataFrame, start: str) -> pd.DataFrame:
    """*frame* from *start*, without the values no hospital reported for.

    Programme status counts a hospital that never reported progress, or whose latest progress
    report is more than two quarters old (进展未更新), as "not done" (in the denominator, not the
    numerator; :mod:`opsmon.indicators.programme`):
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


def figures(engine, indicator: str, codes: list[str], period: str, months: int, span: str):
    """(main figure, YoY figure, forecast rows) for the selection."""
    ind = get(indicator)
    fmt = d3_format(ind)
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
        # A 近似 month says so in its hover text, and its marker is hollow.
        approx = approx_lines(frame, c.approx_text(ind, hospital=len(code) == 18))
        main.add_scatter(x=frame["period"], y=frame["value"], mode="lines+markers", name=name,
                         line={"color": color, "width": 2.5}, customdata=approx,
                         marker={"size": 6, "symbol": ["circle-open" if a else "circle" for a in approx]},
                         hovertemplate=f"{name}<br>%{{x}}: %{{y:{fmt}}}%{{customdata}}<extra></extra>")
        if frame["value_last_year"].notna().any():
            main.add_scatter(x=frame["period"], y=frame["value_last_year"], mode="lines",
                             name=f"{name} · {t('col.last_year')}", legendgroup=code,
                             line={"color": color, "width": 1, "dash": "dot"}, opacity=0.6,
                             hovertemplate=f"{name} {t('col.last_year')}<br>%{{x}}: %{{y:{fmt}}}<extra></extra>")
        change = frame["change"] * 100 if ind.unit == "%" else frame["growth"]
        yoy_fig.add_bar(x=frame["period"], y=change, name=name, marker_color=color,
                        hovertemplate=f"{name}<br>%{{x}}: %{{y:{'+.1f' if ind.unit == '%' else '+.1%'}}}"
                                      "<extra></extra>")
        if span == "month":
            flags = data.flag_anomalies(engine, indicator, code, first, period)
            odd = flags[flags["anomaly"]]
            if len(odd):
                main.add_scatter(x=odd["period"], y=odd["value"], mode="markers", name=t("trends.anomaly"),
                                 legendgroup="anomaly", showlegend=n == 0 or None,
                                 marker={"symbol": "x", "size": 13, "color": "#c0392b", "line": {"width": 2}},
                                 hovertemplate=f"{name}<br>%{{x}}: %{{y:{fmt}}}<br>"
                                               f"{t('trends.anomaly')}<extra></extra>")
        forecasts.append(_forecast(engine, ind, code, name, period, frame, target_rows, span, color, main))
    for _, row in target_rows.iterrows():
        label = t("trends.target_line").format(
            target=indicator_value(ind, row["value"]), due=period_label(ind_periods.to_period(row["due_period"])))
        main.add_hline(y=row["value"], line_dash="dash", line_color="#2e8b57", annotation_text=label,
                       annotation_position="top left", annotation_font_color="#2e8b57")
    if not any_data:
        empty = empty_figure(t("data.none_selection_short"))
        return empty, empty_figure(t("data.none_selection_short")), forecasts
    style_figure(main, 460)
    main.update_yaxes(tickformat=fmt)
    month_axis(main)
    style_figure(yoy_fig, 320)
    yoy_fig.update_yaxes(ticksuffix=" pp" if ind.unit == "%" and current_language() == "en" else "",
                         tickformat="+.1f" if ind.unit == "%" else "+.0%",
                         title_text=t("trends.yoy_pp" if ind.unit == "%" else "trends.yoy_growth"))
    month_axis(yoy_fig)
    yoy_fig.update_layout(barmode="group")
    return main, yoy_fig, forecasts


@memo
def year_end_forecast(engine, indicator_id: str, code: str, period: str) -> dict:
    """The year-end forecast (two Holt-Winters fits, ~0.5 s each): memoised per data version and scope."""
    return data.forecast_year_end(engine, indicator_id, code, period)


def _forecast(engine, ind, code: str, name: str, period: str, frame: pd.DataFrame, target_rows: pd.DataFrame,
              span: str, color: str, fig: go.Figure) -> html.Div | None:
    """A forecast line for *code* (text), drawing it on *fig* where it belongs."""
    fmt = d3_format(ind)
    if ind.basis == "flow" and ind.kind != "growth":
        result = year_end_forecast(engine, ind.id, code, period)
        if pd.isna(result["forecast"]):
            return html.Div(t("trends.no_forecast_data").format(name=name), className="opsmon-note")
        december = f"{result['year']}-12"
        if span == "ytd" and december > period:
            last = frame["value"].iloc[-1]
            fig.add_scatter(x=[period, december], y=[last, result["forecast"]], mode="lines+markers",
                            showlegend=False, line={"color": color, "dash": "dash"},
                            marker={"symbol": "diamond", "size": 9},
                            error_y={"type": "data", "symmetric": False,
                                     "array": [0, result["upper"] - result["forecast"]],
                                     "arrayminus": [0, result["forecast"] - result["lower"]], "color": color},
                            hovertemplate=f"{name}<br>{t('trends.forecast')} %{{x}}: %{{y:{fmt}}}"
                                          "<extra></extra>")
        return html.Div([
            html.Div(name, className="fw-semibold"),
            html.Div(t("trends.forecast_line").format(
                year=result["year"], value=indicator_value(ind, result["forecast"]),
                lower=indicator_value(ind, result["lower"]), upper=indicator_value(ind, result["upper"]),
                ytd=indicator_value(ind, result["ytd_value"]))),
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
            return html.Div(t("trends.no_forecast_data").format(name=name), className="opsmon-note")
        fig.add_scatter(x=[period, due], y=[frame["value"].iloc[-1], proj.value], mode="lines+markers",
                        showlegend=False, line={"color": color, "dash": "dash"}, marker={"symbol": "diamond", "size": 9},
                        error_y={"type": "data", "symmetric": False, "array": [0, proj.upper - proj.value],
                                 "arrayminus": [0, proj.value - proj.lower], "color": color},
                        hovertemplate=f"{name}<br>{t('trends.projection')} %{{x}}: %{{y:{fmt}}}<extra></extra>")
        return html.Div([
            html.Div(name, className="fw-semibold"),
            html.Div(t("trends.projection_line").format(
                due=period_label(due), value=indicator_value(ind, proj.value),
                lower=indicator_value(ind, proj.lower), upper=indicator_value(ind, proj.upper))),
        ], className="mb-2")
    return None


@PAGE.callback(Output("trends-chart", "figure"), Output("trends-yoy", "figure"), Output("trends-forecast", "children"),
               Output("trends-title", "children"), *PAGE.inputs())
def update(indicator, codes, period, months, span, view=None):
    """The lines, the year-on-year bars and the forecasts for the selection."""
    ind = get(indicator or DEFAULT_INDICATOR)
    title = f"{c.label(ind)} · {c.span_label(span or 'month')}"
    if not period:
        return empty_figure(t("data.none_period")), empty_figure(t("data.none_period")), c.empty(), title
    codes = (codes or [])[:MAX_UNITS]
    if not codes:
        return (empty_figure(t("trends.pick_units")), empty_figure(t("trends.pick_units")), None, title)
    main, yoy_fig, forecasts = figures(context.reader(), ind.id, codes, period, int(months or 24), span or "month")
    forecasts = [f for f in forecasts if f is not None] or [
        html.Div(t("trends.no_forecast"), className="opsmon-note")]
    if ind.note and current_language() == "zh":  # the catalogue's notes are in Chinese
        forecasts.append(html.Div(ind.note, className="opsmon-hint"))
    if ind.basis == "status":  # what a programme share counts as "not done"
        forecasts.append(html.Div(t("trends.programme_note"), className="opsmon-hint", id="trends-programme-note"))
    if ind.approximation is not None:  # which points are 近似, and why
        forecasts.append(html.Div(t("trends.approx_note").format(why=c.approx_text(ind)), className="opsmon-hint"))
    return main, yoy_fig, forecasts, title
