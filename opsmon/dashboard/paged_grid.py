"""Tables too long to send whole: AG Grid's infinite row model, served a block at a time from the server.

At national size a ranking of hospitals is 12 000 rows and a month's risk list tens of
thousands; sending them whole made the page's callback several megabytes and seconds long.
A paged grid (:func:`grid`) is sent empty; as the reader scrolls, the grid asks for the rows
``startRow``–``endRow`` under its sort and column filters (``getRowsRequest``) and a page
callback answers with :func:`rows` of the selection's frame (memoised in
:mod:`opsmon.dashboard.cache`, so the blocks of one view query the database once). The
page's search box is applied here too (AG Grid's quick filter works only on rows it holds):
a new search purges the grid's blocks (:func:`purge_on_search`) and the next request carries it.

The filter model is AG Grid's (community text and number filters, one condition or two
joined by AND/OR); anything else in it is ignored rather than guessed at.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import dash
import dash_ag_grid as dag
import numpy as np
import pandas as pd
from dash import Input, Output

BLOCK_ROWS = 100  # rows per request: about two screens of a 560-pixel grid


def grid(component_id: str, columns: list[dict], *, row_count: int, height: int = 560, row_id: str,
         locale: dict[str, str], default_col: dict[str, Any], row_height: int | None = None) -> dag.AgGrid:
    """An empty grid that asks the server for its rows; *row_count* rows in all (the scrollbar's length).

    Rows have one height (*row_height*, else the theme's): the infinite row model cannot size a row to its
    content, so a long text is cut and shown whole in its tooltip."""
    return dag.AgGrid(
        id=component_id, columnDefs=columns, rowModelType="infinite",
        defaultColDef=default_col, columnSize="responsiveSizeToFit", className="opsmon-grid",
        getRowId=f"params.data.{row_id}", style={"height": f"{height}px"},
        dashGridOptions={"localeText": locale, "enableCellTextSelection": True, "ensureDomOrder": True,
                         "suppressDragLeaveHidesColumns": True, "animateRows": False, "tooltipShowDelay": 300,
                         "rowBuffer": 0, "cacheBlockSize": BLOCK_ROWS, "maxBlocksInCache": 50,
                         "infiniteInitialRowCount": min(row_count, BLOCK_ROWS), "maxConcurrentDatasourceRequests": 1,
                         **({"rowHeight": row_height} if row_height else {})},
    )


def rows(frame: pd.DataFrame, request: dict | None, *, search: str | None = None,
         search_fields: Sequence[str] = ("name",), fields: Sequence[str] | None = None,
         finish: Callable[[pd.DataFrame], pd.DataFrame] | None = None) -> dict[str, Any]:
    """The ``getRowsResponse`` for *request*: *frame*'s rows matching *search* (a case-blind substring of any of
    *search_fields*) and the filter model, in the sort model's order (else the frame's own), from ``startRow`` to
    ``endRow``, passed through *finish* (columns too costly to make for every row), only the columns *fields*.
    ``rowCount`` is the number of matching rows."""
    request = request or {}
    chosen = frame
    text = (search or "").strip().lower()
    if text:
        hit = np.zeros(len(chosen), dtype=bool)
        for field in search_fields:
            hit |= chosen[field].astype(str).str.lower().str.contains(text, regex=False).to_numpy()
        chosen = chosen[hit]
    for field, model in (request.get("filterModel") or {}).items():
        if field in chosen.columns:
            chosen = chosen[_matches(chosen[field], model)]
    sort = [s for s in request.get("sortModel") or [] if s.get("colId") in chosen.columns]
    if sort:
        chosen = chosen.sort_values([s["colId"] for s in sort], ascending=[s.get("sort") != "desc" for s in sort],
                                    na_position="last", kind="stable")
    start = max(int(request.get("startRow") or 0), 0)
    end = max(int(request.get("endRow") or start + BLOCK_ROWS), start)
    block = chosen.iloc[start:end]
    if finish is not None:
        block = finish(block)
    if fields is not None:
        block = block.reindex(columns=list(fields))
    return {"rowData": records(block), "rowCount": len(chosen)}


def records(frame: pd.DataFrame) -> list[dict]:
    """*frame*'s rows as JSON-ready dicts: NaN and NaT as None, numpy scalars as Python's."""
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in out:
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                row[key] = None
    return out


# ------------------------------------------------------------------------------------------- filter model
_TEXT = {
    "contains": lambda s, v: s.str.contains(v, regex=False),
    "notContains": lambda s, v: ~s.str.contains(v, regex=False),
    "equals": lambda s, v: s == v,
    "notEqual": lambda s, v: s != v,
    "startsWith": lambda s, v: s.str.startswith(v),
    "endsWith": lambda s, v: s.str.endswith(v),
}
_NUMBER = {
    "equals": lambda s, v, _: s == v,
    "notEqual": lambda s, v, _: s != v,
    "lessThan": lambda s, v, _: s < v,
    "lessThanOrEqual": lambda s, v, _: s <= v,
    "greaterThan": lambda s, v, _: s > v,
    "greaterThanOrEqual": lambda s, v, _: s >= v,
    "inRange": lambda s, v, to: (s >= v) & (s <= to),
}


def _matches(values: pd.Series, model: dict) -> pd.Series:
    """Which of *values* pass one column's AG Grid filter *model* (a condition, or conditions joined by AND/OR)."""
    conditions = model.get("conditions")
    if conditions:
        parts = [_condition(values, c, model.get("filterType")) for c in conditions]
        combined = parts[0]
        for part in parts[1:]:
            combined = (combined | part) if model.get("operator") == "OR" else (combined & part)
        return combined
    return _condition(values, model, model.get("filterType"))


def _condition(values: pd.Series, condition: dict, kind: str | None) -> pd.Series:
    kind = condition.get("filterType") or kind
    op = condition.get("type")
    if op == "blank":
        return values.isna() | (values.astype(str).str.strip() == "")
    if op == "notBlank":
        return values.notna() & (values.astype(str).str.strip() != "")
    if kind == "number" and op in _NUMBER and condition.get("filter") is not None:
        numbers = pd.to_numeric(values, errors="coerce")
        # As AG Grid's own number filter (its includeBlanksIn… options off): a blank passes no condition.
        return numbers.notna() & _NUMBER[op](numbers, float(condition["filter"]), condition.get("filterTo"))
    if kind == "text" and op in _TEXT and condition.get("filter") is not None:
        text = values.fillna("").astype(str).str.lower()
        return _TEXT[op](text, str(condition["filter"]).lower()).astype(bool)
    return pd.Series(True, index=values.index)  # a filter this module does not know narrows nothing


def purge_on_search(search_id: str, grid_id: str) -> None:
    """When the search box *search_id* changes, drop *grid_id*'s blocks: it asks again, with the new search."""
    dash.clientside_callback(
        """
        function (_text) {
            try { dash_ag_grid.getApi("%s").purgeInfiniteCache(); } catch (e) { /* not drawn yet: it asks anyway */ }
            return window.dash_clientside.no_update;
        }
        """ % grid_id,
        Output(search_id, "title"), Input(search_id, "value"), prevent_initial_call=True)


def fields_of(columns: Iterable[dict]) -> list[str]:
    """The fields a grid's *columns* show (what a block must carry, besides ids and links)."""
    return [c["field"] for c in columns if "field" in c]
