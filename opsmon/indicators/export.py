"""Exports of query frames and the 运营管理建设进展情况表, as bytes (the CLI and pages send them).

Machine formats (CSV, JSON) keep the query API's columns and give ratios as
fractions (0.4907); CSV carries a UTF-8 BOM so Excel on Chinese Windows reads it.
The ``approx`` column (true/false) marks 近似 values (see
:mod:`opsmon.indicators.query`). XLSX is for people: a title, the data's as-of
time, Chinese headers, the unit beside every value, percentages formatted as
such and a 近似 column saying 近似 beside every approximated value.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import IO, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from openpyxl import load_workbook

from opsmon import periods, spreadsheet
from opsmon.indicators import catalogue, programme, reporting
from opsmon.indicators.programme import EXTRAS, PROGRAMME_IDS
from opsmon.indicators.query import COLUMNS, LEVELS, fetch, level_of

Format = Literal["csv", "xlsx", "json"]
# XLSX layouts: a row per (region, indicator) — the query's rows — or a row per region with a column
# per indicator (16× fewer cells: the national counties × all indicators sheet in ~2 s, not ~25 s).
Layout = Literal["long", "wide"]
# A wide row: one region or hospital in one period.
ROW_KEYS = ["level", "code", "name", "parent_code", "period"]
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


def _sheet(title: str, as_of: datetime | None, headers: list[str], rows: spreadsheet.Rows,
           formats: spreadsheet.ColumnFormats | None = None, zone: ZoneInfo = periods.LOCAL_TZ) -> bytes:
    """One worksheet: title (merged across), as-of line (in *zone*), a header row, the rows; column
    formats by index."""
    return spreadsheet.xlsx_bytes(title, _as_of_text(as_of, zone), headers, rows, column_formats=formats,
                                  merge_title=True)


def _per_value(column: pd.Series, fn: Callable[[Any], Any]) -> np.ndarray:
    """``fn`` of each value of *column*, called once per distinct value (a county's 44 rows: one call)."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    return np.array([fn(u) for u in uniques], dtype=object)[codes]


def xlsx_table(frame: pd.DataFrame, language: str = "zh") -> tuple[pd.DataFrame, list[str], dict[int, Any]]:
    """A query frame as the XLSX shows it: the :data:`XLSX_COLUMNS` frame, its headers and its number formats.

    Built a column at a time: the indicator's label, unit and number format and the level and span
    labels are looked up once per distinct value. An unknown indicator or span raises ``KeyError``.
    """
    zh = language == "zh"
    known = {i: catalogue.get(i) for i in frame["indicator"].unique()}
    ids = frame["indicator"]
    table = frame.assign(
        label=_per_value(ids, lambda i: known[i].label(language)),
        unit=_per_value(ids, lambda i: known[i].unit),
        level=_per_value(frame["level"], lambda lv: LEVEL_LABELS.get(lv, lv)) if zh else frame["level"],
        span=_per_value(frame["span"], lambda sp: periods.SPAN_LABELS[sp][0 if zh else 1]),
        approx=_per_value(frame["approx"], lambda a: APPROX_MARK["zh" if zh else "en"] if a else None),
    )[XLSX_COLUMNS]
    headers = [HEADERS_ZH[c] if zh else c for c in XLSX_COLUMNS]
    formats: dict[int, Any] = {XLSX_COLUMNS.index("value"): _per_value(ids, lambda i: number_format(known[i])),
                               XLSX_COLUMNS.index("reporting"): "0", XLSX_COLUMNS.index("expected"): "0"}
    return table, headers, formats


def wide_table(frame: pd.DataFrame, language: str = "zh") -> tuple[pd.DataFrame, list[str], dict[int, Any]]:
    """A query frame as a matrix: a row per region or hospital and period; a column per indicator.

    Rows in hierarchy order (by parent, then code); indicator columns in catalogue order, headed
    'label（unit）', each with its number format. The 统计口径 column gives the span most values
    cover; an indicator whose span is fixed otherwise (the deficit counts: 近12个月) says its own in
    its header. A last 近似 column names the indicators whose value in that row is approximate.
    Numerators, denominators and reporting counts are the long layout's.
    """
    zh = language == "zh"
    present = set(frame["indicator"].unique())
    ids = [i for i in catalogue.IDS if i in present]
    keys = frame[ROW_KEYS].astype(object).where(frame[ROW_KEYS].notna(), "")
    rows = keys.groupby(ROW_KEYS, sort=False).ngroup().to_numpy()  # numbered in order of appearance
    table = keys.drop_duplicates().reset_index(drop=True)  # the same order
    cols = pd.Index(ids).get_indexer(frame["indicator"])
    matrix = np.full((len(table), len(ids)), np.nan)
    matrix[rows, cols] = pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=float)
    marked = frame["approx"].fillna(False).to_numpy(dtype=bool)
    labels = np.array([catalogue.get(i).label(language) for i in ids], dtype=object)
    approx = pd.Series(labels[cols[marked]]).groupby(rows[marked]).agg("、".join if zh else "; ".join)
    spans = frame.drop_duplicates("indicator").set_index("indicator")["span"]
    main = frame["span"].mode().iloc[0] if len(frame) else "month"

    def span_text(span: str) -> str:
        return periods.SPAN_LABELS[span][0 if zh else 1]

    def header(i: str) -> str:
        ind = catalogue.get(i)
        notes = [ind.unit or ("比值" if zh else "ratio")] + ([span_text(spans[i])] if spans[i] != main else [])
        return f"{ind.label(language)}（{'，'.join(notes)}）" if zh else f"{ind.label(language)} ({', '.join(notes)})"

    table = pd.concat([table, pd.DataFrame(matrix, columns=ids)], axis=1)
    table.insert(len(ROW_KEYS), "span", span_text(main))
    table["approx"] = approx.reindex(range(len(table))).to_numpy(dtype=object)
    if zh:
        table["level"] = [LEVEL_LABELS.get(lv, lv) for lv in table["level"]]
    table["parent_code"] = table["parent_code"].replace("", None)
    table = table.sort_values(["parent_code", "code"], na_position="first", kind="stable").reset_index(drop=True)
    keys_out = [*ROW_KEYS, "span"]
    headers = [HEADERS_ZH[k] if zh else k for k in keys_out] + [header(i) for i in ids] + \
              [HEADERS_ZH["approx"] if zh else "approximate"]
    formats: dict[int, Any] = {len(keys_out) + n: number_format(catalogue.get(i)) for n, i in enumerate(ids)}
    return table, headers, formats


