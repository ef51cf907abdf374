"""Fixtures for the access tests: a fresh database holding the ingest tests' registry (hospitals A, B, C).

The registry and monthly files are built by the ingest tests' helpers (``tests/ingest/test_store.py``),
imported as ``test_ingest_cli.py`` does; that folder is put on the path here so the access tests also
run on their own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ingest"))

from test_store import REGISTRY_ROWS, registry

from opsmon.ingest.api import ingest_bytes
from opsmon.sql import db


@pytest.fixture
def registered(engine: Engine) -> Engine:
    """A fresh database with the 吉林 regions and three registered hospitals (A 南关区, B 宽城区, C 朝阳区)."""
    assert ingest_bytes(registry(*REGISTRY_ROWS), "机构名录.csv", engine=engine, username="admin").status == "accepted"
    return engine


@pytest.fixture
def url(registered: Engine):
    """DATABASE_URL of the ``registered`` database, for the CLI."""
    yield registered.url.render_as_string(hide_password=False)
    db.dispose_all()  # the CLI's pooled engine, before the database is dropped


@pytest.fixture
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheap argon2id parameters, for tests that sign in many times (hashing itself is tested in test_users
    with the real parameters; verification reads the parameters from each hash)."""
    from argon2 import PasswordHasher

    from opsmon.access import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
