"""填报 Upload: a file is checked and previewed, then stored only when the user confirms.

The flow:

1. ``dcc.Upload`` sends the file (base64, in the browser's memory). The server checks
   its size and type again (the browser's ``max_size`` is advisory), keeps the bytes
   in a private folder under a random token and runs ``ingest_bytes(dry_run=True)``:
   errors, warnings and which (hospital, period) rows would be new or changed. The
   stored current values are read separately so changed cells can be highlighted.
2. "确认提交" stores exactly the previewed bytes through ``ingest_bytes``: the browser
   only holds the token and the SHA-256, never a path; the server finds the file by
   the token (a fixed pattern, so never a path of the client's choosing) and refuses
   it unless its SHA-256 still matches.
3. Below: the submissions log (click a row for its errors) and template downloads.

A preview is kept on the server only when it can be confirmed (a rejected file shows its
errors and is dropped), for its own uploader, at most
:data:`~opsmon.dashboard.upload_store.UPLOAD_QUOTA` per user. The kept files are
:mod:`opsmon.dashboard.upload_store`'s job, the preview's rows and problems
:mod:`opsmon.dashboard.upload_preview`'s; this module is the page and its callbacks.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from opsmon import periods
from opsmon.dashboard import auth, components, context, data
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.page import Page
from opsmon.dashboard.strings import t, using_language
from opsmon.dashboard.upload_preview import build_preview, locale_text, problem_table
from opsmon.dashboard.upload_store import discard_upload, keep_upload, take_upload
from opsmon.ingest import api
from opsmon.ingest import template as templates
from opsmon.ingest.fields import KINDS
from opsmon.ingest.parse import MAX_BYTES
from opsmon.ingest.problems import total

ALLOWED_SUFFIXES = (".csv", ".xlsx")
HISTORY_ROWS = 100

PAGE = Page(__name__, path="/upload", name_key="nav.upload", permission="upload", order=50)


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB"


def decode_upload(contents: str, file_name: str, max_bytes: int = MAX_BYTES) -> bytes | str:
    """The bytes of a ``dcc.Upload`` data URL, or a message why they are refused (type, size, damage)."""
    if not file_name or Path(file_name).suffix.lower() not in ALLOWED_SUFFIXES:
        return t("upload.bad_type").format(file=file_name or "")
    _, _, data = (contents or "").partition(",")
    # Refuse before decoding: base64 is 4 characters per 3 bytes.
    if len(data) * 3 // 4 > max_bytes + 3:
        return t("upload.too_large").format(file=file_name, limit=_size(max_bytes))
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return t("upload.unreadable")
    if len(content) > max_bytes:
        return t("upload.too_large").format(file=file_name, limit=_size(max_bytes))
    return content


# ---------------------------------------------------------------------------------------------
# History and templates.
def history_rows(engine) -> list[dict[str, Any]]:
    """The latest submissions, for the history grid."""
    frame = data.list_submissions(engine, limit=HISTORY_ROWS)
    return [{
        "submission_id": int(r["submission_id"]),
        "received_at": timestamp(r["received_at"]),
        "status": t(f"status.{r['status']}"),
        "username": r["username"],
        "file_name": r["file_name"],
        "kind": t(f"kind.{r['kind']}") if r["kind"] else "",
        "rows": None if pd.isna(r["rows_total"]) else int(r["rows_total"]),
        "revisions": None if pd.isna(r["revisions_created"]) else int(r["revisions_created"]),
        "errors": int(r["n_errors"]),
        "warnings": int(r["n_warnings"]),
    } for r in frame.to_dict("records")]


def _history_grid(engine) -> dag.AgGrid:
    cols = [("received_at", 150), ("status", 100), ("username", 110), ("file_name", 240), ("kind", 170),
            ("rows", 90), ("revisions", 100), ("errors", 80), ("warnings", 80)]
    return dag.AgGrid(
        id="upload-history",
        rowData=history_rows(engine),
        columnDefs=[{"field": c, "headerName": t(f"history.{c}"), "minWidth": w,
                     **({"type": "numericColumn"} if c in ("rows", "revisions", "errors", "warnings") else {}),
                     **({"cellStyle": {"styleConditions": [
                         {"condition": f"params.value === {json.dumps(t('status.rejected'), ensure_ascii=False)}",
                          "style": {"color": "#842029", "fontWeight": "600"}}]}} if c == "status" else {})}
                    for c, w in cols],
        defaultColDef={"resizable": True, "sortable": True},
        dashGridOptions={"rowSelection": {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True},
                         "pagination": True, "paginationPageSize": 10, "paginationPageSizeSelector": False,
                         "domLayout": "autoHeight", "localeText": locale_text()},
        getRowId="params.data.submission_id",
        columnSize="responsiveSizeToFit",
    )


@PAGE.layout
def layout(_v: dict, **_query: str) -> html.Div:
    """The page: upload and preview, then the history and the templates.

    In Chinese whatever the URL asks: the files, their checks' messages and the clerks' work are Chinese.
    """
    with using_language("zh"):
        return _content()


def _content() -> html.Div:
    engine = context.reader()
    # Only the kinds this user's role may send (the server refuses the others anyway).
    user = auth.require_user()
    kinds = [k for k in KINDS if k in user.permissions.upload_kinds]
    kind_options = [{"label": t("upload.kind.auto"), "value": "auto"}] + [
        {"label": t(f"kind.{k}"), "value": k} for k in kinds]
    # The month being collected, and how far it has got in the user's hospital or region.
    collecting = components.period_status(components.reporting_months()[0],
                                          user.hospital_code or components.home_region(), "upload")
    upload = dbc.Card(dbc.CardBody([
        html.H4(t("upload.title")),
        html.Div(collecting, className="mb-2"),
        html.P(t("upload.intro"), className="text-muted"),
        dbc.Row([
            dbc.Col([dbc.Label(t("upload.kind"), html_for="upload-kind"),
                     dcc.Dropdown(id="upload-kind", options=kind_options, value="auto", clearable=False)], md=4),
        ], className="mb-2"),
        dcc.Upload(
            id="upload-file",
            children=html.Div([html.Div(t("upload.drop"), className="fw-semibold"),
                               html.Div(t("upload.drop_hint").format(limit=_size(MAX_BYTES)),
                                        className="text-muted small")]),
            accept=",".join(ALLOWED_SUFFIXES),
            max_size=MAX_BYTES,  # advisory: the browser's check; the server checks again
            multiple=False,
            style={"border": "2px dashed #9aa7b5", "borderRadius": "8px", "padding": "1.5rem",
                   "textAlign": "center", "background": "#fff", "cursor": "pointer"},
        ),
        dcc.Store(id="upload-token"),
        dcc.Loading(html.Div(id="upload-result", className="mt-3")),
        dcc.Loading(html.Div(id="upload-preview", className="mt-3")),
        html.Div([
            dbc.Button(t("upload.confirm"), id="upload-confirm", color="primary", className="me-2"),
            dbc.Button(t("upload.cancel"), id="upload-cancel", color="secondary", outline=True),
        ], id="upload-actions", hidden=True, className="mt-2"),
    ]), className="mb-3")

    history = dbc.Card(dbc.CardBody([
        html.Div(t("history.title"), className="opsmon-section-title"),
        html.P(t("history.hint"), className="text-muted small mb-1"),
        _history_grid(engine),
        html.Div(id="upload-history-detail", className="mt-2"),
    ]), className="mb-3")

    downloads = dbc.Card(dbc.CardBody([
        html.Div(t("templates.title"), className="opsmon-section-title"),
        html.P(t("templates.hint"), className="text-muted small"),
        html.Div([dbc.Button(t(f"kind.{k}"), id={"type": "upload-template", "kind": k}, color="link",
                             className="me-3 ps-0") for k in kinds]),
        dcc.Download(id="upload-template-download"),
    ]))
    return html.Div([upload, history, downloads])


# ---------------------------------------------------------------------------------------------
# Callbacks.
@callback(
    Output("upload-preview", "children"),
    Output("upload-token", "data"),
    Output("upload-actions", "hidden"),
    Output("upload-confirm", "disabled"),
    Output("upload-result", "children"),
    Output("upload-file", "contents"),
    Input("upload-file", "contents"),
    State("upload-file", "filename"),
    State("upload-kind", "value"),
    State("upload-token", "data"),
    prevent_initial_call=True,
)
def preview(contents: str | None, file_name: str | None, kind: str | None, previous: dict | None):
    """Check the uploaded file with a dry run and show what storing it would do."""
    if not contents:
        raise PreventUpdate  # the reset of ``contents`` below (so the same file can be chosen again)
    username = auth.require_user().username
    discard_upload(previous, username)
    content = decode_upload(contents, file_name or "")
    if isinstance(content, str):
        return dbc.Alert(content, color="danger", id="upload-verdict"), None, True, True, None, None
    kind = kind if kind in KINDS else None
    engine = context.writer()
    result = data.upload(engine, content, file_name, kind=kind, dry_run=True)
    rejected = result.status == "rejected"
    # Only a file that can be confirmed is kept; confirm reads it with the same choice of kind.
    handle = None if rejected else keep_upload(content, file_name, kind, username)
    return build_preview(result, engine), handle, False, rejected, None, None


@callback(
    Output("upload-result", "children", allow_duplicate=True),
    Output("upload-preview", "children", allow_duplicate=True),
    Output("upload-token", "data", allow_duplicate=True),
    Output("upload-actions", "hidden", allow_duplicate=True),
    Output("upload-history", "rowData"),
    Input("upload-confirm", "n_clicks"),
    State("upload-token", "data"),
    prevent_initial_call=True,
)
def confirm(n_clicks: int | None, handle: dict | None):
    """Store the previewed file — the very bytes previewed — and log the submission."""
    if not n_clicks:
        raise PreventUpdate
    engine = context.writer()
    username = auth.require_user().username
    kept = take_upload(handle, username)
    if isinstance(kept, str):
        discard_upload(handle, username)
        return dbc.Alert(t(kept), color="danger", id="upload-outcome"), None, None, True, history_rows(engine)
    content, meta = kept
    result = data.upload(engine, content, meta["file_name"], kind=meta.get("kind"))
    discard_upload(handle, username)
    if result.status == "accepted":
        key = "upload.done_accepted_registry" if result.kind == "registry" else "upload.done_accepted"
        alert = dbc.Alert(t(key).format(file=result.file, n=result.revisions_created), color="success",
                          id="upload-outcome")
        preview_part = None
    elif result.status == "unchanged":
        alert = dbc.Alert(t("upload.done_unchanged").format(file=result.file), color="info", id="upload-outcome")
        preview_part = None
    else:
        alert = dbc.Alert(t("upload.done_rejected").format(file=result.file, n=f"{total(result.errors):,}"), color="danger",
                          id="upload-outcome")
        preview_part = problem_table(result.errors, result.kind, "upload-errors")
    return alert, preview_part, None, True, history_rows(engine)


@callback(
    Output("upload-preview", "children", allow_duplicate=True),
    Output("upload-token", "data", allow_duplicate=True),
    Output("upload-actions", "hidden", allow_duplicate=True),
    Input("upload-cancel", "n_clicks"),
    State("upload-token", "data"),
    prevent_initial_call=True,
)
def cancel(n_clicks: int | None, handle: dict | None):
    """Drop the previewed file."""
    if not n_clicks:
        raise PreventUpdate
    discard_upload(handle, auth.require_user().username)
    return None, None, True


@callback(
    Output("upload-history-detail", "children"),
    Input("upload-history", "selectedRows"),
    prevent_initial_call=True,
)
def history_detail(selected: list[dict] | None):
    """The errors and warnings of the submission clicked in the history."""
    if not selected:
        return None
    entry = data.get_submission(context.reader(), int(selected[0]["submission_id"]))
    if entry is None:
        return None
    kind = entry["kind"]
    parts: list[Any] = [html.Div(t("history.detail").format(id=entry["submission_id"], file=entry["file_name"],
                                                            status=t(f"status.{entry['status']}")),
                                 className="opsmon-section-title")]
    if entry["errors"]:
        parts += [html.Div(t("upload.errors"), className="fw-semibold"),
                  problem_table(entry["errors"], kind, "history-errors")]
    if entry["warnings"]:
        parts += [html.Div(t("upload.warnings"), className="fw-semibold"),
                  problem_table(entry["warnings"], kind, "history-warnings")]
    if not entry["errors"] and not entry["warnings"]:
        parts.append(html.P(t("history.no_problems"), className="text-muted"))
    return html.Div(parts, id="history-detail-body")


def template_period() -> str:
    """The month a hospital would fill in now ('YYYY-MM'): the month its template is dated.

    The collecting month once it has ended (on 2026-12-02, due day 10: 2026-11 — being
    collected, and over); while it has not ended (from the day after the due day the collecting
    month is the current one: on 2026-12-15 it is 2026-12, which no one can report yet), the
    latest closed month (2026-11 — late, but the month still to be filled in). Either way it is
    the last month that has ended in the reporting calendar's zone (settings ``timezone``), on the
    app's clock (:func:`opsmon.periods.now`), which is what the template offered before — now
    taken from the same calendar as the page's "collection in progress" line.
    """
    engine = context.reader()
    collecting, closed = components.reporting_months()
    current = periods.to_period(periods.now(periods.configured_tz(engine)).date())
    return collecting if collecting < current else closed


@callback(
    Output("upload-template-download", "data"),
    Input({"type": "upload-template", "kind": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def download_template(clicks: list[int | None]):
    """The XLSX template of the clicked kind, for the month a hospital would fill in now (:func:`template_period`),
    with the configured due day."""
    if not any(clicks) or not isinstance(ctx.triggered_id, dict):
        raise PreventUpdate
    kind = ctx.triggered_id["kind"]
    if kind not in KINDS:
        raise PreventUpdate
    content = templates.xlsx(kind, template_period(), api.due_day(context.reader()))
    return dcc.send_bytes(content, f"{templates.TITLES[kind]}模板.xlsx")

