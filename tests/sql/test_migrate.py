"""Migrations: ordered, idempotent, and leave an empty database ready for a registry file."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from opsmon.sql import db, migrate, regions

JILIN_REGIONS = 1 + 9 + 60  # the province, its 9 prefecture-level and 60 county-level divisions


def count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def test_upgrade_on_an_empty_database_creates_the_schema_and_loads_the_province(empty_url):
    engine = db.create_engine(empty_url, poolclass=sa.NullPool)
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


def test_migration_0009_applies_on_a_database_with_v1_data(empty_url, monkeypatch):
    """A v1-era database (migrations up to 0008, hospitals and months stored by v1) takes contract v2."""
    import datetime as dt
    from decimal import Decimal

    from test_schema import HOSPITAL, MONTH, add_month, add_submission, execute

    from opsmon.ingest import uscc
    from opsmon.ingest.api import ingest_bytes
    from opsmon.ingest.fields import FIELDS, MONTHLY_V2

    engine = db.create_engine(empty_url, poolclass=sa.NullPool)
    every = migrate.migrations()
    monkeypatch.setattr(migrate, "migrations", lambda: [m for m in every if m.version <= 8])
    migrate.upgrade(engine, "220000")
    other = uscc.make("220103", "41234568")
    for code, managed in ((HOSPITAL, True), (other, False)):
        execute(engine, "INSERT INTO hospitals (hospital_code, name, adcode, level, category, affiliation, authority, "
                        "is_budget_managed) VALUES (:c, '测试医院', '220102', '三级甲等', '综合医院', '市属', "
                        "'卫生健康委', :m)", c=code, m=managed)
    # v1 allowed 拖欠职工薪酬 above 负债总额 (2,200): v2 bounds it, for new rows.
    add_month(engine, add_submission(engine), period="2026-01-01", salary_arrears=3000)

    monkeypatch.setattr(migrate, "migrations", lambda: every)
    applied = migrate.upgrade(engine, "220000")
    assert [m.version for m in applied] == [m.version for m in every if m.version > 8]

    # 预算管理医院 = 是 meant a provincial budget-managed hospital.
    assert execute(engine, "SELECT hospital_code, budget_authority, is_budget_managed FROM hospitals "
                           "ORDER BY hospital_code").all() == [(HOSPITAL, "省", True), (other, "无", False)]
    # The old row breaking the new NOT VALID bound stays readable, its v2 columns NULL (not reported).
    old = execute(engine, f"SELECT salary_arrears, {', '.join(MONTHLY_V2)} FROM monthly_values").one()
    assert tuple(old) == (Decimal("3000.00"), *[None] * 10)
    # … and is retired when the hospital corrects the month (the retiring UPDATE writes a new row version).
    v1 = [f for f in FIELDS["monthly"] if f.code not in MONTHLY_V2]
    values = {**{k: str(v) for k, v in MONTH.items()}, "hospital_code": HOSPITAL, "period": "2026-01"}
    content = "\r\n".join([",".join(f.header for f in v1), ",".join(values.get(f.code, "") for f in v1)])
    result = ingest_bytes(content.encode("gbk"), "1月快报.csv", engine=engine, today=dt.date(2026, 2, 15))
    assert (result.status, result.revisions_created, result.errors) == ("accepted", 1, [])
    assert execute(engine, "SELECT revision, is_current, salary_arrears FROM monthly_values ORDER BY revision").all() \
        == [(1, False, Decimal("3000.00")), (2, True, Decimal("0.00"))]
    engine.dispose()
