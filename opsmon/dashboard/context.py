"""What a request's callbacks and layouts need from the app: its database engines.

:func:`reader` for every read — read-only sessions as the ``opsmon_reader`` role with a statement
timeout (:mod:`opsmon.sql.reader`) — and :func:`writer` only where a request writes: an upload, an
audit entry, a disposal step, a score, a setting. A read path that tried to write would fail.
"""

from __future__ import annotations

import flask
from sqlalchemy.engine import Engine

ENGINE_KEY = "OPSMON_ENGINE"
READER_KEY = "OPSMON_READER"


def writer() -> Engine:
    """The engine that may write, of the app serving the current request."""
    return flask.current_app.config[ENGINE_KEY]


def reader() -> Engine:
    """The read-only engine of the app serving the current request."""
    return flask.current_app.config[READER_KEY]
