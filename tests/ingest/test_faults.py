"""Faults during a load: a process killed half-way through storing leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import sqlalchemy as sa
from test_ingest_cli import count, url  # noqa: F401  (url is a fixture)
from test_store import A, B, C, ingest, month, monthly


def wait_for(predicate, timeout: float = 30.0, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(step)
    raise AssertionError(f"condition not reached: {predicate()!r}")


def server_says(engine, sql: str, **params):
    """One query in its own transaction (pg_stat_activity is a snapshot per transaction)."""
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_an_ingest_killed_mid_load_stores_nothing_and_a_rerun_succeeds(url, engine, tmp_path):  # noqa: F811
    assert ingest(engine, monthly(month())).status == "accepted"  # A's March, revision 1
    path = tmp_path / "march.csv"
    path.write_bytes(monthly(month(doctors="201"), month(hospital_code=B), month(hospital_code=C)))
    database = engine.url.database

    # Hold A's current row: the load copies its rows into the stage, then waits at its UPDATE —
    # mid-transaction, with B's and C's rows on their way in. That is where it is killed.
    holder = engine.connect()
    holder.begin()
    holder.execute(sa.text("SELECT 1 FROM monthly_values WHERE hospital_code = :a AND is_current FOR UPDATE"),
                   {"a": A})
    proc = subprocess.Popen([sys.executable, "-m", "opsmon.cli", "ingest", str(path)],
                            env={**os.environ, "DATABASE_URL": url}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    backend = wait_for(lambda: server_says(
        engine, "SELECT pid FROM pg_stat_activity WHERE datname = :d AND wait_event_type = 'Lock' "
                "AND query LIKE 'UPDATE monthly_values%'", d=database))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    holder.rollback()
    holder.close()
    # The server ends the dead client's transaction.
    wait_for(lambda: server_says(engine, "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :p", p=backend))

    assert count(engine, "SELECT count(*) FROM monthly_values") == 1  # nothing of the killed file
    assert count(engine, "SELECT count(*) FROM monthly_values WHERE hospital_code <> '" + A + "'") == 0
    with engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status FROM submissions WHERE file_name = 'march.csv'")).scalars().all()
    assert statuses == ["processing"]  # logged before the load began; never marked accepted

    rerun = subprocess.run([sys.executable, "-m", "opsmon.cli", "ingest", str(path)],
                           env={**os.environ, "DATABASE_URL": url}, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert count(engine, "SELECT count(*) FROM monthly_values") == 4  # A rev 1 and 2, B, C
    assert count(engine, "SELECT max(revision) FROM monthly_values WHERE hospital_code = '" + A + "'") == 2
