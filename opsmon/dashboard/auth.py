"""Sign-in for the dashboard: a login page, a session cookie, a real logout.

Built on dash-auth's :class:`~dash_auth.auth.Auth` (its ``before_request`` hook
guards every route, including ``/_dash-update-component``) with the user kept in
the Flask session as ``{"email": username, "groups": [role]}``, so dash-auth's
``check_groups`` / ``protected_callback`` work for role rules.

The cookie holds no rights of its own: it names a server-side session
(``user_sessions``), and on every request :func:`current_user` reloads the
session's user and checks a token derived from the password hash, role, unit
and status — signing out, a password change, a new role or a disabled account
ends the session at once, even for a copied cookie. Sessions also end after
:data:`IDLE_TIMEOUT` without a request and :data:`MAX_SESSION_AGE` after sign-in.

Only the sign-in page itself, static assets and ``/healthz`` are open. dash-auth's
public-route mechanism is deliberately not used: it lets any callback whose
inputs claim a public ``pathname`` through without a session.
"""

from __future__ import annotations

import functools
import logging
import secrets
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlparse

import dash
import flask
from dash_auth.auth import Auth
from flask.sessions import SecureCookieSessionInterface
from markupsafe import escape
from sqlalchemy import exc as sa_exc

from opsmon import config
from opsmon.access import roles, signin
from opsmon.access.audit import record
from opsmon.access.users import User, close_session, open_session, session_user
from opsmon.dashboard import context
from opsmon.dashboard.strings import t
from opsmon.ingest.parse import MAX_BYTES
from opsmon.periods import LOCAL_TZ

log = logging.getLogger(__name__)

IDLE_TIMEOUT = timedelta(hours=2)
MAX_SESSION_AGE = timedelta(hours=12)
# /favicon.ico is open (an empty answer): a browser asks for it beside the sign-in page, and sent to
# the sign-in page instead, that request would mint a second CSRF token and outdate the form's.
OPEN_PATHS = ("/login", "/healthz", "/favicon.ico")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# The largest legitimate request: the upload callback carries a file of up to MAX_BYTES as base64
# (4 characters per 3 bytes) in its JSON, with a little room for the rest of the callback.
MAX_REQUEST_BYTES = MAX_BYTES * 4 // 3 + 2 * 1024 * 1024
# /api/: the HTTP API authenticates each request itself (bearer tokens, opsmon.api.bearer) and answers
# in problem+json; no session, no sign-in page, no CSRF (a token is not an ambient credential).
API_PREFIX = "/api/"
OPEN_PREFIXES = ("/assets/", API_PREFIX)
_G_KEY = "opsmon_user"
CSRF_KEY = "csrf"


class InsecureConfiguration(RuntimeError):
    """The app refuses to start: production mode without a secret key."""


def secret_key(settings: config.Settings) -> str:
    """OPSMON_SECRET_KEY; outside production a key generated once and kept in the data directory."""
    if settings.secret_key:
        return settings.secret_key
    if settings.production:
        raise InsecureConfiguration(
            "OPSMON_SECRET_KEY is not set: in production (OPSMON_ENV=production) the dashboard will not start "
            "without it. Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'")
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class _SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app: flask.Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (flask.has_request_context()
                                                               and flask.request.is_secure)


def client_address() -> str | None:
    """The caller's address (behind a proxy, configure werkzeug's ProxyFix so this is the real one)."""
    return flask.request.remote_addr if flask.has_request_context() else None


def current_user() -> User | None:
    """The signed-in user of this request, or None (checked against the database once per request)."""
    if not flask.has_request_context():
        return None
    if _G_KEY in flask.g:
        return flask.g.get(_G_KEY)
    user = None
    info, sid = flask.session.get("user"), flask.session.get("sid")
    if isinstance(info, dict) and info.get("email") and isinstance(sid, str):
        fresh = time.time() - float(flask.session.get("since", 0)) <= MAX_SESSION_AGE.total_seconds()
        found = session_user(context.writer(), sid) if fresh else None
        if (found is not None and found.username == info["email"]
                and flask.session.get("token") == found.session_token):
            user = found
        else:
            flask.session.clear()
    flask.g.setdefault(_G_KEY, user)
    return user


def require_user() -> User:
    """The signed-in user; ``PermissionError`` without one (a data read must never run anonymously)."""
    user = current_user()
    if user is None:
        raise PermissionError("not signed in")
    return user


