"""The Dash application factory.

Serve it with ``opsmon serve`` or, in production, a WSGI server::

    gunicorn 'opsmon.dashboard.app:create_server()' -b 127.0.0.1:8050 -w 4
"""

from __future__ import annotations

from importlib import resources

import dash
import flask
from sqlalchemy.engine import Engine

from opsmon import api, config
from opsmon.dashboard import auth, cache, context, downloads, outlines, shell
from opsmon.dashboard.page import callback_guard
from opsmon.dashboard.pages import (account, admin, bulletin, disposal, evaluation, hospital, overview, rankings,
                                    risk, submissions, targets, trends, upload)
from opsmon.dashboard.strings import t
from opsmon.sql import get_engine, reader

# Each module's PAGE says where the page lives and who may open it (opsmon.dashboard.page).
PAGES = tuple(module.PAGE for module in (overview, rankings, trends, risk, disposal, evaluation, bulletin, targets,
                                         submissions, upload, hospital, admin, account))


def create_app(engine: Engine | None = None, settings: config.Settings | None = None) -> dash.Dash:
    """Build the app on *engine* (default: the configured database), behind the sign-in page.

    Raises :class:`~opsmon.dashboard.auth.InsecureConfiguration` in production mode
    without OPSMON_SECRET_KEY.
    """
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
        on_error=shell.on_error,
    )
    engine = engine or get_engine()
    app.server.config[context.ENGINE_KEY] = engine
    app.server.config[context.READER_KEY] = reader.engine(engine, settings)
    cache.install(app)
    auth.install(app, settings)
    api.install(app.server, engine, settings)  # /api/v1: its own bearer auth
    downloads.install(app.server)  # /download/…: streamed tables, behind the sign-in like the pages
    outlines.install(app.server)  # /outlines/…: the maps' boundaries, fetched by plotly.js
    app.server.before_request(callback_guard(PAGES))  # after the session checks of auth.install
    for page in PAGES:
        page.register()
    app.layout = shell.layout
    return app


def create_server() -> flask.Flask:
    """The WSGI application, for gunicorn and other servers."""
    return create_app().server
