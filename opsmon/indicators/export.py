"""Exports of query frames and the 运营管理建设进展情况表, as bytes (the CLI and pages send them).

Machine formats (CSV, JSON) keep the query API's columns and give ratios as
fractions (0.4907); CSV carries a UTF-8 BOM so Excel on Chinese Windows reads it.
The ``approx`` column (true/false) marks 近似 values (see
:mod:`opsmon.indicators.query`). XLSX is for people: a title, the data's as-of
time, Chinese headers, the unit beside every value, percentages formatted as
such and a 近似 column saying 近似 beside every approximated value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.engine import Engine

from opsmon import periods, spreadsheet
from opsmon.indicators import catalogue, reporting
from opsmon.indicators.programme import PROGRAMME_IDS
from opsmon.indicators.query import COLUMNS, LEVELS, fetch, level_of

Format = Literal["csv", "xlsx", "json"]
LEVEL_LABELS = {"nation": "全国", "province": "省", "prefecture": "市（州）", "county": "县（市、区）", "hospital": "医院"}
HEADERS_ZH = {
    "level": "层级", "code": "代码", "name": "名称", "parent_code": "上级代码", "indicator": "指标代码",
    "label": "指标", "period": "报告期", "span": "统计口径", "value": "数值", "unit": "单位",
    "numerator": "分子", "denominator": "分母", "reporting": "已报医院数", "expected": "应报医院数",
    "approx": "近似",
}
XLSX_COLUMNS = ["level", "code", "name", "parent_code", "indicator", "label", "period", "span", "value", "unit",
                "approx", "numerator", "denominator", "reporting", "expected"]
# The XLSX's approx cell: the marker for a 近似 value, empty otherwise.
APPROX_MARK = {"zh": "近似", "en": "approximate"}


def number_format(ind: catalogue.Indicator) -> str:
    """The Excel number format of *ind*'s values: percentages for '%', thousands separators for money."""
    decimals = "." + "0" * ind.decimals if ind.decimals else ""
    if ind.unit == "%":
        return f"0{decimals}%"
    return f"#,##0{decimals}" if ind.unit in ("元", "家", "个") else f"0{decimals}"


def _as_of_text(as_of: datetime | None, zone: ZoneInfo = periods.LOCAL_TZ) -> str:
    if as_of is None:
        return "数据截至：—"
    local = as_of.astimezone(zone) if as_of.tzinfo else as_of
    return f"数据截至：{local:%Y-%m-%d %H:%M}"


def _sheet(title: str, as_of: datetime | None, headers: list[str], rows: list[list[Any]],
           formats: Mapping[int, str] | None = None, row_formats: list[Mapping[int, str]] | None = None,
           zone: ZoneInfo = periods.LOCAL_TZ) -> bytes:
    """One worksheet: title (merged across), as-of line (in *zone*), a header row, the rows; column
    formats by index."""
    return spreadsheet.xlsx_bytes(title, _as_of_text(as_of, zone), headers, rows, column_formats=formats,
                                  row_formats=row_formats, merge_title=True)


