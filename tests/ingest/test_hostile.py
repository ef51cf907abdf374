"""Hostile uploads: small files that would cost the server gigabytes are refused early and cheaply.

The security finding "a small upload costs gigabytes": a 9.9 MB CSV of a million columns took
6.7 GB in the upload preview, a 1.3 MB .xlsx unpacking to 490 MB 3.2 GB, and one warning per
unknown column made a 242 MB JSON document. Each file here is built in the test, as small as the
case allows (some caps are lowered with monkeypatch to keep the files small); bench/hostile.py
measures the full-size ones.
"""

from __future__ import annotations

import io
import json
import struct
import tracemalloc
import zipfile

import openpyxl
import pytest
from click.testing import CliRunner
from test_parse import MONTH, V1_MONTHLY, csv_file, monthly_csv
from test_store import REGISTRY_ROWS, ingest, month, monthly, query, registry

from opsmon.cli import cli
from opsmon.ingest import read as read_module
from opsmon.ingest import template
from opsmon.ingest.fields import FIELDS
from opsmon.ingest.parse import parse
from opsmon.ingest.problems import MAX_ERRORS, MAX_WARNINGS, Problem, capped, errors, warnings
from opsmon.ingest.read import MAX_CELLS, MAX_COLUMNS, MAX_ROWS, MAX_UNPACKED
from opsmon.sql import db

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
HEADERS = [f.header for f in V1_MONTHLY]  # a v1 file's 35 columns (MONTH's)
WIDEST = len(FIELDS["monthly"])  # 35 v1 + 10 optional v2 columns: the widest report


def where(p) -> list[tuple[int | None, str | None, str]]:
    return [(x.row, x.column, x.code) for x in p.problems]


# --- Building workbooks by hand ------------------------------------------------------------------


