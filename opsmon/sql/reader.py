"""The read-only side: a role that may only read, and the engine every read path connects with.

The dashboard and the API's GETs read through :func:`engine`: its sessions run as the
``opsmon_reader`` role (SELECT only), in read-only transactions, with a statement timeout
(``OPSMON_STATEMENT_TIMEOUT``, 5 s by default). A read path that tried to write or to run DDL
— a lazy refresh, a temporary table — fails there rather than slowing a viewer down: the
derived tables are written by the write side (:mod:`opsmon.derived`).

``opsmon db upgrade`` creates the role (when the migrating user may create roles) and grants it
SELECT on every table, now and on tables made later by the same owner. On a managed PostgreSQL
where the application user cannot create roles, an administrator creates a login role with
SELECT only and sets ``OPSMON_READ_DATABASE_URL`` (see README, "Configuration").
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import config
from opsmon.sql.db import create_engine

log = logging.getLogger(__name__)

ROLE = "opsmon_reader"

_engines: dict[tuple[str, int], Engine] = {}

# Idempotent: run after every upgrade, because the aggregates' rebuild swaps in new tables and
# `opsmon demo --reset` recreates the schema (grants go with the objects).
_GRANTS = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
        BEGIN
            CREATE ROLE {ROLE} NOLOGIN;
        EXCEPTION WHEN insufficient_privilege OR unique_violation OR duplicate_object THEN
            RAISE NOTICE 'role {ROLE} not created: %', SQLERRM;
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
        EXECUTE 'GRANT USAGE ON SCHEMA public TO {ROLE}';
        EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO {ROLE}';
        EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {ROLE}';
        IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT {ROLE} TO %I', current_user);
            EXCEPTION WHEN insufficient_privilege THEN
                RAISE NOTICE 'role {ROLE} not granted to %: %', current_user, SQLERRM;
            END;
        END IF;
    END IF;
END $$;
"""


def grant(conn: sa.Connection) -> None:
    """Create the reader role if it is missing and grant it SELECT on every table (idempotent)."""
    # Roles are cluster-wide: two databases upgrading at once must not both create it.
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('opsmon_reader.create'))"))
    conn.connection.driver_connection.cursor().execute(_GRANTS)


def _may_become_reader(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(sa.text(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r) AND pg_has_role(current_user, :r, 'MEMBER')"
        ), {"r": ROLE}).scalar())


def engine(writer: Engine, settings: config.Settings | None = None) -> Engine:
    """The read-only engine beside *writer* (one per URL per process).

    ``OPSMON_READ_DATABASE_URL`` when set; otherwise *writer*'s URL as the ``opsmon_reader``
    role (when the role exists and *writer*'s user may take it — else the writer's own role,
    still in read-only transactions). Sessions: ``default_transaction_read_only``, the
    statement timeout, and an application name that says which side they are.
    """
    settings = settings or config.load()
    url = settings.read_database_url or writer.url.render_as_string(hide_password=False)
    key = (url, settings.statement_timeout_ms)
    if key not in _engines:
        options = [f"-c statement_timeout={int(settings.statement_timeout_ms)}",
                   "-c default_transaction_read_only=on"]
        if not settings.read_database_url:
            if _may_become_reader(writer):
                options.append(f"-c role={ROLE}")
            else:
                log.warning("role %s missing or not granted: reads run read-only as the writer's role", ROLE)
        _engines[key] = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                      connect_args={"options": " ".join(options),
                                                    "application_name": "opsmon-reader"})
    return _engines[key]


def timed_out(error: BaseException) -> bool:
    """Whether *error* is a statement cut off by the statement timeout (or a cancel)."""
    import psycopg.errors

    original = getattr(error, "orig", error)
    return isinstance(original, psycopg.errors.QueryCanceled)


def dispose_all() -> None:
    """Close every reader's pooled connections (tests, forks)."""
    for e in _engines.values():
        e.dispose()
    _engines.clear()