def export_table(frame: pd.DataFrame, fmt: Format, *, title: str | None = None, as_of: datetime | None = None,
                 language: str = "zh", preamble: Sequence[str] = ()) -> bytes:
    """A query frame (:data:`~opsmon.indicators.query.COLUMNS`) as CSV, XLSX or JSON bytes.

    CSV (UTF-8 with BOM) and JSON (a list of records) keep the columns and
    fractions as they are (``approx`` as true/false). XLSX adds the indicator's
    label and unit, shows percentages as percentages, marks 近似 values in its
    近似 column, and heads the sheet with *title* and the data's *as_of* time.
    CSV and XLSX are written by :mod:`opsmon.spreadsheet`, so text
    that would start a formula is neutralised (a leading ``'``); JSON is data,
    not a spreadsheet, and keeps text as it is. *preamble*: ``#`` lines heading
    the CSV (see :func:`opsmon.spreadsheet.csv_bytes`).
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"not a query frame: missing {missing}")
    data = frame[COLUMNS]
    if fmt == "csv":  # true/false as JSON writes them (pandas would write True/False)
        data = data.assign(approx=data["approx"].map(lambda a: "true" if a else "false"))
        return spreadsheet.csv_bytes(data, preamble=preamble)
    if fmt == "json":
        return data.to_json(orient="records", force_ascii=False, double_precision=15).encode("utf-8")
    if fmt != "xlsx":
        raise ValueError(f"format must be csv, xlsx or json, got {fmt!r}")
    rows, row_formats = [], []
    value_col = XLSX_COLUMNS.index("value")
    for record in data.to_dict("records"):
        ind = catalogue.get(record["indicator"])
        record = {**record, "label": ind.label(language), "unit": ind.unit,
                  "level": LEVEL_LABELS.get(record["level"], record["level"]) if language == "zh" else record["level"],
                  "span": periods.SPAN_LABELS[record["span"]][0 if language == "zh" else 1],
                  "approx": APPROX_MARK["zh" if language == "zh" else "en"] if record["approx"] else None}
        rows.append([record[c] for c in XLSX_COLUMNS])
        row_formats.append({value_col: number_format(ind)})
    headers = [HEADERS_ZH[c] if language == "zh" else c for c in XLSX_COLUMNS]
    counts = {XLSX_COLUMNS.index("reporting"): "0", XLSX_COLUMNS.index("expected"): "0"}
    return _sheet(title or "指标数据", as_of, headers, rows, counts, row_formats)


def progress_table(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
                   filters: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """运营管理建设进展情况表 data: one row per region directly under *region*, then its total.

    *region* defaults to the province: the rows are then its prefectures and the
    county-level units it administers directly (吉林 梅河口市). Columns: code, name,
    hospitals_expected, hospitals_reporting, reporting_rate, then for each
    programme indicator its value and, for ratios, ``<id>__numerator`` and
    ``<id>__denominator``.
    """
    parent = region or reporting.root_code(engine)
    ids = ["hospitals_expected", "hospitals_reporting", "reporting_rate", *PROGRAMME_IDS]
    level = level_of(engine, parent)
    if level == "hospital":
        raise ValueError("the progress table is by region; give a region adcode")
    # The parent's own row (the total) and the next level's rows under it.
    frames = [fetch(engine, ids, lv, [period], region=parent, filters=filters, scope=scope)
              for lv in (level, LEVELS[LEVELS.index(level) + 1])]
    long = pd.concat(frames, ignore_index=True)
    long = long[(long["parent_code"] == parent) | (long["code"] == parent)]
    out = long.pivot(index=["code", "name"], columns="indicator", values="value").reindex(columns=ids)
    for ind in PROGRAMME_IDS:
        if catalogue.get(ind).kind == "ratio":
            part = long[long["indicator"] == ind].set_index(["code", "name"])
            out[f"{ind}__numerator"] = part["numerator"]
            out[f"{ind}__denominator"] = part["denominator"]
    out = out.reset_index()
    out.columns.name = None
    # Children in code order, the total last.
    return out.assign(_total=out["code"] == parent).sort_values(["_total", "code"]).drop(
        columns="_total").reset_index(drop=True)


def progress_table_xlsx(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
                        filters: Mapping[str, Any] | None = None, as_of: datetime | None = None) -> bytes:
    """The 运营管理建设进展情况表 of *period* as XLSX (see :func:`progress_table`).

    *as_of* defaults to the latest accepted submission's time.
    """
    parent = region or reporting.root_code(engine)
    table = progress_table(engine, period, region=parent, scope=scope, filters=filters)
    columns: list[tuple[str, str, str]] = [("name", "地区", "@"), ("hospitals_expected", "应报医院数", "0"),
                                           ("hospitals_reporting", "已报医院数", "0"),
                                           ("reporting_rate", "月报报送率", "0.0%")]
    for ind_id in PROGRAMME_IDS:
        ind = catalogue.get(ind_id)
        if ind.kind == "ratio":
            columns += [(f"{ind_id}__numerator", f"{ind.zh}：达标医院数", "0"),
                        (f"{ind_id}__denominator", f"{ind.zh}：统计医院数", "0")]
        columns.append((ind_id, ind.zh + (f"（{ind.unit}）" if ind.unit not in ("%", "") else ""), number_format(ind)))
    p = periods.to_date(period)
    title = f"运营管理建设进展情况表（{p.year}年{p.month}月）"
    rows = [[rec.get(c) for c, _, _ in columns] for rec in table.to_dict("records")]
    if rows and table["code"].iloc[-1] == parent:
        rows[-1][0] = f"{rows[-1][0]}（合计）"
    formats = {i: fmt for i, (_, _, fmt) in enumerate(columns)}
    return _sheet(title, as_of if as_of is not None else reporting.data_as_of(engine),
                  [h for _, h, _ in columns], rows, formats, zone=periods.configured_tz(engine))
