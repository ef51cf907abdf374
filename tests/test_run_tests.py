"""The README's test command: one command that does its own set-up, and exactly what CI runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_test_command() -> str:
    section = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("**Run the whole test suite**", 1)[1]
    return re.search(r"```bash\n(.+?)\n```", section, re.S).group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    command = readme_test_command()
    assert command == "./run-tests"
    lines = [line.strip() for line in ROOT.joinpath(".ci/run").read_text().splitlines()]
    assert command in lines


def copy_of_the_script(tmp_path: Path) -> str:
    """run-tests in a folder of its own (it works in its own folder: never this checkout's .venv)."""
    script = tmp_path / "repo" / "run-tests"
    script.parent.mkdir()
    script.write_text(ROOT.joinpath("run-tests").read_text())
    return str(script)


def test_without_the_browser_and_without_root_it_prints_the_apt_command_and_stops(tmp_path):
    # A machine without Chromium, where this user is not root: nothing is installed or run.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    (bin_dir / "id").chmod(0o755)
    for tool in ("dirname", "grep"):
        (bin_dir / tool).symlink_to(f"/usr/bin/{tool}" if Path(f"/usr/bin/{tool}").exists() else f"/bin/{tool}")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(["/bin/bash", copy_of_the_script(tmp_path)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    assert "sudo apt-get install -y chromium chromium-driver fonts-noto-cjk" in result.stderr
    assert not (tmp_path / "repo" / ".venv").exists() and "pytest" not in result.stdout


def test_with_everything_installed_it_goes_on_without_asking_for_apt(tmp_path):
    # Chromium, its driver and many fonts present (enough for fc-list to outlast an early-quitting grep);
    # not root. No python3 on this PATH, so the run stops at the virtual environment — after the check.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {"id": "echo 1000", "chromium": "exit 0", "chromedriver": "exit 0",
               "fc-list": 'i=0; while [ $i -lt 20000 ]; do echo "/usr/share/fonts/x$i.ttc: Noto Sans CJK SC"; '
                          'i=$((i+1)); done'}
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    for tool in ("dirname", "grep"):
        (bin_dir / tool).symlink_to(f"/usr/bin/{tool}" if Path(f"/usr/bin/{tool}").exists() else f"/bin/{tool}")
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    result = subprocess.run(["/bin/bash", copy_of_the_script(tmp_path)], env=env, capture_output=True, text=True,
                            timeout=60)
    assert "apt-get" not in result.stderr
    assert result.returncode != 0 and "python3" in result.stderr  # it went on to make the environment


def test_it_is_executable():
    assert os.access(ROOT / "run-tests", os.X_OK)