def export_table(frame: pd.DataFrame, fmt: Format, *, title: str | None = None, as_of: datetime | None = None,
                 language: str = "zh", preamble: Sequence[str] = (), layout: Layout = "long") -> bytes:
    """A query frame (:data:`~opsmon.indicators.query.COLUMNS`) as CSV, XLSX or JSON bytes.

    CSV (UTF-8 with BOM) and JSON (a list of records) keep the columns and
    fractions as they are (``approx`` as true/false). XLSX adds the indicator's
    label and unit, shows percentages as percentages, marks 近似 values in its
    近似 column, and heads the sheet with *title* and the data's *as_of* time.
    CSV and XLSX are written by :mod:`opsmon.spreadsheet`, so text
    that would start a formula is neutralised (a leading ``'``); JSON is data,
    not a spreadsheet, and keeps text as it is. *preamble*: ``#`` lines heading
    the CSV (see :func:`opsmon.spreadsheet.csv_bytes`). *layout* 'wide' (XLSX only): a row per
    region or hospital, a column per indicator (:func:`wide_table`).
    """
    buf = io.BytesIO()
    write_table(buf, frame, fmt, title=title, as_of=as_of, language=language, preamble=preamble, layout=layout)
    return buf.getvalue()


def write_table(target: IO[bytes], frame: pd.DataFrame, fmt: Format, *, title: str | None = None,
                as_of: datetime | None = None, language: str = "zh", preamble: Sequence[str] = (),
                layout: Layout = "long") -> None:
    """:func:`export_table`'s bytes written to *target* (a binary file).

    CSV goes in blocks of rows; XLSX rows go to openpyxl's write-only sheet (which streams them to a
    temporary file, zipped into *target* at the end), so a national table is never held whole as
    bytes: a download writes it to a temporary file and streams that.
    """
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"not a query frame: missing {missing}")
    if layout not in ("long", "wide") or (layout == "wide" and fmt != "xlsx"):
        raise ValueError(f"layout must be long, or wide for xlsx; got {layout!r} for {fmt!r}")
    data = frame[COLUMNS]
    if fmt == "csv":  # true/false as JSON writes them (pandas would write True/False)
        data = data.assign(approx=data["approx"].map(lambda a: "true" if a else "false"))
        for chunk in spreadsheet.csv_chunks(data, preamble=preamble):
            target.write(chunk)
    elif fmt == "json":
        target.write(data.to_json(orient="records", force_ascii=False, double_precision=15).encode("utf-8"))
    elif fmt == "xlsx":
        table, headers, formats = (wide_table if layout == "wide" else xlsx_table)(data, language)
        spreadsheet.write_xlsx(target, title or "指标数据", _as_of_text(as_of), headers, table,
                               column_formats=formats, merge_title=True)
    else:
        raise ValueError(f"format must be csv, xlsx or json, got {fmt!r}")


