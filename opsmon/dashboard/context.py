"""What a request's callbacks and layouts need from the app: its database engine."""

from __future__ import annotations

import flask
from sqlalchemy.engine import Engine

ENGINE_KEY = "OPSMON_ENGINE"


def engine() -> Engine:
    """The engine of the app serving the current request."""
    return flask.current_app.config[ENGINE_KEY]
