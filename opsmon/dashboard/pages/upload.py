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
errors and is dropped), for its own uploader, at most :data:`UPLOAD_QUOTA` per user.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import math
import re
import secrets
import time
from pathlib import Path
from typing import Any

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from opsmon import config
from opsmon.dashboard import auth, context, data
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.strings import t
from opsmon.ingest import api
from opsmon.ingest import template as templates
from opsmon.ingest.fields import KEYS, KINDS, Field, Kind, by_code
from opsmon.ingest.parse import MAX_BYTES
from opsmon.ingest.problems import Problem, total
from opsmon.periods import last_month

PATH = "/upload"
ALLOWED_SUFFIXES = (".csv", ".xlsx")
TOKEN = re.compile(r"^[0-9a-f]{32}$")
UPLOAD_TTL_SECONDS = 3600  # a preview older than this is discarded
PREVIEW_ROWS = 5000  # rows sent to the browser; the checks always cover the whole file
HISTORY_ROWS = 100

CHANGED_STYLE = {"backgroundColor": "#fff3cd", "fontWeight": "600"}
ERROR_STYLE = {"backgroundColor": "#f8d7da", "color": "#842029"}


def register() -> None:
    """Add this page to the app's page registry."""
    dash.register_page(__name__, path=PATH, name="nav.upload", title=f"{t('nav.upload')} · {t('app.title')}",
                       layout=layout, order=50)


# ---------------------------------------------------------------------------------------------
# Uploaded bytes kept on the server between preview and confirmation: only a preview that can be
# confirmed (not a rejected one), for an hour at most, at most UPLOAD_QUOTA per user (the oldest
# goes first), deleted on confirm or cancel, and only its own uploader may take it.
UPLOAD_QUOTA = 2


def upload_dir() -> Path:
    """Private folder for files awaiting confirmation: $OPSMON_DATA_DIR/uploads."""
    folder = config.load().data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _discard(folder: Path, token: str) -> None:
    for suffix in (".bin", ".json"):
        (folder / f"{token}{suffix}").unlink(missing_ok=True)