# The progress counts of :func:`opsmon.indicators.programme.unit_counts` the table carries, by their
# names there → the table's column.
PROGRESS_COUNTS = {"stale": "progress_stale", "missing": "progress_missing", "outdated": "progress_outdated"}
OUTDATED_SHEET = "进展未更新医院名单"


def _ratio_ids() -> list[str]:
    return [i for i in PROGRAMME_IDS if catalogue.get(i).kind == "ratio"]


# How the progress table's XLSX shows an __approx column.
_APPROX_TEXT = {True: "近似", False: "", None: ""}


def _approximate_ids() -> list[str]:
    """The programme indicators with a v1 stand-in (近似 when a report lacks the optional field)."""
    return [i for i in PROGRAMME_IDS if catalogue.get(i).approximation is not None]


def progress_table(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
                   filters: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """运营管理建设进展情况表 data: one row per region directly under *region*, then its total.

    *region* defaults to the province: the rows are then its prefectures and the
    county-level units it administers directly (吉林 梅河口市). Columns: code, name,
    hospitals_expected, hospitals_reporting, reporting_rate; the hospitals without a
    current progress status (``spec/indicators.md`` "Stale progress"):
    ``progress_stale`` (latest report over two quarters old: 进展未更新),
    ``progress_missing`` (never reported) and ``progress_outdated`` (either); then
    for each programme indicator its value and, for ratios, ``<id>__numerator``,
    ``<id>__denominator`` and ``<id>__stale`` (the stale hospitals among its
    population: in the denominator, not the numerator), and for an indicator with a
    v1 stand-in ``<id>__approx`` (近似: a counted hospital's report lacks the optional
    field, e.g. campaign_optimized_processes); then the progress fields no
    catalogue indicator reports (:data:`opsmon.indicators.programme.EXTRAS`: the
    operations department, the internal control review) as the same three columns.
    *filters* (registry attributes) are refused: the stale counts are by region only.
    """
    if any(v is not None for v in (filters or {}).values()):
        raise ValueError("the progress table takes no filters: its stale counts are by region")
    parent = region or reporting.root_code(engine)
    ids = ["hospitals_expected", "hospitals_reporting", "reporting_rate", *PROGRAMME_IDS]
    level = level_of(engine, parent)
    if level == "hospital":
        raise ValueError("the progress table is by region; give a region adcode")
    # The parent's own row (the total) and the next level's rows under it.
    frames = [fetch(engine, ids, lv, [period], region=parent, scope=scope)
              for lv in (level, LEVELS[LEVELS.index(level) + 1])]
    long = pd.concat(frames, ignore_index=True)
    long = long[(long["parent_code"] == parent) | (long["code"] == parent)]
    out = long.pivot(index=["code", "name"], columns="indicator", values="value").reindex(columns=ids)
    for ind in _ratio_ids():
        part = long[long["indicator"] == ind].set_index(["code", "name"])
        out[f"{ind}__numerator"] = part["numerator"]
        out[f"{ind}__denominator"] = part["denominator"]
        if ind in _approximate_ids():
            out[f"{ind}__approx"] = part["approx"].astype(bool)
    out = out.reset_index()
    out.columns.name = None
    if out.empty:
        return out
    # The same rows (a region's children, then itself), counted from the progress reports.
    counts = programme.unit_counts(engine, period, region=parent, scope=scope).set_index("code")
    extra_cols = {**PROGRESS_COUNTS, **{f"{i}__stale": f"{i}__stale" for i in _ratio_ids()}}
    for entry in EXTRAS:
        extra_cols.update({c: c for c in (entry.id, f"{entry.id}__numerator", f"{entry.id}__denominator")})
    extra = counts[list(extra_cols)].rename(columns=extra_cols)
    out = out.join(extra, on="code")
    ordered = ["code", "name", "hospitals_expected", "hospitals_reporting", "reporting_rate",
               *PROGRESS_COUNTS.values()]
    for ind in PROGRAMME_IDS:
        ordered.append(ind)
        if ind in _ratio_ids():
            ordered += [f"{ind}__numerator", f"{ind}__denominator", f"{ind}__stale"]
            ordered += [f"{ind}__approx"] if ind in _approximate_ids() else []
    for entry in EXTRAS:
        ordered += [entry.id, f"{entry.id}__numerator", f"{entry.id}__denominator"]
    # Children in code order, the total last.
    return out.assign(_total=out["code"] == parent).sort_values(["_total", "code"])[ordered].reset_index(drop=True)


def progress_table_xlsx(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
                        filters: Mapping[str, Any] | None = None, as_of: datetime | None = None) -> bytes:
    """The 运营管理建设进展情况表 of *period* as XLSX (see :func:`progress_table`).

    The first sheet is the table: a column of the hospitals whose progress report is
    missing or stale (and, of them, the stale), and beside every programme ratio its
    达标 and 统计 hospitals and how many of those are 进展未更新. A second sheet
    (:data:`OUTDATED_SHEET`) lists those hospitals by name. *as_of* defaults to the
    latest accepted submission's time.
    """
    parent = region or reporting.root_code(engine)
    table = progress_table(engine, period, region=parent, scope=scope, filters=filters)
    columns: list[tuple[str, str, str]] = [("name", "地区", "@"), ("hospitals_expected", "应报医院数", "0"),
                                           ("hospitals_reporting", "已报医院数", "0"),
                                           ("reporting_rate", "月报报送率", "0.0%"),
                                           ("progress_outdated", "进展未报送或未更新医院数", "0"),
                                           ("progress_stale", "其中：进展未更新（超过两个季度）", "0")]
    for ind in [*(catalogue.get(i) for i in PROGRAMME_IDS), *EXTRAS]:
        if ind.kind == "ratio":
            columns += [(f"{ind.id}__numerator", f"{ind.zh}：达标医院数", "0"),
                        (f"{ind.id}__denominator", f"{ind.zh}：统计医院数", "0")]
            if ind.id in PROGRAMME_IDS:
                columns.append((f"{ind.id}__stale", f"{ind.zh}：其中进展未更新", "0"))
        columns.append((ind.id, ind.zh + (f"（{ind.unit}）" if ind.unit not in ("%", "") else ""),
                        number_format(ind)))
        if ind.id in _approximate_ids():
            columns.append((f"{ind.id}__approx", f"{ind.zh}：口径", "@"))
    p = periods.to_date(period)
    title = f"运营管理建设进展情况表（{p.year}年{p.month}月）"
    rows = [[_APPROX_TEXT.get(rec.get(c)) if c.endswith("__approx") else rec.get(c) for c, _, _ in columns]
            for rec in table.to_dict("records")]
    if rows and table["code"].iloc[-1] == parent:
        rows[-1][0] = f"{rows[-1][0]}（合计）"
    formats = {i: fmt for i, (_, _, fmt) in enumerate(columns)}
    zone = periods.configured_tz(engine)
    as_of = as_of if as_of is not None else reporting.data_as_of(engine)
    content = _sheet(title, as_of, [h for _, h, _ in columns], rows, formats, zone=zone)
    return _with_outdated_sheet(content, engine, period, parent, scope, title)


def _with_outdated_sheet(content: bytes, engine: Engine, period: str, region: str, scope: str | None,
                         title: str) -> bytes:
    """*content* with a second sheet listing, by name, the hospitals without a current progress status."""
    frame = programme.outdated(engine, period, region=region, scope=scope)
    book = load_workbook(io.BytesIO(content))
    ws = book.create_sheet(OUTDATED_SHEET)
    # Row 1 a title, row 2 the rule, row 4 the header (as on the first sheet); every cell through
    # spreadsheet.cell, so a name that would start a formula stays text.
    ws.append([spreadsheet.cell(f"{title}：进展未报送或未更新的医院")])
    ws.append([spreadsheet.cell(f"进展状态取报告期及以前最近一次进展报告；超过{programme.STALE_MONTHS}个月（两个季度）"
                                "的报告为“进展未更新”，计入分母、不计入分子")])
    ws.append([])
    ws.append([spreadsheet.cell(h) for h in ("医院代码", "医院名称", "区划代码", "级别", "状态", "最近一次进展报告")])
    for rec in frame.to_dict("records"):
        ws.append([spreadsheet.cell(v) for v in (
            rec["hospital_code"], rec["name"], rec["adcode"], rec["tier"],
            "进展未更新" if rec["stale"] else "未报送进展", rec["status_period"] or "—")])
    for letter, width in zip("ABCDEF", (22, 36, 10, 8, 12, 18), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = f"A{spreadsheet.FIRST_DATA_ROW}"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
