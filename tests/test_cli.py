"""The CLI is thin and documented: every command answers --help and appears in README.md."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from opsmon.cli import cli

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
