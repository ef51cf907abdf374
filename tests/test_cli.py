"""The CLI is thin and documented: every command answers --help and appears in README.md."""

from __future__ import annotations

import io
from pathlib import Path

import click
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from opsmon.cli import cli
from opsmon.indicators import query

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def all_commands(group: click.Group = cli, prefix: str = "opsmon") -> list[str]:
    names = []
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        if isinstance(command, click.Group):
            names += all_commands(command, full)
        else:
            names.append(full)
    return names


def test_the_expected_commands_exist():
    assert {"opsmon demo", "opsmon serve", "opsmon db upgrade", "opsmon db status", "opsmon geo build",
            "opsmon ingest"} <= set(all_commands())


@pytest.mark.parametrize("command", all_commands())
def test_every_command_is_documented_in_the_readme(command):
    assert f"`{command}" in README, f"{command} is missing from README.md"


@pytest.mark.parametrize("command", all_commands())
def test_every_command_has_help(command):
    result = CliRunner().invoke(cli, [*command.split()[1:], "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output


def test_top_level_help_lists_the_subcommands():
    result = CliRunner().invoke(cli, ["--help"])
    for name in ("demo", "serve", "db", "geo", "ingest"):
        assert f"  {name}" in result.output


# ---------------------------------------------------------------------------------------------- export's month
@pytest.mark.parametrize(("today", "expected", "why"), [
    # May is due on 2026-06-10: still being collected; April is the latest closed month.
    ("2026-06-05", "2026-04", "latest closed month"),
    ("2026-06-23", "2026-05", "latest closed month"),  # after the 10th May is closed
    # 2027-01 is closed but the demo stops at 2026-05: its newest month, and the command says why.
    ("2027-03-01", "2026-05", "newest month with data; the latest closed month is 2027-01"),
])
def test_export_without_a_period_exports_the_latest_closed_month(demo_url, demo_engine, today, expected, why):
    result = CliRunner().invoke(cli, ["export", "--indicator", "hospitals_reporting,hospitals_expected",
                                      "--level", "province"],
                                env={"DATABASE_URL": demo_url, "OPSMON_TODAY": today}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout), dtype={"code": str})
    assert set(frame["period"]) == {expected} and set(frame["code"]) == {"220000"}
    values = query(demo_engine, ["hospitals_reporting", "hospitals_expected"], "province", expected).set_index(
        "indicator")["value"]
    n, m = int(values["hospitals_reporting"]), int(values["hospitals_expected"])
    assert f"period {expected} ({why}): {n} of {m} hospitals reported" in result.stderr


def test_export_wide_writes_a_county_per_row_and_an_indicator_per_column(demo_url, demo_engine, tmp_path):
    out = tmp_path / "县区全部指标.xlsx"
    result = CliRunner().invoke(cli, ["export", "--indicator", "all", "--level", "county", "--period", "2026-03", "--format", "xlsx",
                                      "--layout", "wide", "-o", str(out)],
                                env={"DATABASE_URL": demo_url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    sheet = list(openpyxl.load_workbook(out).active.iter_rows(min_row=4, values_only=True))
    api = query(demo_engine, None, "county", "2026-03")
    assert len(sheet) - 1 == api["code"].nunique()  # a header, then each county once
    assert len(sheet[0]) == 6 + api["indicator"].nunique() + 1  # keys, the indicators, 近似


@pytest.mark.parametrize("args", [["--format", "csv"], ["--format", "json"], ["--format", "xlsx", "--progress-table"]])
def test_export_refuses_the_wide_layout_outside_an_xlsx_indicator_table(demo_url, tmp_path, args):
    result = CliRunner().invoke(cli, ["export", "--indicator", "all", "--layout", "wide", "--period", "2026-03", *args,
                                      "-o", str(tmp_path / "x")], env={"DATABASE_URL": demo_url})
    assert result.exit_code == 2 and "--layout" in result.output
    assert not (tmp_path / "x").exists()
