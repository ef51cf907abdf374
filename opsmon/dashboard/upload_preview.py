"""The preview of an uploaded file: its rows beside the stored ones, its problems, the revisions it would correct.

What a clerk reads before confirming: each row marked new, changed or the same as
the stored one, with the changed cells (and their stored values) highlighted; the
errors and warnings as row, column label, value and message; the stored revisions
of the first rows the file would correct.
"""

from __future__ import annotations

import json
import math
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from opsmon.dashboard import data
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.strings import t
from opsmon.ingest import api
from opsmon.ingest.fields import KEYS, Field, Kind, by_code
from opsmon.ingest.problems import Problem, total

PREVIEW_ROWS = 5000  # rows sent to the browser; the checks always cover the whole file
REVISION_KEYS = 10  # (hospital, period) pairs whose stored revisions a preview lists
CHANGED_STYLE = {"backgroundColor": "#fff3cd", "fontWeight": "600"}
ERROR_STYLE = {"backgroundColor": "#f8d7da", "color": "#842029"}


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
