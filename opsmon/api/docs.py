"""/api/v1/docs: the interactive API page — Swagger UI from the swagger-ui-py package's own files
(served by this server, no CDN) on /api/v1/openapi.json, which flask-smorest generates from the code."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import flask

blp = flask.Blueprint("api_docs", __name__, url_prefix="/api/v1/docs")

_OWN = resources.files("opsmon.api") / "static"
# Only the files the page loads: the package ships an editor and source maps too.
_SWAGGER_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png")

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>opsmon 数据对接接口 /api/v1</title>
<link rel="stylesheet" href="/api/v1/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/api/v1/docs/favicon-32x32.png">
</head><body>
<div id="swagger-ui"></div>
<script src="/api/v1/docs/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/docs-init.js"></script>
</body></html>"""


def _swagger_dir() -> Path:
    import swagger_ui

    return Path(swagger_ui.__file__).parent / "static"


@blp.route("", methods=["GET"])
def page() -> flask.Response:
    """The Swagger UI page."""
    return flask.Response(_PAGE, mimetype="text/html")


@blp.route("/<name>", methods=["GET"])
def asset(name: str) -> flask.Response:
    """The page's scripts and styles (a fixed list: nothing else of either folder is served)."""
    if name == "docs-init.js":
        return flask.Response((_OWN / name).read_bytes(), mimetype="text/javascript",
                              headers={"Cache-Control": "max-age=3600"})
    if name not in _SWAGGER_FILES:
        flask.abort(404)
    return flask.send_from_directory(_swagger_dir(), name, max_age=86400)