def _is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def signin_required() -> flask.Response:
    """401 for callbacks and other non-page requests; a redirect to the sign-in page for a page."""
    if flask.request.path.startswith("/_dash") or flask.request.method != "GET":
        # Callbacks and layout requests: the browser script (assets/opsmon-auth.js) sends the page to /login.
        return flask.make_response(flask.jsonify(error="signin_required"), 401)
    target = flask.request.full_path.rstrip("?")
    return flask.redirect(f"/login?next={quote(target, safe='')}")


class SessionAuth(Auth):
    """dash-auth's guard with a session check and a redirect to the sign-in page.

    :func:`gate` runs first and has already refused anonymous requests; this stays as the
    second lock on the same door.
    """

    def is_authorized(self) -> bool:
        return _is_open(flask.request.path) or current_user() is not None

    def login_request(self) -> flask.Response:
        return signin_required()


def _same_origin() -> bool:
    """Whether a state-changing request comes from this site's own pages.

    Browsers send ``Origin`` with every cross-site POST (and Chromium with same-site ones);
    a request without one is not a browser's cross-site request and passes.
    """
    origin = flask.request.headers.get("Origin")
    return origin is None or origin == flask.request.host_url.rstrip("/")


def gate() -> flask.Response | None:
    """The first check of every request, before anything reads its body.

    Refuses, in order: a body over :data:`MAX_REQUEST_BYTES` (413, from the header alone);
    a state-changing request from another site (403); a request without a session outside
    the open paths (401 / the sign-in page) — dash-auth's own hook parses a callback's
    JSON before it checks the session, so it must never see an anonymous body; and a
    callback body that is not a Dash callback (400, not a 500).
    """
    request = flask.request
    if request.path.startswith(API_PREFIX):
        return None  # the API's own checks (size, token, rate) answer in its own format
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return flask.make_response(flask.jsonify(error="too_large"), 413)
    if request.method not in SAFE_METHODS and not _same_origin():
        log.warning("refused a %s to %s from origin %s", request.method, request.path, request.headers.get("Origin"))
        return flask.make_response(flask.jsonify(error="cross_origin"), 403)
    if _is_open(request.path):
        return None
    if current_user() is None:
        return signin_required()
    if request.path == "/_dash-update-component":
        body = request.get_json(silent=True)
        if not (isinstance(body, dict) and isinstance(body.get("output"), str)
                and isinstance(body.get("inputs"), list)):
            return flask.make_response(flask.jsonify(error="bad_callback"), 400)
    return None


def content_security_policy(app: dash.Dash) -> str:
    """The pages' CSP: scripts from this server and Dash's own inline scripts (by hash), no framing.

    ``'unsafe-eval'``: dash-ag-grid compiles the column functions a page defines (value
    formatters, cell styles) with ``new Function``. Styles may be inline (plotly and AG Grid
    write style elements).
    """
    scripts = " ".join(["'self'", "'unsafe-eval'", *app.csp_hashes()])
    return ("default-src 'self'; "
            f"script-src {scripts}; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
            "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def _security_headers(app: dash.Dash):
    # Worked out on the first response, once every callback (and its inline script) is defined.
    policy = functools.cache(lambda: content_security_policy(app))

    def add(response: flask.Response) -> flask.Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy())
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return add


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host after sign-in."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def home_for(user: User) -> str:
    """Where a user lands: hospital users on their own profile, everyone else on the overview."""
    return f"/hospital/{user.hospital_code}" if user.hospital_code else "/"


def land() -> flask.Response | None:
    """A ``before_request`` hook: a hospital user asking for ``/`` (the overview, which their role may not
    open) is sent to their own hospital's page, the query string (``?lang=en``) kept."""
    if flask.request.path != "/" or flask.request.method != "GET":
        return None
    user = current_user()
    if user is None or not user.hospital_code:
        return None
    query = flask.request.query_string.decode()
    return flask.redirect(home_for(user) + (f"?{query}" if query else ""))


