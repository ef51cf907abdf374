"""Write the demo province as the files hospitals really send.

Monthly reports come in three forms, as a province receives them: CSV saved by
Excel on Chinese Windows (GBK, CRLF, Chinese labels with units, thousands
separators), UTF-8-with-BOM CSV exported by a finance (HRP) system with the code
headers, and XLSX workbooks with a merged title row and a note above the header.
Files are byte-for-byte deterministic (fixed ZIP and document timestamps), so a
re-run produces the same SHA-256 and the ingest log recognises it.
"""

from __future__ import annotations

import io
import shutil
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from opsmon.demo.generate import DemoData, progress_received_at
from opsmon.ingest.fields import MONTHLY, MONTHLY_V2, PROGRESS, REGISTRY, Field

FileKind = Literal["registry", "monthly", "progress"]
FORMATS = ("gbk_csv", "utf8_csv", "xlsx")
_EXT = {"gbk_csv": "csv", "utf8_csv": "csv", "xlsx": "xlsx"}
_KIND_ORDER = {"registry": 0, "monthly": 1, "progress": 2}
# The v1 monthly template: what hospitals that have not moved to v2 still send.
MONTHLY_V1: tuple[Field, ...] = tuple(f for f in MONTHLY if f.code not in MONTHLY_V2)


@dataclass(frozen=True)
class DemoFile:
    """One file to load: where it is, its kind, when it (notionally) arrived, its period."""

    path: Path
    kind: FileKind
    received_at: pd.Timestamp
    period: str | None


# --------------------------------------------------------------------------------------
# Writers


def _xlsx_bytes(wb: Workbook, when: pd.Timestamp) -> bytes:
    """Serialise *wb* with fixed timestamps so the bytes depend on the content only."""
    stamp = when.to_pydatetime().replace(microsecond=0)
    wb.properties.created = stamp
    wb.properties.modified = stamp
    wb.properties.creator = "opsmon demo"
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(wb, archive).write_data()  # not save_workbook: it stamps "now"
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _sheet(title: str, note: str | None, fields: tuple[Field, ...], sheet_name: str) -> tuple[Workbook, int]:
    """A workbook whose first sheet has a merged title row, a note or blank row, then the header.

    Returns the workbook and the first data row.
    """
    wb = Workbook()
    ws = wb.active
    ws.title = sheet_name
    n = len(fields)
    ws.cell(row=1, column=1, value=title)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=n)
    if note is not None:
        ws.cell(row=2, column=1, value=note)
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=n)
    for j, f in enumerate(fields, 1):
        ws.cell(row=3, column=j, value=f.header)
        ws.column_dimensions[get_column_letter(j)].width = max(10, 2 * len(f.header) + 2)
    ws.freeze_panes = "B4"
    return wb, 4


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if hasattr(value, "item"):  # numpy scalar → Python
        return value.item()
    return value


def _write_monthly_xlsx(rows: pd.DataFrame, path: Path, title: str, when: pd.Timestamp, date_cells: bool,
                        fields: tuple[Field, ...] = MONTHLY) -> None:
    wb, first = _sheet(title, "金额单位：元；收入、费用为本月数，资产、负债、床位、人员为期末数。", fields, "月报")
    ws = wb.active
    for i, record in enumerate(rows[[f.code for f in fields]].itertuples(index=False), first):
        for j, (f, value) in enumerate(zip(fields, record, strict=True), 1):
            if f.code == "period" and date_cells:
                value = datetime(int(value[:4]), int(value[5:7]), 1)
            cell = ws.cell(row=i, column=j, value=_cell(value))
            if f.code == "period" and date_cells:
                cell.number_format = "yyyy-mm"
            elif f.type == "money":
                cell.number_format = "#,##0.00"
            elif f.type == "count":
                cell.number_format = "0"
    path.write_bytes(_xlsx_bytes(wb, when))


def _write_gbk_csv(rows: pd.DataFrame, path: Path, fields: tuple[Field, ...] = MONTHLY) -> None:
    """As Excel on Chinese Windows saves "CSV (逗号分隔)": GBK, CRLF, labels with units, 1,234.56."""
    out = pd.DataFrame(index=rows.index)
    for f in fields:
        s = rows[f.code]
        if f.code == "period":
            out[f.header] = s.map(lambda p: f"{p[:4]}年{int(p[5:7])}月")
        elif f.type == "money":
            out[f.header] = s.map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
        else:
            out[f.header] = s
    out.to_csv(path, index=False, encoding="gbk", lineterminator="\r\n")


def _write_utf8_csv(rows: pd.DataFrame, path: Path, fields: tuple[Field, ...] = MONTHLY) -> None:
    """As a finance system exports: UTF-8 with BOM, code headers, plain numbers."""
    rows[[f.code for f in fields]].to_csv(path, index=False, encoding="utf-8-sig", float_format="%.2f")


