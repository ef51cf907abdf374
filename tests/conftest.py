"""Fixtures: real PostgreSQL databases, never a mock.

With ``DATABASE_URL`` set (CI: the machine's server), each run creates its own
databases on that server and drops them afterwards; otherwise an embedded
PostgreSQL is started in a temporary folder. A template database is migrated
once per run; each test that needs an empty database gets a fresh copy of it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from opsmon import derived
from opsmon.sql import db, migrate

PROVINCE = "220000"
RUN_ID = uuid.uuid4().hex[:8]


def _admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return db.start_embedded(tmp_path_factory.mktemp("pg") / "pgdata")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A URL of a database on the server the tests use (for administration)."""
    return _admin_url(tmp_path_factory)


class Databases:
    """Creates and drops throwaway databases on the test server."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.admin = db.create_engine(server_url, isolation_level="AUTOCOMMIT",
                                      poolclass=sa.NullPool)
        self.created: list[str] = []

    def url_for(self, name: str) -> str:
        return make_url(db.sqlalchemy_url(self.server_url)).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        name = f"opsmon_test_{RUN_ID}_{len(self.created)}"
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop_all(self) -> None:
        for name in self.created:
            self.drop(name)


@pytest.fixture(scope="session")
def databases(server_url: str) -> Iterator[Databases]:
    dbs = Databases(server_url)
    yield dbs
    db.dispose_all()
    dbs.drop_all()


@pytest.fixture(scope="session")
def template_db(databases: Databases) -> str:
    """A migrated database holding the 吉林省 regions and nothing else; copied per test."""
    name = databases.create()
    engine = db.create_engine(databases.url_for(name), poolclass=sa.NullPool)
    migrate.upgrade(engine, PROVINCE)
    derived.refresh(engine)  # what `opsmon db upgrade` does: the derived tables exist (empty), as readers expect
    engine.dispose()
    return name


@pytest.fixture
def empty_url(databases: Databases) -> Iterator[str]:
    """URL of a fresh, empty (unmigrated) database."""
    name = databases.create()
    yield databases.url_for(name)
    db.dispose_all()
    databases.drop(name)


@pytest.fixture
def engine(databases: Databases, template_db: str) -> Iterator[Engine]:
    """A fresh migrated database with the province's regions, dropped after the test."""
    name = databases.create(template=template_db)
    eng = db.create_engine(databases.url_for(name), poolclass=sa.NullPool)
    yield eng
    eng.dispose()
    databases.drop(name)


# A small demo province: enough hospitals for every prefecture, a year and a bit of history.
DEMO_HOSPITALS = 120
DEMO_MONTHS = 14
# Every demo a test builds is pinned to this reference date, never to the real today: on the
# 23rd the month before has been collected (due on the 10th), so "the latest month" is complete
# whatever day the suite runs (tests/test_calendar.py runs the collecting-month cases on purpose).
DEMO_TODAY = date(2026, 6, 23)


def load_demo_database(databases: Databases, data_dir, province: str, template: str | None = None,
                       **demo: int) -> str:
    """A new database holding a demo (*province*, or 100000 for a national one) loaded through ingest; its URL."""
    from opsmon import config
    from opsmon.demo.load import load_demo

    url = databases.url_for(databases.create(template=template))
    engine = db.create_engine(url, poolclass=sa.NullPool)
    settings = config.Settings(database_url=url, data_dir=data_dir, province=province, secret_key=None,
                               production=False)
    outcome = load_demo(engine, settings, today=DEMO_TODAY, **demo)
    assert outcome.rejected == 0, "the demo files must all pass validation"
    engine.dispose()
    return url


# A writable demo: 14 months, so the 12-month risk rules fire and there are risks to dispose of.
WRITABLE_DEMO = dict(n_hospitals=40, months=14)


def writable_demo(databases: Databases, template_db: str, tmp_path_factory: pytest.TempPathFactory, name: str,
                  seed: int = 5) -> str:
    """A small demo province of a test module's own (its tests write to it: the session's demo is read-only)."""
    return load_demo_database(databases, tmp_path_factory.mktemp(name), PROVINCE, template_db, seed=seed,
                              **WRITABLE_DEMO)


@pytest.fixture(scope="session")
def demo_url(databases: Databases, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding a small demo province, loaded through the ingest path (read-only for tests)."""
    return load_demo_database(databases, tmp_path_factory.mktemp("demo"), PROVINCE, template_db,
                              seed=7, n_hospitals=DEMO_HOSPITALS, months=DEMO_MONTHS)


@pytest.fixture(scope="session")
def demo_engine(demo_url: str) -> Iterator[Engine]:
    eng = db.create_engine(demo_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def national_url(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A national instance (100000 全国, every mainland province) with a small demo, loaded through ingest."""
    return load_demo_database(databases, tmp_path_factory.mktemp("national"), "100000",
                              seed=11, n_hospitals=500, months=2)


@pytest.fixture(scope="session")
def national_engine(national_url: str) -> Iterator[Engine]:
    eng = db.create_engine(national_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


def make_account(engine: Engine, username: str, role: str, unit: str):
    """A user of *role* at *unit* (made unless it exists), as the library returns it."""
    from opsmon.access import users

    if users.get_user(engine, username) is None:
        users.add_user(engine, username, "test-password-1", role, unit)
    return users.get_user(engine, username)