def content_types(*sheets: str, shared_strings: bool = False) -> str:
    overrides = "".join(f'<Override PartName="/{s}" ContentType="{WORKSHEET_TYPE}"/>' for s in sheets)
    if shared_strings:
        overrides += ('<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                      'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
    return ('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            f"{overrides}</Types>")


def book(*sheets: bytes, parts: dict[str, bytes] | None = None, shared_strings: bytes | None = None) -> bytes:
    """An .xlsx openpyxl opens: each of *sheets* is the XML inside <worksheet>, the first sheet first."""
    names = [f"xl/worksheets/sheet{i}.xml" for i in range(1, len(sheets) + 1)]
    numbers = range(1, len(sheets) + 1)
    sheet_list = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}"/>' for i in numbers)
    rels = "".join(f'<Relationship Id="rId{i}" Target="worksheets/sheet{i}.xml" Type="http://schemas.'
                   'openxmlformats.org/officeDocument/2006/relationships/worksheet"/>' for i in numbers)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", content_types(*names, shared_strings=shared_strings is not None))
        z.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'relationships"><Relationship Id="rId1" Target="xl/workbook.xml" Type="http://schemas.'
                   'openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="http://schemas.openxmlformats.org/'
                   f'officeDocument/2006/relationships"><sheets>{sheet_list}</sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/'
                   f'package/2006/relationships">{rels}</Relationships>')
        if shared_strings is not None:
            z.writestr("xl/sharedStrings.xml", shared_strings)
        for name, sheet in zip(names, sheets, strict=True):
            z.writestr(name, b'<worksheet xmlns="' + MAIN.encode() + b'">' + sheet + b"</worksheet>")
        for name, data in (parts or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


def text_cell(text: str, ref: str = "") -> bytes:
    r = f' r="{ref}"' if ref else ""
    return f'<c{r} t="inlineStr"><is><t>{text}</t></is></c>'.encode()


def rows(*cells_per_row: list[bytes]) -> bytes:
    return b"<sheetData>" + b"".join(b"<row>" + b"".join(r) + b"</row>" for r in cells_per_row) + b"</sheetData>"


def monthly_rows(extra: int = 0, data_rows: int = 1) -> bytes:
    """The monthly header (and *extra* columns of numbers) with *data_rows* rows of MONTH's values."""
    header = [text_cell(h) for h in HEADERS] + [text_cell(f"x{i}") for i in range(extra)]
    row = [text_cell(v) for v in MONTH.values()] + [b"<c><v>1</v></c>"] * extra
    return rows(header, *[row] * data_rows)


def declare_size(content: bytes, member: str, size: int) -> bytes:
    """*content* with *member*'s uncompressed size rewritten to *size* in its local header and directory entry."""
    out = bytearray(content)
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        struct.pack_into("<I", out, z.getinfo(member).header_offset + 22, size)
    (at,) = struct.unpack_from("<I", out, len(out) - 22 + 16)
    while out[at:at + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", out, at + 28)
        if out[at + 46:at + 46 + name_len] == member.encode():
            struct.pack_into("<I", out, at + 24, size)
        at += 46 + name_len + extra_len + comment_len
    return bytes(out)


@pytest.fixture
def no_openpyxl(monkeypatch):
    """Records any call of openpyxl.load_workbook (and fails it): the file must be refused before."""
    calls = []

    def refuse(*args, **_kwargs):
        calls.append(args)
        raise RuntimeError("openpyxl.load_workbook was called")
    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    yield calls
    assert calls == [], "openpyxl opened the workbook"


# --- CSV -----------------------------------------------------------------------------------------


def test_a_csv_of_600_columns_is_refused_naming_the_row_and_the_limit():
    header = [*HEADERS, *(f"备注{i}" for i in range(600 - len(HEADERS)))]
    p = parse(csv_file([["月度经济运行快报"], header, [*MONTH.values(), *["1"] * (600 - len(HEADERS))]]), "x.csv")
    assert where(p) == [(2, None, "too_many_columns")]
    assert p.problems[0].message_zh.startswith("第 2 行至少有 600 列，超过了上限 500 列，系统不能读取")
    assert WIDEST == 45
    assert "删除表格右侧多余的列" in p.problems[0].message_zh and "系统的报表最多 45 列" in p.problems[0].message_zh
    assert "at least 600 columns, over the limit of 500" in p.problems[0].message_en


@pytest.mark.parametrize("form", ["csv", "quoted csv", "xlsx"])
def test_the_column_cap_is_exact(form):
    def content(width: int) -> bytes:
        extra = width - len(HEADERS)
        if form == "xlsx":
            return book(monthly_rows(extra=extra))
        header, row = [*HEADERS, *(f"x{i}" for i in range(extra))], [*MONTH.values(), *["1"] * extra]
        if form == "quoted csv":
            header = [f'"{h}"' for h in header]
        return ("\r\n".join([",".join(header), ",".join(row)]) + "\r\n").encode()

    assert [x.code for x in parse(content(MAX_COLUMNS), "x").problems] == ["unknown_column"]
    assert where(parse(content(MAX_COLUMNS + 1), "x")) == [(1, None, "too_many_columns")]


def test_a_wide_csv_is_refused_before_it_is_split_into_fields():
    # 200,000 columns: splitting alone would make 200,000 strings (~10 MB), and a warning each ~100 MB.
    content = ("hospital_code,period," + ",".join(f"x{i}" for i in range(200_000)) + "\r\n").encode()
    tracemalloc.start()
    try:
        p = parse(content, "x.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert where(p) == [(1, None, "too_many_columns")]
    assert "200,002" in p.problems[0].message_zh
    assert peak < 3 * len(content)  # the decoded text and its one line: no fields, no warnings


def test_a_quoted_csv_of_600_columns_is_refused():
    fields = [f'"{h}"' for h in HEADERS] + [f'"x{i}"' for i in range(600 - len(HEADERS))]
    p = parse((",".join(fields) + "\r\n").encode(), "x.csv")
    assert where(p) == [(1, None, "too_many_columns")]


def test_a_quoted_record_of_too_many_commas_is_refused_before_csv_reader_builds_it():
    # One record over many lines (a quoted field holds the line breaks), a comma field after field.
    record = ",".join(['"a\r\n"'] * 6_000) + "\r\n"  # a line each: "a / ","a / ","a …
    p = parse(record.encode(), "x.csv")
    assert where(p) == [(1, None, "too_many_columns")]
    assert "逗号" in p.problems[0].message_zh


def test_a_csv_over_the_row_cap_is_refused_before_it_is_split():
    p = parse(("机构代码\r\n" + "1\r\n" * MAX_ROWS).encode(), "x.csv")
    assert where(p) == [(None, None, "too_many_rows")]
    assert f"{MAX_ROWS + 1:,} 行，超过了上限 {MAX_ROWS:,} 行" in p.problems[0].message_zh


def test_a_csv_over_the_cell_cap_is_refused_with_its_rows_and_columns():
    cols = 400
    lines = MAX_CELLS // cols + 1  # 1,876 rows × 400 columns = 750,400 cells
    content = ("\r\n".join([",".join(["机构代码", *["x"] * (cols - 1)])] + [",".join(["1"] * cols)] * (lines - 1))
               + "\r\n").encode()
    p = parse(content, "x.csv")
    assert where(p) == [(None, None, "too_many_cells")]
    assert p.problems[0].message_zh.startswith(
        f"表格至少有 {lines:,} 行 × 400 列 = {lines * cols:,} 个单元格，超过了上限 {MAX_CELLS:,} 个")


@pytest.mark.parametrize("quoted", [False, True])
def test_the_cell_cap_is_exact(monkeypatch, quoted):
    monkeypatch.setattr(read_module, "MAX_CELLS", 3 * 35)
    q = '"' if quoted else ""
    at_cap = monthly_csv(MONTH, MONTH).replace(b"1150", f"{q}1150{q}".encode())  # 3 rows × 35
    assert parse(at_cap, "x.csv").problems == []
    over = monthly_csv(MONTH, MONTH, MONTH).replace(b"1150", f"{q}1150{q}".encode())
    assert where(parse(over, "x.csv")) == [(None, None, "too_many_cells")]


def test_blank_lines_after_the_table_count_against_no_cap():
    # Excel saves a used range that runs on below the table as lines of commas.
    content = monthly_csv(MONTH) + b",,,,,,,,,,\r\n" * (MAX_ROWS + 10)
    p = parse(content, "x.csv")
    assert p.problems == [] and list(p.frame.index) == [2]


# --- XLSX ----------------------------------------------------------------------------------------


def test_an_xlsx_that_unpacks_past_the_limit_is_refused_before_anything_is_unpacked(no_openpyxl):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z, \
            z.open("xl/worksheets/sheet1.xml", "w") as f:
        for _ in range(MAX_UNPACKED // 2**20 + 1):
            f.write(b" " * 2**20)  # 101 MB of blanks: ~100 KB zipped
    assert len(buf.getvalue()) < 1_000_000
    p = parse(buf.getvalue(), "x.xlsx")
    assert where(p) == [(None, None, "file_too_large")]
    assert p.problems[0].message_zh.startswith("这个 Excel 文件解压后超过 100.0 MB")


def test_a_member_that_inflates_past_its_declared_size_is_refused_before_openpyxl_reads_it(no_openpyxl):
    sheet = b"<sheetData>" + b"<row><c><v>1</v></c></row>" * 400_000 + b"</sheetData>"  # 10 MB, declared 1 KB
    content = declare_size(book(sheet), "xl/worksheets/sheet1.xml", 1024)
    tracemalloc.start()
    try:
        p = parse(content, "x.xlsx")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert where(p) == [(None, None, "not_a_table")]
    assert peak < 5_000_000


def test_a_part_openpyxl_reads_whole_is_capped_by_its_declared_size(monkeypatch, no_openpyxl):
    monkeypatch.setattr(read_module, "MAX_PART", 100_000)
    styles = f'<styleSheet xmlns="{MAIN}">'.encode() + b" " * 100_000 + b"</styleSheet>"
    p = parse(book(monthly_rows(), parts={"xl/styles.xml": styles}), "x.xlsx")
    assert where(p) == [(None, None, "file_too_large")]
    assert "“xl/styles.xml”部分解压后超过" in p.problems[0].message_zh


def test_a_part_of_too_many_elements_is_refused(monkeypatch, no_openpyxl):
    monkeypatch.setattr(read_module, "MAX_ELEMENTS", 1_000)
    styles = f'<styleSheet xmlns="{MAIN}"><cellXfs>'.encode() + b"<xf/>" * 1_000 + b"</cellXfs></styleSheet>"
    p = parse(book(monthly_rows(), parts={"xl/styles.xml": styles}), "x.xlsx")
    assert where(p) == [(None, None, "file_too_large")]
    assert "“xl/styles.xml”部分结构过于复杂" in p.problems[0].message_zh


def test_a_cell_or_a_shared_string_of_too_many_elements_is_refused(monkeypatch, no_openpyxl):
    # openpyxl builds a cell's (or a shared string's) whole tree, and an object a rich-text run.
    runs = b"<is>" + b"<r><t>a</t></r>" * 1_000 + b"</is>"
    cell = rows([text_cell(h) for h in HEADERS], [b'<c t="inlineStr">' + runs + b"</c>"])
    p = parse(book(cell), "x.xlsx")
    assert where(p) == [(None, None, "file_too_large")]
    assert "sheet1.xml" in p.problems[0].message_zh
    string = f'<sst xmlns="{MAIN}"><si>'.encode() + b"<r><t>a</t></r>" * 1_000 + b"</si></sst>"
    assert where(parse(book(monthly_rows(), shared_strings=string), "x.xlsx")) == [(None, None, "file_too_large")]


def test_an_xlsx_with_a_dtd_is_refused():
    # Entity expansion needs a DTD; expat (which openpyxl uses) would expand it. No workbook has one.
    sheet = (b'<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "AAAAAAAAAA">]>'
             b'<worksheet xmlns="' + MAIN.encode() + b'">' + monthly_rows() + b"</worksheet>")
    content = book(monthly_rows())
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, sheet if info.filename.endswith("sheet1.xml") else src.read(info))
    assert where(parse(buf.getvalue(), "x.xlsx")) == [(None, None, "not_a_table")]


def test_an_xlsx_of_600_columns_is_refused_without_reading_a_row(monkeypatch):
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    def no_rows(*_args, **_kwargs):
        raise AssertionError("rows were read")
    monkeypatch.setattr(ReadOnlyWorksheet, "_cells_by_row", no_rows)
    p = parse(book(monthly_rows(extra=600 - len(HEADERS))), "x.xlsx")
    assert where(p) == [(1, None, "too_many_columns")]
    assert p.problems[0].message_zh.startswith("第 1 行至少有 501 列，超过了上限 500 列")


def test_an_xlsx_cell_referenced_far_to_the_right_counts_as_that_wide():
    sheet = rows([text_cell(h) for h in HEADERS], [*(text_cell(v) for v in MONTH.values()), text_cell("x", "ZZ2")])
    p = parse(book(sheet), "x.xlsx")
    assert where(p) == [(2, None, "too_many_columns")]  # ZZ is column 702
    assert "702 列" in p.problems[0].message_zh


def test_an_xlsx_row_far_below_counts_as_that_many_rows():
    sheet = (b"<sheetData>" + b"<row>" + b"".join(text_cell(h) for h in HEADERS) + b"</row>"
             + b'<row r="1048576">' + b"".join(text_cell(v) for v in MONTH.values()) + b"</row></sheetData>")
    assert where(parse(book(sheet), "x.xlsx")) == [(None, None, "too_many_rows")]


def test_an_xlsx_over_the_cell_cap_is_refused(monkeypatch):
    monkeypatch.setattr(read_module, "MAX_CELLS", 3 * 35)
    assert parse(book(monthly_rows(data_rows=2)), "x.xlsx").problems == []  # 3 rows × 35: at the cap
    p = parse(book(monthly_rows(data_rows=3)), "x.xlsx")
    assert where(p) == [(None, None, "too_many_cells")]
    assert "4 行 × 35 列 = 140 个单元格" in p.problems[0].message_zh


def test_a_shared_strings_table_larger_than_the_cell_cap_is_refused(monkeypatch, no_openpyxl):
    monkeypatch.setattr(read_module, "MAX_CELLS", 100)
    strings = f'<sst xmlns="{MAIN}">'.encode() + b"".join(b"<si><t>%d</t></si>" % i for i in range(101)) + b"</sst>"
    p = parse(book(monthly_rows(), shared_strings=strings), "x.xlsx")
    assert where(p) == [(None, None, "too_many_cells")]
    assert "文字超过 100 段" in p.problems[0].message_zh


def test_another_sheet_without_a_dimension_must_be_in_the_caps_too(monkeypatch):
    # openpyxl reads every sheet up to its <dimension> on opening: without one, the whole sheet.
    monkeypatch.setattr(read_module, "MAX_ROWS", 10)
    tall = b"<sheetData>" + b"<row><c><v>1</v></c></row>" * 11 + b"</sheetData>"
    assert where(parse(book(monthly_rows(), tall), "x.xlsx")) == [(None, None, "too_many_rows")]
    with_dimension = b'<dimension ref="A1:A11"/>' + tall
    p = parse(book(monthly_rows(), with_dimension), "x.xlsx")
    assert p.problems == [] and len(p.frame) == 1


def test_a_template_made_xlsx_is_read_as_before():
    wb = openpyxl.load_workbook(io.BytesIO(template.xlsx("monthly", "2025-03")))
    ws = wb.worksheets[0]
    for j, f in enumerate(FIELDS["monthly"], 1):  # the template has the v2 columns too: left empty
        value = MONTH.get(f.code)
        ws.cell(row=template.HEADER_ROW + 1, column=j,
                value=float(value) if value and f.type in ("money", "count") else value)
    buf = io.BytesIO()
    wb.save(buf)
    p = parse(buf.getvalue(), "快报.xlsx")
    assert p.problems == []
    assert (p.kind, p.header_row, list(p.frame.index)) == ("monthly", template.HEADER_ROW, [template.HEADER_ROW + 1])
    assert p.frame.at[4, "total_revenue"] == 1150


# --- Warnings about columns: one, however many columns ---------------------------------------------


def test_hundreds_of_unknown_columns_are_one_warning_that_counts_them_and_names_the_first_five():
    extra = [f"备注{i}" for i in range(300)]
    p = parse(csv_file([[*HEADERS, *extra], [*MONTH.values(), *["x"] * 300]]), "x.csv")
    assert where(p) == [(1, None, "unknown_column")]
    (w,) = warnings(p.problems)
    assert w.message_zh == ("第 1 行表头中有 300 列不是本报表的栏目，这些列已忽略：第 AJ 列“备注0”、第 AK 列“备注1”、"
                            "第 AL 列“备注2”、第 AM 列“备注3”、第 AN 列“备注4”等")
    assert w.message_en.startswith('Row 1: 300 columns are not columns of this report and were ignored: AJ "备注0", ')


def test_unnamed_columns_holding_data_are_one_warning():
    p = parse(csv_file([[*HEADERS, *[""] * 8], [*MONTH.values(), *["x"] * 8]]), "x.csv")
    assert where(p) == [(1, None, "unknown_column")]
    assert p.problems[0].message_zh == ("有 8 列没有列名（第 1 行为空），但下面有数据，这些列已忽略："
                                        "第 AJ、AK、AL、AM、AN 等列")


def test_one_unknown_column_keeps_its_message():
    p = parse(csv_file([[*MONTH, "备注"], [*MONTH.values(), "已核对"]]), "x.csv")
    assert [(x.code, x.value, x.message_zh) for x in p.problems] == [
        ("unknown_column", "备注", "第 1 行第 AJ 列的列名“备注”不是本报表的栏目，该列已忽略")]


# --- At most MAX_ERRORS errors and MAX_WARNINGS warnings listed ----------------------------------------


def problem(severity: str, n: int) -> Problem:
    return Problem(n, None, None, f"code{n}", f"问题 {n}", f"problem {n}", severity)


def test_capped_keeps_the_first_problems_in_order_and_counts_the_rest():
    listed = capped([problem("error", i) if i % 2 else problem("warning", i) for i in range(3_000)])
    assert [p.row for p in errors(listed)[:MAX_ERRORS]] == list(range(1, 2 * MAX_ERRORS, 2))
    assert [p.row for p in warnings(listed)[:MAX_WARNINGS]] == list(range(0, 2 * MAX_WARNINGS, 2))
    more_errors, more_warnings = listed[-2:]
    assert (more_errors.code, more_errors.severity, more_errors.value) == ("more_problems", "error", "500")
    assert more_errors.message_zh.startswith("另有 500 条错误未列出（只列出前 1,000 条）")
    assert more_errors.message_en.startswith("500 more errors not listed (only the first 1,000 are shown)")
    assert more_warnings.severity == "warning"
    assert more_warnings.message_zh == "另有 1,300 条提示未列出（只列出前 200 条）"
    assert len(listed) == MAX_ERRORS + MAX_WARNINGS + 2


def test_capped_leaves_a_short_list_alone_and_adds_up_earlier_counts():
    short = [problem("error", 1), problem("warning", 2)]
    assert capped(short) == short
    again = capped(capped([problem("error", i) for i in range(1_500)]) + [problem("error", 2_000)])
    assert errors(again)[-1].value == "501" and len(again) == MAX_ERRORS + 1
    assert capped([problem("error", 1)], max_errors=0)[0].severity == "error"  # still rejected


def test_parse_makes_at_most_max_errors_cell_problems_the_first_in_sheet_order():
    p = parse(monthly_csv(*[month(total_revenue="x", doctors="y", period="13月")] * 600), "x.csv")  # 1,800 bad
    in_sheet_order = [(r, c) for r in range(2, 602) for c in ("period", "total_revenue", "doctors")]
    assert [(x.row, x.column) for x in p.problems[:-1]] == in_sheet_order[:MAX_ERRORS]
    assert (p.problems[-1].code, p.problems[-1].value) == ("more_problems", "800")


def test_ingest_lists_at_most_max_errors_counts_the_rest_and_still_rejects(engine):
    assert ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv").status == "accepted"
    periods = [f"{y}-{m:02d}" for y in range(1950, 2013) for m in range(1, 13)]  # 756 months
    result = ingest(engine, monthly(*[month(period=p, doctors="x", nurses="y", open_beds="z", discharges="w")
                                      for p in periods]))  # 3,024 bad numbers
    assert result.status == "rejected" and result.revisions_created == 0
    assert len(result.errors) == MAX_ERRORS + 1
    more = result.errors[-1]
    assert more.code == "more_problems" and int(more.value) >= 3_024 - MAX_ERRORS
    assert more.message_zh.startswith(f"另有 {int(more.value):,} 条错误未列出（只列出前 1,000 条）")
    assert [p.code for p in result.errors[:-1]] == ["bad_number"] * MAX_ERRORS
    assert query(engine, "SELECT status, jsonb_array_length(errors) FROM submissions "
                         "WHERE kind = 'monthly'") == [("rejected", MAX_ERRORS + 1)]


def test_a_template_made_file_is_still_accepted(engine):
    assert ingest(engine, registry(*REGISTRY_ROWS), "机构名录.csv").status == "accepted"
    wb = openpyxl.load_workbook(io.BytesIO(template.xlsx("monthly", "2025-03")))
    ws = wb.worksheets[0]
    for j, f in enumerate(FIELDS["monthly"], 1):  # the template has the v2 columns too: left empty
        value = month().get(f.code, "-").replace(",", "")
        ws.cell(row=template.HEADER_ROW + 1, column=j,
                value=None if value == "-" else float(value) if f.type in ("money", "count") else value)
    buf = io.BytesIO()
    wb.save(buf)
    result = ingest(engine, buf.getvalue(), "3月快报.xlsx")
    assert (result.status, result.rows, result.errors) == ("accepted", 1, [])


# --- Through the command line ---------------------------------------------------------------------


def test_opsmon_ingest_json_of_a_hostile_file_is_one_small_document(engine, tmp_path):
    url = engine.url.render_as_string(hide_password=False)
    header = [*HEADERS, *(f"x{i}" for i in range(100_000))]  # 100,035 columns, 0.8 MB
    path = tmp_path / "宽表.csv"
    path.write_bytes(csv_file([header, [*MONTH.values(), *["1"] * 100_000]]))
    try:
        result = CliRunner().invoke(cli, ["ingest", "--format", "json", str(path)], env={"DATABASE_URL": url})
    finally:
        db.dispose_all()
    assert result.exit_code == 1
    assert len(result.stdout.encode()) < 2_000
    (entry,) = json.loads(result.stdout)["files"]
    assert (entry["status"], entry["warnings"]) == ("rejected", [])
    assert [(e["row"], e["code"]) for e in entry["errors"]] == [(1, "too_many_columns")]
    assert "100,035" in entry["errors"][0]["message"]


def test_the_docs_state_the_caps():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "submission-format.md").read_text(encoding="utf-8")
    for figure in (f"{MAX_ROWS:,} 行", f"{MAX_COLUMNS} 列", f"{MAX_CELLS:,} 个单元格", f"{MAX_UNPACKED // 2**20} MB",
                   f"{MAX_ERRORS:,} 条错误", f"{MAX_WARNINGS} 条提示"):
        assert figure in doc, figure
