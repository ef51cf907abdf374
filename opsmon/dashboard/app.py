"""The Dash application factory.

Serve it with ``opsmon serve`` or, in production, a WSGI server::

    gunicorn 'opsmon.dashboard.app:create_server()' -b 127.0.0.1:8050 -w 4
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from importlib import resources

import dash
import flask
from sqlalchemy.engine import Engine

from opsmon import config
from opsmon.dashboard import auth, context, shell
from opsmon.dashboard.pages import admin, hospital, overview, rankings, risk, submissions, targets, trends, upload
from opsmon.dashboard.strings import t
from opsmon.sql import get_engine

PAGES = (overview, rankings, trends, risk, targets, submissions, upload, hospital, admin)
# What opening each page needs (a permission of opsmon.access.roles); None: any signed-in user —
# the hospital profile's data are scoped like everything else.
PAGE_PERMISSIONS = {overview: "view_regions", rankings: "view_regions", trends: "view_regions",
                    risk: "view_regions", targets: "view_regions", submissions: "view_regions",
                    upload: "upload", hospital: None, admin: "admin"}


# A page's component ids start with its module's name ("risk-map", "upload-preview"): a callback
# whose outputs are a page's components answers only users who may open that page.
_OUTPUT_ID = re.compile(r"(?<![A-Za-z0-9_-])([a-z]+)-[A-Za-z0-9_-]")
PREFIX_PERMISSIONS = {page.__name__.rsplit(".", 1)[1]: permission for page, permission in PAGE_PERMISSIONS.items()}


def check_callback_permission() -> None:
    """``PermissionError`` (→ 403) for a callback of a page the signed-in user may not open.

    Without it a hospital user could call a region page's callbacks directly (the data
    would stay scoped, but the page is refused, and so must its callbacks be).
    """
    if flask.request.path != "/_dash-update-component":
        return
    body = flask.request.get_json(silent=True) or {}  # auth.gate has checked its shape
    for prefix in set(_OUTPUT_ID.findall(str(body.get("output", "")))):
        permission = PREFIX_PERMISSIONS.get(prefix)
        if permission is not None and not auth.may(permission):
            raise PermissionError(f"callbacks of the {prefix} page need {permission}")


def _guard(page_layout: Callable, permission: str | None) -> Callable:
    """*page_layout*, or a "not permitted" panel for users without *permission*."""

    @functools.wraps(page_layout)
    def guarded(*args, **kwargs):
        if permission is not None and not auth.may(permission):
            return shell.not_permitted(kwargs.get("lang"))
        return page_layout(*args, **kwargs)

    return guarded


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
    )
    app.server.config[context.ENGINE_KEY] = engine or get_engine()
    auth.install(app, settings)
    app.server.before_request(check_callback_permission)  # after the session checks of auth.install
    for page in PAGES:
        page.register()
        entry = dash.page_registry[page.__name__]
        entry["permission"] = PAGE_PERMISSIONS[page]
        entry["layout"] = _guard(entry["layout"], PAGE_PERMISSIONS[page])
    app.layout = shell.layout
    return app


def create_server() -> flask.Flask:
    """The WSGI application, for gunicorn and other servers."""
    return create_app().server

