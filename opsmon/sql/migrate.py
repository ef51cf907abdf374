"""Ordered SQL migrations (``migrations/NNNN_name.sql``) with a version table.

``upgrade`` applies what is pending in one transaction, under an advisory lock
so two processes starting at once do not race: each file runs in a savepoint of
its own and is recorded in ``schema_migrations``, and after the schema the
configured province's regions are loaded, so an empty database is ready for a
registry file. A failing file or region load raises, which rolls the whole
transaction back: an upgrade applies everything pending or nothing. Running it
again does nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.sql import reader, regions

_LOCK_KEY = 0x6F70736D6F6E  # "opsmon"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str


@dataclass(frozen=True)
class Status:
    """Which migrations are applied and which are pending."""

    applied: list[tuple[int, str]]
    pending: list[tuple[int, str]]
    province: str | None
    regions: int
    hospitals: int

    @property
    def current(self) -> int:
        return max((v for v, _ in self.applied), default=0)


def migrations() -> list[Migration]:
    """Every migration shipped with the package, in order."""
    folder = resources.files("opsmon.sql") / "migrations"
    found = []
    for entry in folder.iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


def _ensure_version_table(conn: sa.Connection) -> None:
    conn.execute(sa.text(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    ))


def _applied(conn: sa.Connection) -> list[tuple[int, str]]:
    exists = conn.execute(sa.text("SELECT to_regclass('schema_migrations')")).scalar()
    if not exists:
        return []
    rows = conn.execute(sa.text("SELECT version, name FROM schema_migrations ORDER BY version"))
    return [(r.version, r.name) for r in rows]


def upgrade(engine: Engine, province: str) -> list[Migration]:
    """Apply pending migrations and load *province*'s regions; return what was applied."""
    done: list[Migration] = []
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        _ensure_version_table(conn)
        applied = {v for v, _ in _applied(conn)}
        for m in migrations():
            if m.version in applied:
                continue
            with conn.begin_nested():
                # Straight to the driver without parameters: psycopg then leaves "%" alone.
                conn.connection.driver_connection.cursor().execute(m.sql)
                conn.execute(
                    sa.text("INSERT INTO schema_migrations (version, name) VALUES (:v, :n)"),
                    {"v": m.version, "n": m.name},
                )
            done.append(m)
        regions.load(conn, province)
        reader.grant(conn)
    return done


def status(engine: Engine) -> Status:
    """The migration state and the size of the loaded hierarchy."""
    with engine.connect() as conn:
        applied = _applied(conn)
        known = {v for v, _ in applied}
        pending = [(m.version, m.name) for m in migrations() if m.version not in known]
        province = n_regions = n_hospitals = None
        if applied:
            province = conn.execute(sa.text("SELECT value #>> '{}' FROM settings WHERE key = 'province'")).scalar()
            n_regions = conn.execute(sa.text("SELECT count(*) FROM regions")).scalar()
            n_hospitals = conn.execute(sa.text("SELECT count(*) FROM hospitals")).scalar()
    return Status(applied, pending, province, n_regions or 0, n_hospitals or 0)


def drop_all(engine: Engine) -> None:
    """Delete every opsmon table and its data (``opsmon demo --reset``)."""
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
