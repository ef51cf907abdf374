"""Downloads: what a page's CSV and Excel buttons send.

Indicator tables go through :func:`opsmon.indicators.export.export_table`, so a
download equals what the indicator API returns for the same selection (CSV:
the API's columns, fractions as fractions, UTF-8 with BOM; XLSX: Chinese headers,
units, percentages, a title naming the selection and filters, the as-of time).
Other tables (the risk list, the 催报 list, targets) are written here the same
way: CSV with a BOM and the page's column headers; XLSX with a title, the
filters used and the as-of time above the header row.

Every CSV starts with two ``#`` lines — the title (with the filters) and the
as-of time — then the header row, so a file that travels by e-mail still says
what it holds (``pd.read_csv(f, skiprows=PREAMBLE_LINES)`` reads the table).

The bytes themselves are written by :mod:`opsmon.spreadsheet` (as for the CLI),
which neutralises text that a spreadsheet would read as a formula.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import IO, Any

import pandas as pd
from dash import dcc

from opsmon import spreadsheet
from opsmon.dashboard import data
from opsmon.dashboard.components import enum_label, region_name, span_label
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.strings import current_language, t, using_language
from opsmon.indicators import export as api_export

PREAMBLE_LINES = 2


def filters_text(view_filters: Mapping[str, Any], region: str | None = None) -> str:
    """'医院级别=三级、二级；地区=长春市' — the filters of a view, for titles and file names ('无' when none)."""
    parts = []
    for key, value in view_filters.items():
        if value in (None, [], ""):
            continue
        if key == "pilot":
            parts.append(t("filter.pilot_only" if value else "filter.pilot_none"))
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        parts.append(f"{t(f'filter.{key}')}={'、'.join(enum_label(v) for v in values)}")
    if region:
        parts.append(f"{t('filter.region')}={region_name(region)}")
    return "；".join(parts) if parts else t("filters.none")


def file_name(*parts: str, as_of: datetime | None, ext: str) -> str:
    """'排名_收支结余率_2026-10_截至20261123.xlsx' — safe characters only."""
    stamp = f"截至{timestamp(as_of)[:10].replace('-', '')}" if as_of else ""
    name = "_".join(p for p in (*parts, stamp) if p)
    name = re.sub(r'[\\/:*?"<>|\s]+', "-", name).replace("；", "_")
    return name[:150] + f".{ext}"


def send(content: bytes, filename: str, *, rows: int) -> dict:
    """A ``dcc.Download`` payload — if the signed-in user may export; the export goes to the audit log.

    Every table download leaves through here or through :func:`audited` (the streamed downloads of
    :mod:`opsmon.dashboard.downloads`), so the export permission and the audit entry (file name and
    row count) cannot be forgotten by a page.
    """
    audited(filename, rows)
    return dcc.send_bytes(content, filename)


def audited(filename: str, rows: int) -> None:
    """Check that the signed-in user may export (``PermissionError`` if not) and log the export."""
    data.check_export()
    data.record_export(filename, rows)


def _as_of_text(as_of: datetime | None) -> str:
    return t("export.as_of").format(as_of=timestamp(as_of) if as_of else "—")


def preamble(title: str, as_of: datetime | None) -> list[str]:
    """The :data:`PREAMBLE_LINES` lines heading a CSV download: *title* and the as-of time."""
    return [title, _as_of_text(as_of)]


def indicator_table(frame: pd.DataFrame, fmt: str, *, title: str, as_of: datetime | None) -> bytes:
    """A query frame as CSV or XLSX bytes, via the indicator API's exporter (CSV with the preamble)."""
    buf = io.BytesIO()
    write_indicator_table(buf, frame, fmt, title=title, as_of=as_of)
    return buf.getvalue()


def write_indicator_table(target: IO[bytes], frame: pd.DataFrame, fmt: str, *, title: str,
                          as_of: datetime | None, layout: api_export.Layout = "long") -> None:
    """:func:`indicator_table`'s bytes written to *target* (a binary file); *layout* as
    :func:`opsmon.indicators.export.write_table`'s."""
    lines = preamble(title, as_of) if fmt == "csv" else ()
    api_export.write_table(target, frame, fmt, title=title, as_of=as_of, language=current_language(),
                           preamble=lines, layout=layout)


def table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str | None]], fmt: str, *, title: str,
          subtitle: str, as_of: datetime | None, lang: str | None = None) -> bytes:
    """A page table as CSV (UTF-8 with BOM, after the preamble) or XLSX, text cells neutralised.

    *columns*: (frame column, header, Excel number format or None). XLSX rows 1–2
    carry *title* and *subtitle* (the filters) and the as-of time; the header is row 4.
    Timestamps are written as local time (:func:`opsmon.dashboard.format.timestamp`) in XLSX.
    *lang*: the as-of line's language (default: the request's; callers outside a request name it).
    """
    selected = frame[[col for col, _, _ in columns]]
    headers = [header for _, header, _ in columns]
    if fmt not in ("csv", "xlsx"):
        raise ValueError(f"format must be csv or xlsx, got {fmt!r}")
    with using_language(lang or current_language()):
        as_of_text = _as_of_text(as_of)
    if fmt == "csv":
        data = selected.set_axis(headers, axis="columns")
        return spreadsheet.csv_bytes(data, preamble=[f"{title}（{subtitle}）", as_of_text])
    return spreadsheet.xlsx_bytes(
        title, f"{subtitle}　{as_of_text}", headers, selected.itertuples(index=False),
        column_formats={i: number_format for i, (_, _, number_format) in enumerate(columns) if number_format},
        widths=[spreadsheet.default_width(header, padding=4) for header in headers],
        sheet=sheet_safe(title), format_timestamp=timestamp)


def selection_title(base: str, indicator_label: str | None, period: str | None, span: str | None,
                    view_filters: Mapping[str, Any] | None = None, region: str | None = None) -> str:
    """'指标排名：收支结余率（2026-10，当月；筛选：医院级别=三级）' — an export's title."""
    zh = current_language() == "zh"
    inner = [p for p in (period, span_label(span) if span else None) if p]
    text = base + (f"：{indicator_label}" if indicator_label and zh else
                   f": {indicator_label}" if indicator_label else "")
    filt = filters_text(view_filters or {}, region)
    detail = ("，" if zh else ", ").join(inner) + ("；" if zh else "; ") + t("filters.used").format(filters=filt)
    return f"{text}（{detail}）" if zh else f"{text} ({detail})"


def sheet_safe(title: str) -> str:
    """*title* with the characters Excel refuses in sheet names replaced by their full-width forms.

    (The indicator API's exporter names the sheet after the title.)
    """
    return title.translate(spreadsheet.SHEET_UNSAFE)