def _kept(folder: Path) -> list[tuple[float, str, dict[str, Any]]]:
    """(time kept, token, metadata) of every kept upload, oldest first."""
    out = []
    for meta_path in folder.glob("*.json"):
        try:
            out.append((meta_path.stat().st_mtime, meta_path.stem, json.loads(meta_path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue  # deleted meanwhile by another worker, or half-written
    return sorted(out, key=lambda k: k[0])


def _purge(folder: Path, username: str) -> None:
    """Drop expired uploads (anyone's), and *username*'s oldest beyond the quota less one (room for a new one)."""
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for path in folder.glob("*.bin"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                _discard(folder, path.stem)
    own = [token for _, token, meta in _kept(folder) if meta.get("username") == username]
    for token in own[:max(0, len(own) - UPLOAD_QUOTA + 1)]:
        _discard(folder, token)


def keep_upload(content: bytes, file_name: str, kind: str | None, username: str) -> dict[str, Any]:
    """Save *content* for *username* under a fresh random token; returns what the browser may hold: token and SHA-256."""
    folder = upload_dir()
    _purge(folder, username)
    token = secrets.token_hex(16)
    sha256 = hashlib.sha256(content).hexdigest()
    (folder / f"{token}.bin").write_bytes(content)
    meta = {"file_name": file_name, "kind": kind, "sha256": sha256, "size": len(content), "username": username}
    (folder / f"{token}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return {"token": token, "sha256": sha256}


def take_upload(handle: dict[str, Any] | None, username: str) -> tuple[bytes, dict[str, Any]] | str:
    """The bytes and metadata of *username*'s kept upload, or the strings key of why not.

    The token must have the server's own format (so it is never a path), the file must
    still be there and younger than :data:`UPLOAD_TTL_SECONDS`, it must have been kept for
    *username*, and its SHA-256 must equal both the one recorded when it was kept and the
    one the browser holds.
    """
    token = (handle or {}).get("token")
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return "upload.expired"
    folder = upload_dir()
    data, meta_path = folder / f"{token}.bin", folder / f"{token}.json"
    if not data.is_file() or not meta_path.is_file() or data.stat().st_mtime < time.time() - UPLOAD_TTL_SECONDS:
        return "upload.expired"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("username") != username:
        return "upload.expired"  # another user's token: as if there were none
    content = data.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if not (digest == meta.get("sha256") == handle.get("sha256")):
        return "upload.tampered"
    return content, meta


def discard_upload(handle: dict[str, Any] | None, username: str) -> None:
    """Delete *username*'s kept upload (after it was stored, or on cancel)."""
    token = (handle or {}).get("token")
    if isinstance(token, str) and TOKEN.fullmatch(token):
        folder = upload_dir()
        meta_path = folder / f"{token}.json"
        with contextlib.suppress(OSError, ValueError):
            if json.loads(meta_path.read_text(encoding="utf-8")).get("username") != username:
                return
        _discard(folder, token)


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
# The preview: the file's rows beside the stored ones.
def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))


def _same(a: Any, b: Any, f: Field) -> bool:
    """Whether a parsed value equals a stored one, as the database compares them."""
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    if f.type == "money":
        return round(float(a), 2) == round(float(b), 2)
    if f.type == "count":
        return int(a) == int(b)
    if f.type == "bool":
        return bool(a) == bool(b)
    return str(a).strip() == str(b).strip()


def shown(v: Any, f: Field) -> str:
    """A stored value as a clerk would write it (labels, not codes; thousands separators)."""
    if _missing(v):
        return ""
    if f.type == "money":
        return f"{float(v):,.2f}"
    if f.type == "count":
        return f"{int(v):,}"
    if f.type == "bool":
        return "是" if bool(v) else "否"
    if f.type == "enum":
        return next((label for label, code in f.values.items() if code == v), str(v))
    return str(v)


def preview_rows(kind: Kind, parsed_frame: pd.DataFrame, raw: pd.DataFrame, changes: pd.DataFrame | None,
                 current: pd.DataFrame | None, problems: list[Problem]) -> list[dict[str, Any]]:
    """One record per data row: the cells as written, ``_row`` (Excel row), ``_change`` (new / changed /
    same, or None when the file is rejected), ``_changed`` (columns that differ from the stored row),
    ``_old`` (their stored values, shown), ``_summary`` (those changes in words) and ``_errors`` (columns
    with an error; ``_row`` for the row).
    """
    keys = list(KEYS[kind])
    fields = by_code(kind)
    error_cells: dict[int, list[str]] = {}
    for p in problems:
        if p.severity == "error" and p.row is not None:
            error_cells.setdefault(p.row, []).append(p.column or "_row")
    change_of: dict[tuple, str] = {}
    if changes is not None:
        change_of = {tuple(r[k] for k in keys): r["change"] for r in changes.to_dict("records")}
    stored: dict[tuple, dict[str, Any]] = {}
    if current is not None and len(current):
        stored = {tuple(r[k] for k in keys): r for r in current.to_dict("records")}

    records = []
    for row in raw.index[:PREVIEW_ROWS]:
        record: dict[str, Any] = {c: raw.at[row, c] for c in raw.columns}
        record["_row"] = int(row)
        record["_errors"] = error_cells.get(int(row), [])
        key = tuple(parsed_frame.at[row, k] if k in parsed_frame else None for k in keys)
        record["_change"] = None if changes is None else change_of.get(key, "same")
        changed, old = [], {}
        if record["_change"] == "changed" and key in stored:
            for code in parsed_frame.columns:
                if code in keys or code not in stored[key]:
                    continue
                if not _same(parsed_frame.at[row, code], stored[key][code], fields[code]):
                    changed.append(code)
                    old[code] = shown(stored[key][code], fields[code])
        record["_changed"], record["_old"] = changed, old
        # Read without scrolling to the far-right column that changed.
        record["_summary"] = "；".join(f"{fields[c].label}：{old[c]} → {record[c]}" for c in changed)
        records.append(record)
    return records


def _label(kind: Kind | None, column: str | None, row: int | None) -> str:
    if column is None:
        return t("col.whole_file") if row is None else t("col.whole_row")
    fields = by_code(kind) if kind else {}
    return fields[column].label if column in fields else column


def problem_table(problems: list[dict[str, Any]] | list[Problem], kind: Kind | None, table_id: str) -> dbc.Table:
    """Row, column label, value and message of each problem, as a clerk reads them."""
    items = [p.to_dict() if isinstance(p, Problem) else p for p in problems]
    head = html.Thead(html.Tr([html.Th(t(k)) for k in ("col.row", "col.column", "col.value", "col.message")]))
    body = html.Tbody([
        html.Tr([html.Td("" if p.get("row") is None else p["row"]), html.Td(_label(kind, p.get("column"), p.get("row"))),
                 html.Td(p.get("value") or ""), html.Td(p.get("message_zh") or p.get("message") or "")])
        for p in items
    ])
    return dbc.Table([head, body], id=table_id, size="sm", bordered=True, hover=True, responsive=True,
                     className="bg-white")


def locale_text() -> dict[str, str]:
    """AG Grid's own words (pagination, empty grid), read once when a grid is created."""
    return {"page": t("grid.page"), "of": t("grid.of"), "to": t("grid.to"), "noRowsToShow": t("grid.no_rows")}


def _rows_grid(kind: Kind, columns: list[str], records: list[dict[str, Any]]) -> dag.AgGrid:
    fields = by_code(kind)
    current_label = json.dumps(t("upload.current_value"), ensure_ascii=False)
    value_col = {
        "cellClassRules": {
            "opsmon-cell-error": "params.data._errors.includes(params.colDef.field)",
            "opsmon-cell-changed": "params.data._changed.includes(params.colDef.field)",
        },
        "cellStyle": {"styleConditions": [
            {"condition": "params.data._errors.includes(params.colDef.field)", "style": ERROR_STYLE},
            {"condition": "params.data._changed.includes(params.colDef.field)", "style": CHANGED_STYLE},
        ]},
        "tooltipValueGetter": {"function": (
            f"params.data._changed.includes(params.colDef.field) ? {current_label} + "
            "params.data._old[params.colDef.field] : undefined")},
    }
    change_labels = {k: t(f"change.{k}") for k in ("new", "changed", "same")}
    column_defs = [
        {"field": "_row", "headerName": t("col.row"), "pinned": "left", "width": 80,
         "cellStyle": {"styleConditions": [
             {"condition": "params.data._errors.length > 0", "style": ERROR_STYLE}]}},
        {"field": "_change", "headerName": t("col.change"), "pinned": "left", "width": 90,
         "valueFormatter": {"function": f"({json.dumps(change_labels, ensure_ascii=False)})[params.value] || ''"},
         "cellClassRules": {f"opsmon-change-{k}": f"params.value === '{k}'" for k in change_labels}},
        {"field": "_summary", "headerName": t("col.changes"), "pinned": "left", "width": 260,
         "tooltipField": "_summary", "hide": not any(r["_summary"] for r in records)},
        *({"field": c, "headerName": fields[c].label, "headerTooltip": f"{fields[c].label} ({c})", "minWidth": 110,
           **value_col} for c in columns),
    ]
    return dag.AgGrid(
        id="upload-rows",
        rowData=records,
        columnDefs=column_defs,
        defaultColDef={"resizable": True, "sortable": True},
        # Every column rendered (≤ 35): a changed cell far right is in the page, for search and tests.
        dashGridOptions={"tooltipShowDelay": 200, "suppressColumnVirtualisation": True, "localeText": locale_text(),
                         "pagination": len(records) > 50, "paginationPageSize": 50,
                         "paginationPageSizeSelector": False,
                         "domLayout": "autoHeight" if len(records) <= 50 else "normal"},
        style={} if len(records) <= 50 else {"height": "560px"},
        getRowId="params.data._row",
    )


REVISION_KEYS = 10  # (hospital, period) pairs whose stored revisions a preview lists


def revisions_table(engine, kind: Kind, changes: pd.DataFrame) -> html.Div | None:
    """The stored revisions of the first (hospital, period) rows a file would correct."""
    if kind == "registry":  # a registry row has no revisions (nor a period)
        return None
    changed = changes.loc[changes["change"] == "changed", ["hospital_code", "period"]]
    if changed.empty:
        return None
    frames = [data.list_revisions(engine, code, period, kind=kind).assign(hospital_code=code)
              for code, period in changed.head(REVISION_KEYS).itertuples(index=False)]
    revisions = pd.concat(frames, ignore_index=True)
    fields = by_code(kind)
    head = [fields["hospital_code"].label, fields["period"].label, t("col.revision"), t("col.is_current"),
            t("history.username"), t("history.file_name"), t("history.received_at")]
    body = [html.Tr([html.Td(r.hospital_code), html.Td(r.period), html.Td(r.revision),
                     html.Td("✓" if r.is_current else ""), html.Td(r.username), html.Td(r.file_name),
                     html.Td(timestamp(r.received_at))])
            for r in revisions.itertuples(index=False)]
    parts: list[Any] = [
        html.Div(t("upload.revisions"), className="opsmon-section-title mt-2"),
        dbc.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)], id="upload-revisions",
                  size="sm", bordered=True, responsive=True, className="bg-white"),
    ]
    if len(changed) > REVISION_KEYS:
        parts.append(html.P(t("upload.revisions_more").format(n=len(changed) - REVISION_KEYS),
                            className="text-muted small"))
    return html.Div(parts)


