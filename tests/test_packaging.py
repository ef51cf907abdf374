"""A plain wheel install carries the SQL migrations and the assets, and works outside the source tree."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(ROOT)], check=True, timeout=300)
    (path,) = out.glob("opsmon-*.whl")
    return path


def test_wheel_contains_migrations_and_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "opsmon/sql/migrations/0001_initial.sql" in names
    for asset in ("regions.csv", "prefectures.geojson", "counties.geojson"):
        assert f"opsmon/assets/geo/220000/{asset}" in names
    assert "opsmon/assets/opsmon.css" in names
    assert "opsmon/assets/topojson/world_110m.json" in names


def test_installed_wheel_upgrades_a_database_from_another_directory(wheel, empty_url, tmp_path):
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=300)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    env = {**os.environ, "DATABASE_URL": empty_url, "PYTHONPATH": str(target)}
    code = ("import opsmon, sys; assert opsmon.__file__.startswith(sys.argv[1]), opsmon.__file__; "
            "from opsmon.cli import main; sys.argv = ['opsmon', 'db', 'upgrade']; main()")
    result = subprocess.run([sys.executable, "-c", code, str(target)], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "70 regions" in result.stdout