def _write_monthly(rows: pd.DataFrame, path: Path, fmt: str, title: str, when: pd.Timestamp,
                   date_cells: bool, fields: tuple[Field, ...] = MONTHLY) -> None:
    """Write monthly *rows* in *fmt* with the columns of *fields* (the v2 template by default)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = rows.sort_values("hospital_code")
    if fmt == "gbk_csv":
        _write_gbk_csv(rows, path, fields)
    elif fmt == "utf8_csv":
        _write_utf8_csv(rows, path, fields)
    else:
        _write_monthly_xlsx(rows, path, title, when, date_cells, fields)


def _write_table_xlsx(frame: pd.DataFrame, fields: tuple[Field, ...], path: Path, title: str, note: str | None,
                      sheet_name: str, when: pd.Timestamp) -> None:
    wb, first = _sheet(title, note, fields, sheet_name)
    ws = wb.active
    for i, record in enumerate(frame[[f.code for f in fields]].itertuples(index=False), first):
        for j, value in enumerate(record, 1):
            ws.cell(row=i, column=j, value=_cell(value) if value != "" else None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_xlsx_bytes(wb, when))


# --------------------------------------------------------------------------------------


def _first_submissions(data: DemoData) -> pd.DataFrame:
    """The monthly rows as first sent: corrected rows carry their wrong 其他收入 / 收入合计."""
    first = data.monthly.set_index(["hospital_code", "period"])
    if len(data.corrections):
        fix = data.corrections.set_index(["hospital_code", "period"])
        first.loc[fix.index, "other_revenue"] = fix["first_other_revenue"]
        first.loc[fix.index, "total_revenue"] = fix["first_total_revenue"]
    return first.reset_index()


def write_files(data: DemoData, out_dir: Path) -> list[DemoFile]:
    """Write *data* under *out_dir* in the real submission formats; return the files in load order.

    Monthly reports: one file per (period, arrival day), formats rotating so each
    form appears — the hospitals still on the v1 template in a v1 file of their own (no v2
    columns); corrections as a second file a few days after the first.
    Progress: one XLSX per reporting period. The registry: one XLSX, first.
    Re-writing the same data gives byte-identical files.
    """
    out_dir = Path(out_dir)
    for sub in ("registry", "monthly", "progress"):  # only what this function writes
        shutil.rmtree(out_dir / sub, ignore_errors=True)
    province = data.province_name
    files: list[DemoFile] = []

    start = pd.Period(data.start_period, freq="M")
    registry_at = pd.Timestamp(year=start.year, month=start.month, day=1, hour=9)
    path = out_dir / "registry" / "机构名录.xlsx"
    _write_table_xlsx(data.registry, REGISTRY, path, f"{province}公立医院机构名录（演示数据）", None, "机构名录",
                      registry_at)
    files.append(DemoFile(path, "registry", registry_at, None))

    first = _first_submissions(data).merge(data.arrivals, on=["hospital_code", "period"], how="inner")
    for t, (period, rows) in enumerate(first.groupby("period", sort=True)):
        title = f"{province}公立医院月度经济运行快报（{period[:4]}年{int(period[5:7])}月）"
        days = rows["received_at"].dt.normalize()
        for g, (day, group) in enumerate(rows.groupby(days, sort=True)):
            fmt = FORMATS[(t + g) % len(FORMATS)]
            # Hospitals still on the v1 template send their rows in a v1 file of their own.
            v1 = group[list(MONTHLY_V2)].isna().all(axis=1)
            for part, fields, suffix in ((group[~v1], MONTHLY, ""), (group[v1], MONTHLY_V1, "_v1")):
                if not len(part):
                    continue
                received = part["received_at"].min()
                path = out_dir / "monthly" / period / f"月报_{period}_{day:%Y%m%d}{suffix}.{_EXT[fmt]}"
                _write_monthly(part, path, fmt, title, received, date_cells=(t + g) % 2 == 1, fields=fields)
                files.append(DemoFile(path, "monthly", received, period))

    if len(data.corrections):
        fixed = data.monthly.merge(data.corrections[["hospital_code", "period", "received_at"]],
                                   on=["hospital_code", "period"])
        for t, ((period, received), group) in enumerate(fixed.groupby(["period", "received_at"], sort=True)):
            fmt = FORMATS[(t + 1) % len(FORMATS)]
            title = f"{province}公立医院月度经济运行快报（{period[:4]}年{int(period[5:7])}月，更正）"
            v1 = group[list(MONTHLY_V2)].isna().all(axis=1)
            for part, fields, suffix in ((group[~v1], MONTHLY, ""), (group[v1], MONTHLY_V1, "_v1")):
                if len(part):
                    path = out_dir / "monthly" / period / f"月报_{period}_{received:%Y%m%d}_更正{suffix}.{_EXT[fmt]}"
                    _write_monthly(part, path, fmt, title, received, date_cells=False, fields=fields)
                    files.append(DemoFile(path, "monthly", received, period))

    for period, rows in data.progress.groupby("period", sort=True):
        received = progress_received_at(period)
        quarter = (int(period[5:7]) - 1) // 3 + 1
        title = f"{province}公立医院运营管理建设进展（{period[:4]}年第{quarter}季度）（演示数据）"
        path = out_dir / "progress" / f"运营管理建设进展_{period}.xlsx"
        _write_table_xlsx(rows.sort_values("hospital_code"), PROGRESS, path, title, None, "进展", received)
        files.append(DemoFile(path, "progress", received, period))

    return sorted(files, key=lambda f: (f.received_at, _KIND_ORDER[f.kind], str(f.path)))