def build_preview(result: api.FileResult, engine) -> html.Div:
    """The preview of a dry run: summary, errors, warnings, the rows with their changes."""
    parsed = result.parsed
    kind = result.kind
    kind_label = t(f"kind.{kind}") if kind else "?"
    parts: list[Any] = [html.H5(t("upload.summary").format(file=result.file, kind=kind_label, rows=result.rows),
                                id="upload-summary")]
    current = None
    if result.status == "rejected":
        parts.append(dbc.Alert(t("upload.rejected").format(n=f"{total(result.errors):,}"), color="danger",
                               id="upload-verdict"))
    else:
        changes = result.changes if result.changes is not None else pd.DataFrame(columns=["change"])
        n_new = int((changes["change"] == "new").sum())
        n_changed = int((changes["change"] == "changed").sum())
        n_same = result.rows - n_new - n_changed
        if kind == "registry":
            text = t("upload.ready_registry").format(new=n_new, changed=n_changed, same=n_same)
        elif n_new + n_changed == 0:
            text = t("upload.ready_unchanged")
        else:
            text = t("upload.ready").format(new=n_new, changed=n_changed, same=n_same)
        parts.append(dbc.Alert(text, color="success", id="upload-verdict"))
        keys = parsed.frame.loc[:, list(KEYS[kind])]
        current = data.current_values(engine, kind, keys)
    if result.errors:
        parts += [html.Div(t("upload.errors"), className="opsmon-section-title"),
                  problem_table(result.errors, kind, "upload-errors")]
    if result.warnings and result.status != "rejected":  # a rejected file: its errors only
        parts += [html.Div(t("upload.warnings"), className="opsmon-section-title"),
                  problem_table(result.warnings, kind, "upload-warnings")]
    if kind and parsed is not None and len(parsed.raw):
        records = preview_rows(kind, parsed.frame, parsed.raw, result.changes, current, result.errors)
        note = [t("upload.legend")]
        if len(parsed.raw) > PREVIEW_ROWS:
            note.append(" " + t("upload.rows_capped").format(n=PREVIEW_ROWS))
        parts += [html.Div(t("upload.rows"), className="opsmon-section-title mt-2"),
                  html.P(note, className="text-muted small mb-1"),
                  _rows_grid(kind, list(parsed.raw.columns), records)]
    if result.changes is not None and result.status != "rejected":
        parts.append(revisions_table(engine, kind, result.changes))
    return html.Div(parts)


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