# A Jinja2 template: Flask's render_template_string escapes every value.
_PAGE = """<!doctype html>
<html lang="{{ html_lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} · {{ app }}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/vendor/00-bootstrap-5.3.9.min.css">
<link rel="stylesheet" href="/assets/opsmon.css">
</head><body class="opsmon-login">
<main class="container" style="max-width: 26rem; margin-top: 12vh">
  <h1 class="h4 mb-1">{{ app }}</h1>
  <p class="text-muted small mb-4">{{ subtitle }}</p>
  {% if message %}<div class="alert alert-{{ tone }}" role="alert" id="login-message">{{ message }}</div>{% endif %}
  <form method="post" action="/login" class="card card-body shadow-sm" id="login-form">
    <input type="hidden" name="next" value="{{ next }}">
    <input type="hidden" name="lang" value="{{ lang }}">
    <input type="hidden" name="csrf_token" value="{{ csrf }}">
    <label class="form-label" for="username">{{ username }}</label>
    <input class="form-control mb-3" id="username" name="username" autocomplete="username" required autofocus
           value="{{ username_value }}">
    <label class="form-label" for="password">{{ password }}</label>
    <input class="form-control mb-3" id="password" name="password" type="password" autocomplete="current-password"
           required>
    <button class="btn btn-primary w-100" type="submit" id="login-submit">{{ submit }}</button>
  </form>
  <p class="text-muted small mt-3">{{ notice }}</p>
  <p class="small"><a href="/login?lang={{ other_lang }}&next={{ next | urlencode }}">{{ toggle }}</a></p>
</main></body></html>"""


def csrf_token() -> str:
    """This session's CSRF token (made on first use): the sign-in and sign-out forms carry it."""
    token = flask.session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = flask.session[CSRF_KEY] = secrets.token_urlsafe(32)
    return token


def _csrf_ok() -> bool:
    """Whether the posted form carries this session's token (a cross-site form cannot know it)."""
    sent, expected = flask.request.form.get("csrf_token", ""), flask.session.get(CSRF_KEY)
    return isinstance(expected, str) and secrets.compare_digest(sent.encode(), expected.encode())


def _login_page(lang: str, next_url: str, message: str | None = None, tone: str = "danger",
                username: str = "", status: int = 200) -> flask.Response:
    html = flask.render_template_string(
        _PAGE, html_lang="zh-CN" if lang == "zh" else "en", lang=lang, other_lang="en" if lang == "zh" else "zh",
        title=t("login.title", lang), app=t("app.title", lang), subtitle=t("app.subtitle", lang),
        message=message, tone=tone, next=next_url, csrf=csrf_token(), username=t("login.username", lang),
        password=t("login.password", lang), submit=t("login.submit", lang), notice=t("login.notice", lang),
        toggle=t("lang.toggle", lang), username_value=username)
    response = flask.make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _lang() -> str:
    return "en" if flask.request.values.get("lang") == "en" else "zh"


def login() -> flask.Response:
    """GET: the sign-in form. POST: check the password (rate-limited), start a session, go on."""
    lang, next_url = _lang(), _safe_next(flask.request.values.get("next"))
    if flask.request.method == "GET":
        notice = flask.request.args.get("notice")
        known = {"signed_out": ("login.signed_out", "success"), "expired": ("login.expired", "warning")}
        key, tone = known.get(notice or "", (None, "danger"))
        return _login_page(lang, next_url, t(key, lang) if key else None, tone)
    if not _csrf_ok():
        # A form from another site (login CSRF) or a page left open past its session: sign nothing in.
        return _login_page(lang, next_url, t("login.stale", lang), tone="warning", status=400)
    username = flask.request.form.get("username", "")[:64]
    outcome = signin.sign_in(context.writer(), username, flask.request.form.get("password", ""), client_address())
    if outcome.blocked_until is not None:
        until = outcome.blocked_until.astimezone(LOCAL_TZ).strftime("%H:%M")
        return _login_page(lang, next_url, t("login.blocked", lang).format(until=until), username=username,
                           status=429)
    if not outcome.ok or outcome.user is None:
        return _login_page(lang, next_url, t("login.failed", lang), username=username, status=401)
    user = outcome.user
    flask.session.clear()  # a fresh session: nothing carried over from before sign-in
    flask.session.permanent = True
    sid = open_session(context.writer(), user.username, client_address())
    flask.session.update(user={"email": user.username, "groups": [user.role]}, token=user.session_token,
                         sid=sid, since=time.time(), lang=lang)
    csrf_token()  # the signed-in session's own token (the cleared one went with the anonymous session)
    flask.g.pop(_G_KEY, None)
    target = next_url if next_url != "/" else home_for(user)
    return flask.redirect(target + ("" if lang == "zh" or "lang=" in target else
                                    ("&" if "?" in target else "?") + "lang=en"))


