"""`opsmon export`: the file equals what the indicator API returns for the same selection."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from opsmon import indicators
from opsmon.cli import cli
from opsmon.indicators import reporting

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