def layout(**_query: str) -> html.Div:
    """The page: upload and preview, then the history and the templates."""
    engine = context.engine()
    # Only the kinds this user's role may send (the server refuses the others anyway).
    kinds = [k for k in KINDS if k in auth.require_user().permissions.upload_kinds]
    kind_options = [{"label": t("upload.kind.auto"), "value": "auto"}] + [
        {"label": t(f"kind.{k}"), "value": k} for k in kinds]
    upload = dbc.Card(dbc.CardBody([
        html.H4(t("upload.title")),
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
    engine = context.engine()
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
    engine = context.engine()
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
    entry = data.get_submission(context.engine(), int(selected[0]["submission_id"]))
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


@callback(
    Output("upload-template-download", "data"),
    Input({"type": "upload-template", "kind": ALL}, "n_clicks"),
    prevent_initial_call=True,
)
def download_template(clicks: list[int | None]):
    """The XLSX template of the clicked kind, for last month, with the configured due day."""
    if not any(clicks) or not isinstance(ctx.triggered_id, dict):
        raise PreventUpdate
    kind = ctx.triggered_id["kind"]
    if kind not in KINDS:
        raise PreventUpdate
    content = templates.xlsx(kind, last_month(), api.due_day(context.engine()))
    return dcc.send_bytes(content, f"{templates.TITLES[kind]}模板.xlsx")

