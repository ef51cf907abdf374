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
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from dash import dcc
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from opsmon.dashboard import data
from opsmon.dashboard.components import enum_label, region_name, span_label
from opsmon.dashboard.format import timestamp
from opsmon.dashboard.strings import t
from opsmon.indicators import export as api_export

PREAMBLE_LINES = 2
MIME = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def filters_text(view_filters: Mapping[str, Any], lang: str, region: str | None = None) -> str:
    """'医院级别=三级、二级；地区=长春市' — the filters of a view, for titles and file names ('无' when none)."""
    parts = []
    for key, value in view_filters.items():
        if value in (None, [], ""):
            continue
        if key == "pilot":
            text = t("filter.pilot_only" if value else "filter.pilot_none", lang)
            parts.append(text)
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        parts.append(f"{t(f'filter.{key}', lang)}={'、'.join(enum_label(v, lang) for v in values)}")
    if region:
        parts.append(f"{t('filter.region', lang)}={region_name(region)}")
    return "；".join(parts) if parts else t("filters.none", lang)


def file_name(*parts: str, as_of: datetime | None, ext: str) -> str:
    """'排名_收支结余率_2026-10_截至20261123.xlsx' — safe characters only."""
    stamp = f"截至{timestamp(as_of)[:10].replace('-', '')}" if as_of else ""
    name = "_".join(p for p in (*parts, stamp) if p)
    name = re.sub(r'[\\/:*?"<>|\s]+', "-", name).replace("；", "_")
    return name[:150] + f".{ext}"


def send(content: bytes, filename: str, *, rows: int) -> dict:
    """A ``dcc.Download`` payload — if the signed-in user may export; the export goes to the audit log.

    Every table download leaves through here, so the export permission and the
    audit entry (file name and row count) cannot be forgotten by a page.
    """
    data.check_export()
    data.record_export(filename, rows)
    return dcc.send_bytes(content, filename)


def with_preamble(csv: bytes, title: str, as_of: datetime | None, lang: str) -> bytes:
    """*csv* (UTF-8 with BOM) headed by '# title' and '# 数据截至…' lines (:data:`PREAMBLE_LINES`)."""
    as_of_text = t("export.as_of", lang).format(as_of=timestamp(as_of) if as_of else "—")
    lines = [f"# {' '.join(title.split())}", f"# {as_of_text}"]  # PREAMBLE_LINES of them
    body = csv.removeprefix(b"\xef\xbb\xbf")
    return b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8") + b"\n" + body


def indicator_table(frame: pd.DataFrame, fmt: str, *, title: str, as_of: datetime | None, lang: str) -> bytes:
    """A query frame as CSV or XLSX bytes, via the indicator API's exporter (CSV with the preamble)."""
    content = api_export.export_table(frame, fmt, title=title, as_of=as_of, language=lang)
    return with_preamble(content, title, as_of, lang) if fmt == "csv" else content


def _cell(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return timestamp(value.to_pydatetime())
    return value.item() if hasattr(value, "item") else value


def table(frame: pd.DataFrame, columns: Sequence[tuple[str, str, str | None]], fmt: str, *, title: str,
          subtitle: str, as_of: datetime | None, lang: str) -> bytes:
    """A page table as CSV (UTF-8 with BOM) or XLSX.

    *columns*: (frame column, header, Excel number format or None). XLSX rows 1–2
    carry *title* and *subtitle* (the filters) and the as-of time; the header is row 4.
    """
    data = frame[[col for col, _, _ in columns]].copy()
    data.columns = [header for _, header, _ in columns]
    if fmt == "csv":
        return with_preamble(data.to_csv(index=False).encode("utf-8-sig"), f"{title}（{subtitle}）", as_of, lang)
    if fmt != "xlsx":
        raise ValueError(f"format must be csv or xlsx, got {fmt!r}")
    book = Workbook()
    ws = book.active
    ws.title = sheet_safe(title)[:31] or "Sheet1"
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    as_of_text = t("export.as_of", lang).format(as_of=timestamp(as_of) if as_of else "—")
    ws.append([f"{subtitle}　{as_of_text}"])
    ws.append([])
    ws.append([header for _, header, _ in columns])
    for cell in ws[4]:
        cell.font, cell.fill = Font(bold=True), PatternFill("solid", fgColor="DDE7F0")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for n, record in enumerate(frame[[col for col, _, _ in columns]].itertuples(index=False)):
        ws.append([_cell(v) for v in record])
        for i, (_, _, number_format) in enumerate(columns):
            if number_format:
                ws.cell(row=5 + n, column=i + 1).number_format = number_format
    ws.freeze_panes = "A5"
    for i, (_, header, _) in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, 2 * len(header) + 4))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def selection_title(base: str, indicator_label: str | None, period: str | None, span: str | None, lang: str,
                    view_filters: Mapping[str, Any] | None = None, region: str | None = None) -> str:
    """'指标排名：收支结余率（2026-10，当月；筛选：医院级别=三级）' — an export's title."""
    inner = [p for p in (period, span_label(span, lang) if span else None) if p]
    text = base + (f"：{indicator_label}" if indicator_label and lang == "zh" else
                   f": {indicator_label}" if indicator_label else "")
    filt = filters_text(view_filters or {}, lang, region)
    sep = "，" if lang == "zh" else ", "
    detail = sep.join(inner) + ("；" if lang == "zh" else "; ") + t("filters.used", lang).format(filters=filt)
    return f"{text}（{detail}）" if lang == "zh" else f"{text} ({detail})"


_SHEET_UNSAFE = str.maketrans({":": "：", "/": "／", "\\": "＼", "?": "？", "*": "＊", "[": "【", "]": "】"})


def sheet_safe(title: str) -> str:
    """*title* with the characters Excel refuses in sheet names replaced by their full-width forms.

    (The indicator API's exporter names the sheet after the title.)
    """
    return title.translate(_SHEET_UNSAFE)
