"""通报 Bulletin: the monthly 经济运行分析通报 of a region (:mod:`opsmon.documents.bulletin`), previewed and downloaded.

URL: ``/bulletin?period=2026-05&region=220100&lang=en``.

The month is a closed one (the latest closed month by default; the months with data up to it, as the other
pages list them); the region one in the user's scope (default: the user's own region, the province for the
province's users). The document is built through :func:`data.bulletin` — the library's read with the
signed-in user's scope — and drawn on the page as a printed sheet (:mod:`opsmon.dashboard.document_view`);
the DOCX and PDF buttons send the same document, each download audited as an export (kind ``bulletin``).

The library's refusal (a month not closed, a region outside the scope — one message for "does not exist" and
"not yours", so a hand-edited URL learns nothing) is shown as it is, in place of the preview. Building takes a
few seconds (charts): the preview has a spinner, and the document is memoised per scope, month, region and
data version (:func:`opsmon.dashboard.cache.memo`).

For users who view regions: a hospital user gets the "not permitted" panel (and its callbacks a 403).
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html
from dash.exceptions import PreventUpdate

from opsmon.dashboard import context, data, url_query
from opsmon.dashboard import components as c
from opsmon.dashboard.cache import memo
from opsmon.dashboard.document_view import document_view
from opsmon.dashboard.page import Control, Page
from opsmon.dashboard.strings import t

FORMATS = ("docx", "pdf")
MAX_REGION = 20  # longer "regions" from a URL are cut (the library refuses them anyway)


def closed_periods() -> list[str]:
    """The months with data up to the latest closed one, newest first (the 通报 is for closed months only)."""
    closed = c.reporting_months()[1]
    return [p for p in c.available_periods() if p <= closed]


def region_value(value: Any) -> str | None:
    """A region from the URL or the picker, as given (the library decides whether it is the user's to see)."""
    text = url_query.first(value)
    return text[:MAX_REGION] if text else None


PAGE = Page(__name__, path="/bulletin", name_key="nav.bulletin", permission="view_regions", order=39, controls={
    "period": Control(lambda q: url_query.period(q.get("period"), closed_periods(), c.default_period())),
    "region": Control(lambda q: region_value(q.get("region")) or c.home_region()),
})
search_options = PAGE.search_options("bulletin-region", lambda value: region_options(value), State("bulletin-region", "value"))


@memo
def document(engine, period: str, region: str) -> Any:
    """The 通报 as the signed-in user may read it (memoised per scope, arguments and data version)."""
    return data.bulletin(engine, period, region=region)


def file_name(period: str, region: str, fmt: str) -> str:
    """'经济运行分析通报_220100_2026-05.docx'."""
    return f"{t('bulletin.file').format(region=region, period=period)}.{fmt}"


# ----------------------------------------------------------------------------------------- layout
def region_options(value: str | None) -> list[dict]:
    """The regions in the user's scope, top down; a value from the URL outside them is kept as its bare code (the
    picker shows what was asked for; its name would tell what lies outside the scope)."""
    options = c.region_options()
    if value and value not in {o["value"] for o in options}:
        options = [{"label": value, "value": value}, *options]
    return options


@PAGE.layout
def layout(v: dict, **_query: str) -> html.Div:
    header = c.page_header(t("bulletin.title"), t("bulletin.subtitle"))
    periods = closed_periods()
    if not periods:
        return PAGE.frame(header, c.empty("bulletin.none_hint", title_key="bulletin.none"))
    buttons = html.Div([
        dbc.Button(t("bulletin.docx"), id="bulletin-docx", color="primary", outline=True, disabled=True,
                   className="opsmon-download"),
        dbc.Button(t("bulletin.pdf"), id="bulletin-pdf", color="primary", outline=True, disabled=True,
                   className="opsmon-download"),
    ], className="d-flex gap-2")
    controls = dbc.Row([
        c.labelled("bulletin.period", c.period_dropdown("bulletin-period", periods, v["period"]), "bulletin-period",
                   xs=12, md=4, xl=3),
        c.labelled("bulletin.region", c.dropdown(id="bulletin-region", options=c.offered(region_options(v["region"]), v["region"]),
                                                 value=v["region"], clearable=False), "bulletin-region",
                   xs=12, md=5, xl=4),
        dbc.Col(buttons, className="d-flex align-items-end justify-content-md-end", xs=12, md=3, xl=5),
    ], className="g-2")
    return PAGE.frame(
        header,
        html.Div(controls, className="opsmon-filters mb-3"),
        html.Div(id="bulletin-message"),
        c.loading(html.Div(id="bulletin-preview", className="opsmon-doc-desk")),
        dcc.Download(id="bulletin-download"),
    )


def _alert(text: str, color: str = "danger") -> dbc.Alert:
    return dbc.Alert(text, color=color, id="bulletin-alert", className="mb-3")


# ----------------------------------------------------------------------------------------- callbacks
@PAGE.callback(Output("bulletin-preview", "children"), Output("bulletin-docx", "disabled"),
               Output("bulletin-pdf", "disabled"), Input("bulletin-period", "value"), Input("bulletin-region", "value"))
def preview(period, region, view):
    """The document for the month and region as a sheet (the download buttons enabled) — or the library's
    message alone, in its place."""
    region = region_value(region)
    if not period or not region:
        raise PreventUpdate
    try:
        doc = document(context.reader(), str(period), region)
    except ValueError as e:
        return _alert(str(e)), True, True
    return document_view(doc, "bulletin-sheet"), False, False


@PAGE.callback(Output("bulletin-download", "data"), Output("bulletin-message", "children"),
               Input("bulletin-docx", "n_clicks"), Input("bulletin-pdf", "n_clicks"),
               State("bulletin-period", "value"), State("bulletin-region", "value"), prevent_initial_call=True)
def download(_docx, _pdf, period, region, view):
    """The document as DOCX or PDF, audited as an export of kind ``bulletin``. Everyone who may open the page
    may take it away: a 通报 is written to be printed and forwarded (leaders included, who export no tables)."""
    fmt = {"bulletin-docx": "docx", "bulletin-pdf": "pdf"}.get(ctx.triggered_id)
    region = region_value(region)
    if fmt is None or not ctx.triggered[0].get("value") or not period or not region:
        raise PreventUpdate
    try:
        doc = document(context.reader(), str(period), region)
    except ValueError as e:
        return None, _alert(str(e))
    if fmt == "docx":
        from opsmon.documents.docx_render import to_docx

        content = to_docx(doc)
    else:
        from opsmon.documents.pdf_render import to_pdf

        content = to_pdf(doc)
    name = file_name(str(period), region, fmt)
    data.record_export(name, 1, kind="bulletin", period=str(period), region=region, format=fmt)
    return dcc.send_bytes(content, name), None