def logout() -> flask.Response:
    """End the session (a POST from the navbar's form, with its CSRF token) and show the sign-in page.

    Only POST is routed (a link or an image on another site cannot sign anyone out), and
    a POST without this session's token is refused.
    """
    if not _csrf_ok():
        return flask.make_response(flask.jsonify(error="csrf"), 400)
    user = current_user()
    if user is not None:
        close_session(context.writer(), flask.session["sid"])
        record(context.writer(), "signout", username=user.username, address=client_address())
    lang = flask.session.get("lang", "zh")
    flask.session.clear()
    response = flask.redirect(f"/login?notice=signed_out&lang={lang}")
    response.delete_cookie(flask.current_app.config.get("SESSION_COOKIE_NAME", "session"))
    return response


def healthz() -> flask.Response:
    """Liveness for a load balancer: no data, no session."""
    return flask.make_response("ok", 200, {"Content-Type": "text/plain"})


def install(app: dash.Dash, settings: config.Settings | None = None) -> SessionAuth:
    """Guard *app*: session settings, the sign-in routes and dash-auth's before-request check."""
    settings = settings or config.load()
    server = app.server
    server.secret_key = secret_key(settings)
    server.config.update(
        SESSION_COOKIE_NAME="opsmon_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=IDLE_TIMEOUT,
        SESSION_REFRESH_EACH_REQUEST=True,  # the lifetime is then an idle timeout
    )
    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES  # Werkzeug refuses a longer body while reading it
    server.session_interface = _SessionCookie()
    server.before_request(gate)  # before dash-auth's hook (registered by SessionAuth below), which parses bodies
    server.before_request(land)  # after gate: only a signed-in user gets this far
    server.after_request(_security_headers(app))
    server.add_url_rule("/login", "opsmon_login", login, methods=["GET", "POST"])
    server.add_url_rule("/logout", "opsmon_logout", logout, methods=["POST"])
    server.add_url_rule("/healthz", "opsmon_healthz", healthz)
    server.add_url_rule("/favicon.ico", "opsmon_favicon", lambda: flask.make_response("", 204))
    server.register_error_handler(PermissionError, forbidden)
    server.register_error_handler(sa_exc.OperationalError, database_unavailable)
    server.register_error_handler(sa_exc.InterfaceError, database_unavailable)
    return SessionAuth(app)


def database_unavailable(error: Exception) -> flask.Response:
    """The database is down or restarting: 503 with a message for people, never a traceback.

    The pool pings connections before use, so once the server is back the next request
    works again by itself. A previewed upload stays on the server (for an hour) and can be
    confirmed again.
    """
    log.warning("database unavailable: %s", str(error).splitlines()[0] if str(error) else type(error).__name__)
    lang = "en" if "lang=en" in (flask.request.referrer or "") + flask.request.full_path else "zh"
    message = t("error.database", lang)
    if flask.request.path.startswith("/_dash") or flask.request.method != "GET":
        response = flask.make_response(flask.jsonify(error="database_unavailable", message=message), 503)
    else:
        response = flask.make_response(
            f'<!doctype html><meta charset="utf-8"><title>{escape(t("app.title", lang))}</title>'
            f'<link rel="stylesheet" href="/assets/vendor/00-bootstrap-5.3.9.min.css">'
            f'<main class="container" style="max-width:36rem;margin-top:15vh">'
            f'<div class="alert alert-warning" id="database-unavailable">{escape(message)}</div></main>', 503)
    response.headers["Retry-After"] = "10"
    return response


def forbidden(error: PermissionError) -> flask.Response:
    """A request the user's role or scope does not allow: 403, and an audit entry (no traceback to the browser)."""
    user = current_user()
    record(context.writer(), "access.denied", username=user.username if user else None, address=client_address(),
           object=flask.request.path, details={"reason": str(error)})
    return flask.make_response(flask.jsonify(error="forbidden"), 403)


def may(permission: str) -> bool:
    """Whether the signed-in user has *permission*: 'view_regions', 'export', 'upload' or 'admin'.

    Decided on the user's current role as the database has it (read once per request by
    :func:`current_user`), never on the groups the cookie carries.
    """
    user = current_user()
    return user is not None and user.role in roles.with_permission(permission)
