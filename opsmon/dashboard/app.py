"""The Dash application factory.

Serve it with ``opsmon serve`` or, in production, a WSGI server::

    gunicorn 'opsmon.dashboard.app:create_server()' -b 127.0.0.1:8050 -w 4
"""

from __future__ import annotations

from importlib import resources

import dash
import flask
from sqlalchemy.engine import Engine

from opsmon.dashboard import context, shell
from opsmon.dashboard.pages import hospital, overview, rankings, risk, submissions, targets, trends, upload
from opsmon.dashboard.strings import t
from opsmon.sql import get_engine

PAGES = (overview, rankings, trends, risk, targets, submissions, upload, hospital)


def create_app(engine: Engine | None = None) -> dash.Dash:
    """Build the app on *engine* (default: the configured database)."""
    assets = str(resources.files("opsmon") / "assets")
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder="",
        assets_folder=assets,
        title=t("app.title"),
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
    )
    app.server.config[context.ENGINE_KEY] = engine or get_engine()
    for page in PAGES:
        page.register()
    app.layout = shell.layout
    return app


def create_server() -> flask.Flask:
    """The WSGI application, for gunicorn and other servers."""
    return create_app().server

