"""Who is calling /api/v1, how often, and the audit entry of every call.

* ``Authorization: Bearer <token>`` → the token's user (:func:`opsmon.access.tokens.token_user`):
  no token, an unknown, revoked or expired one, or a disabled user → 401.
* A rate limit per token (per address without one), from flask-limiter: 429 with ``Retry-After``.
* Every call, refused ones included, is an ``api.call`` audit entry naming the token's id and label.
"""

from __future__ import annotations

import logging
import math
import time
from urllib.parse import parse_qsl, urlencode

import flask
from flask_limiter import Limiter

from opsmon.access import audit, tokens
from opsmon.api.problems import problem

log = logging.getLogger(__name__)

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="opsmon"'}


def _engine():
    return flask.current_app.extensions["opsmon.api"]["engine"]


def _bearer() -> str | None:
    scheme, _, token = flask.request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _identify() -> None:
    """Look the bearer token up once per request: ``flask.g.api_token`` / ``api_user`` (None when it does
    not work). The rate limit runs before the views and needs it first."""
    if "api_user" in flask.g:
        return
    token = _bearer()
    found = tokens.token_user(_engine(), token) if token else None
    flask.g.api_token, flask.g.api_user = found if found else (None, None)


def rate_key() -> str:
    """The rate-limit bucket: a working token's id — made-up tokens share their address's bucket, so
    inventing tokens does not escape the limit."""
    _identify()
    token = flask.g.api_token
    return f"token:{token.token_id}" if token is not None else "address:" + (flask.request.remote_addr or "?")


def authenticate() -> flask.Response | None:
    """Answer 401 unless the bearer token works (``flask.g.api_user`` / ``api_token`` then set)."""
    _identify()
    if flask.g.api_user is not None:
        return None
    if _bearer() is None:
        return problem("unauthorized", "缺少接口令牌：请在请求头中加入 Authorization: Bearer <令牌>", headers=CHALLENGE)
    return problem("unauthorized", "接口令牌无效、已过期或已吊销，或其用户已停用", headers=CHALLENGE)


def _logged_query() -> str:
    """The query string for the audit log, any token-like value blanked (a token sent as a parameter by mistake)."""
    pairs = parse_qsl(flask.request.query_string.decode(errors="replace"), keep_blank_values=True)
    return urlencode([(k, "***" if tokens.PREFIX in v else v) for k, v in pairs])[:500]


def audit_call(response: flask.Response) -> flask.Response:
    """Write the call to the audit log (after the answer is made; a failed write is logged, not raised)."""
    token, user = flask.g.get("api_token"), flask.g.get("api_user")
    details = {"status": response.status_code, "method": flask.request.method, "query": _logged_query()}
    if token is not None:
        details.update(token_id=token.token_id, token_label=token.label)
    try:
        audit.record(_engine(), "api.call", username=user.username if user else None,
                     address=flask.request.remote_addr, object=flask.request.path, details=details)
    except Exception:  # the answer stands; the log says the audit write failed
        log.exception("could not audit an API call")
    return response


def too_many(limiter: Limiter) -> flask.Response:
    """The 429 problem, with the seconds until the window resets."""
    current = limiter.current_limit
    wait = max(1, math.ceil(current.reset_at - time.time())) if current is not None else 60
    return problem("rate_limited", f"请求过于频繁：每个令牌的上限为 {current.limit if current else ''}，"
                                   f"请 {wait} 秒后重试", headers={"Retry-After": str(wait)})

