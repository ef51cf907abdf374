"""Migrations: ordered, idempotent, and leave an empty database ready for a registry file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from opsmon.sql import migrate, regions

JILIN_REGIONS = 1 + 9 + 60  # the province, its 9 prefecture-level and 60 county-level divisions


def count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def test_upgrade_on_an_empty_database_creates_the_schema_and_loads_the_province(empty_url):
    engine = sa.create_engine(empty_url, poolclass=sa.NullPool)
    assert migrate.status(engine).pending  # nothing applied yet

    applied = migrate.upgrade(engine, "220000")

    assert [m.version for m in applied] == [m.version for m in migrate.migrations()]
    st = migrate.status(engine)
    assert st.pending == [] and st.province == "220000"
    assert count(engine, "SELECT count(*) FROM regions") == JILIN_REGIONS
    assert count(engine, "SELECT count(*) FROM regions WHERE level = 'prefecture'") == 9
    assert count(engine, "SELECT count(*) FROM regions WHERE level = 'county'") == 60


def test_upgrade_twice_changes_nothing(engine):
    before = count(engine, "SELECT count(*) FROM schema_migrations")

    assert migrate.upgrade(engine, "220000") == []

    assert count(engine, "SELECT count(*) FROM schema_migrations") == before
    assert count(engine, "SELECT count(*) FROM regions") == JILIN_REGIONS


def test_a_database_refuses_a_second_province(engine):
    with pytest.raises(regions.ProvinceMismatch, match="220000"):
        migrate.upgrade(engine, "430000")


def test_migration_files_are_numbered_without_gaps():
    versions = [m.version for m in migrate.migrations()]
    assert versions == list(range(1, len(versions) + 1))


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "opsmon.cli", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_db_upgrade_and_status(empty_url):
    before = run_cli("db", "status", url=empty_url)
    assert before.returncode == 1 and "pending  0001_initial" in before.stdout

    up = run_cli("db", "upgrade", url=empty_url)
    assert up.returncode == 0, up.stderr
    assert "applied 0001_initial" in up.stdout and f"{JILIN_REGIONS} regions" in up.stdout

    again = run_cli("db", "upgrade", url=empty_url)
    assert again.returncode == 0 and "applied 0" not in again.stdout

    after = run_cli("db", "status", url=empty_url)
    assert after.returncode == 0 and "pending" not in after.stdout
