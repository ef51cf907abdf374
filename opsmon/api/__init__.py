"""The HTTP API, ``/api/v1``: hospitals' systems push reports, analysts pull indicators.

Mounted on the dashboard's Flask server (no second web server): flask-smorest blueprints
(:mod:`opsmon.api.v1`) whose marshmallow schemas (:mod:`opsmon.api.schemas`) both check the
parameters and make the OpenAPI 3.1 document at ``/api/v1/openapi.json``; Swagger UI at
``/api/v1/docs`` (:mod:`opsmon.api.docs`). A bearer token acts as its user (:mod:`opsmon.access.tokens`,
:mod:`opsmon.api.bearer`); errors are problem+json (:mod:`opsmon.api.problems`). CORS is off: no
cross-origin headers are ever sent. The API never imports the dashboard.
"""

from __future__ import annotations

import http
import logging

import flask
import flask_smorest
from flask_smorest.utils import prepare_response
from flask_limiter import Limiter
from sqlalchemy.engine import Engine
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from opsmon import config
from opsmon.sql import reader
from opsmon.api import bearer, docs, schemas, v1
from opsmon.api.problems import MEDIA_TYPE, PROBLEMS, problem

log = logging.getLogger(__name__)

PREFIX = "/api/"
# HTTP status → problem code, for errors raised outside the views' own answers.
_BY_STATUS = {status: code for code, (status, _) in reversed(PROBLEMS.items())}
_DETAILS = {404: "未找到该接口", 405: "该接口不支持此请求方法", 413: "请求体过大", 500: "服务器内部错误，请稍后重试"}


class Api(flask_smorest.Api):
    """flask-smorest's Api whose error answers are problem+json — under /api/ only (the dashboard keeps its own)."""

    ERROR_SCHEMA = schemas.Problem

    def _register_responses(self) -> None:
        """The shared error answers of the document, as problem+json (flask-smorest writes application/json)."""
        for status in http.HTTPStatus:
            if status >= 400:
                response = {"description": status.phrase, "schema": self.ERROR_SCHEMA}
                prepare_response(response, self.spec, MEDIA_TYPE)
                self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, MEDIA_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def handle_http_exception(self, error: HTTPException):
        if not flask.request.path.startswith(PREFIX):
            return error
        if error.response is not None:  # an answer made by the view (flask.abort(problem(...)))
            return error.response
        data = getattr(error, "data", None) or {}
        if error.code == 400 and "messages" in data:  # webargs: a parameter failed its schema
            fields = {name: msgs for location in data["messages"].values() for name, msgs in location.items()}
            return problem("invalid_parameters", "参数有误：" + "；".join(
                f"{name} {'、'.join(map(str, msgs)) if isinstance(msgs, list) else msgs}" for name, msgs in fields.items()),
                errors=[{"field": name, "message": msgs} for name, msgs in fields.items()])
        if error.code == 429 and isinstance(error, HTTPException):
            return bearer.too_many(flask.current_app.extensions["opsmon.api"]["limiter"])
        code = _BY_STATUS.get(error.code or 500, "server_error")
        status = PROBLEMS[code][0]
        return problem(code, _DETAILS.get(status, error.description or PROBLEMS[code][1]))


def _unknown_route() -> flask.Response | None:
    """An /api/ path no API route serves is 404 (the dashboard's catch-all page route would take it)."""
    request = flask.request
    if isinstance(request.routing_exception, MethodNotAllowed):
        return None  # an API route, another method: 405 from the error handler
    if request.path.startswith(PREFIX) and request.blueprint not in (v1.blp.name, docs.blp.name, "api-docs"):
        return problem("not_found", "未找到该接口")
    return None


def install(server: flask.Flask, engine: Engine, settings: config.Settings | None = None) -> Api:
    """Mount /api/v1 on *server* (the dashboard's Flask app) with *engine*'s data."""
    settings = settings or config.load()
    server.config.update(
        API_TITLE="opsmon 公立医院经济运行监测 API", API_VERSION="v1", OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    limiter = Limiter(bearer.rate_key, app=server, storage_uri="memory://", default_limits=[],
                      headers_enabled=True)
    server.extensions["opsmon.api"] = {"engine": engine, "reader": reader.engine(engine, settings), "limiter": limiter}
    api = Api(server, spec_kwargs={
        "info": {"description": "Bearer 令牌（opsmon tokens add / 账号页面）代表其用户：同样的角色、同样的范围。"
                                "错误为 application/problem+json（RFC 9457）。"},
        "security": [{"bearer": []}],
        "servers": [{"url": "/"}],
    })
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                                   "description": "opsmon_ 开头的接口令牌"})
    limiter.limit(settings.api_rate_limit)(v1.blp)
    api.register_blueprint(v1.blp)
    server.register_blueprint(docs.blp)
    server.before_request(_unknown_route)
    return api
