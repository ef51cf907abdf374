"""Without DATABASE_URL, opsmon runs its own PostgreSQL in OPSMON_DATA_DIR, reuses it, stops it on exit.

This test always uses the embedded server, whatever the rest of the suite runs against.
"""

from __future__ import annotations

import os
import subprocess
import sys


def opsmon(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["OPSMON_DATA_DIR"] = str(data_dir)
    return subprocess.run([sys.executable, "-m", "opsmon.cli", *args], env=env, capture_output=True, text=True,
                          timeout=180)


def test_embedded_server_is_created_reused_and_stopped(tmp_path):
    data_dir = tmp_path / "opsmon-data"

    first = opsmon("db", "upgrade", data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "applied 0001_initial" in first.stdout
    assert "70 regions" in first.stdout
    pgdata = data_dir / "pgdata"
    assert (pgdata / "PG_VERSION").exists()
    # Stopped cleanly when the command exited: no postmaster left behind.
    assert not (pgdata / "postmaster.pid").exists()

    second = opsmon("db", "status", data_dir=data_dir)
    assert second.returncode == 0, second.stderr
    assert "applied  0001_initial" in second.stdout and "pending" not in second.stdout
    assert "220000: 70 regions" in second.stdout  # the same cluster, reused
