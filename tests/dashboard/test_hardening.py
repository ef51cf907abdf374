"""The outside security review's findings on the web server, each reproduced as the reviewer sent it.

In-process (Flask's test client on a fresh database) where the request is plain HTTP; the
pages under the Content-Security-Policy are checked in Chromium by test_pages_browser.py
(every page, no console error) and here by the header they are served with.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re

import flask
import pytest
from conftest import make_user, signed_in

from opsmon.dashboard import auth
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import admin

PASSWORD = "test-password-1"
CALLBACK = "/_dash-update-component"


@pytest.fixture
def app(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSMON_DATA_DIR", str(tmp_path / "data"))
    return create_app(engine)


@pytest.fixture
def client(app):
    return app.server.test_client()


class Unreadable(io.BytesIO):
    """A request body that fails the test if anything reads it (it may be measured)."""

    def _refuse(self, *_args):
        raise AssertionError("the body was read")

    read = read1 = readinto = readline = readlines = _refuse


def login_token(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def sign_in(client, username: str = "test-admin") -> None:
    r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": login_token(client)})
    assert r.status_code == 302, r.get_data(as_text=True)


def page_token(client) -> str:
    """The sign-out form's token, from the session the pages are rendered with."""
    with client.session_transaction() as session:
        return session[auth.CSRF_KEY]


# --------------------------------------------------------------------------- 4. request bodies
def test_an_anonymous_callback_body_is_refused_before_anything_reads_it(client):
    r = client.post(CALLBACK, input_stream=Unreadable(), content_type="application/json",
                    environ_overrides={"CONTENT_LENGTH": "100000"})
    assert r.status_code == 401


def test_an_anonymous_empty_json_is_a_401_not_a_500(client):
    assert client.post(CALLBACK, json={}).status_code == 401


def test_a_body_over_the_largest_legitimate_callback_is_413_from_its_header_alone(client, engine):
    make_user(engine)
    big = {"CONTENT_LENGTH": str(auth.MAX_REQUEST_BYTES + 1)}
    assert client.post(CALLBACK, input_stream=Unreadable(), content_type="application/json",
                       environ_overrides=big).status_code == 413
    sign_in(client)
    assert client.post(CALLBACK, input_stream=Unreadable(), content_type="application/json",
                       environ_overrides=big).status_code == 413
    # A real upload of the largest file fits: base64 of MAX_BYTES is below the limit.
    assert auth.MAX_BYTES * 4 // 3 + 4096 < auth.MAX_REQUEST_BYTES


def test_a_signed_in_callback_body_that_is_not_a_callback_is_a_400(client, engine):
    make_user(engine)
    sign_in(client)
    assert client.post(CALLBACK, json={}).status_code == 400
    assert client.post(CALLBACK, data="not json", content_type="application/json").status_code == 400


# --------------------------------------------------------------------------- 6. CSRF and framing
def test_signing_in_needs_the_forms_token(client, engine):
    make_user(engine)
    # An auto-submitted form from another site carries no token (and no session cookie of ours).
    r = client.post("/login", data={"username": "test-admin", "password": PASSWORD})
    assert r.status_code == 400 and "登录页面已过期" in r.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401
    r = client.post("/login", data={"username": "test-admin", "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    sign_in(client)
    assert client.get("/_dash-layout").status_code == 200


def test_the_sign_in_forms_token_survives_what_the_browser_fetches_beside_it(client, engine):
    """Chromium asks for /favicon.ico beside the form; answered with the sign-in page, it re-minted the token."""
    make_user(engine)
    token = login_token(client)
    assert client.get("/favicon.ico").status_code == 204
    assert login_token(client) == token  # a second look at the form keeps it too
    r = client.post("/login", data={"username": "test-admin", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302


def test_signing_out_is_a_post_with_the_pages_token(client, engine):
    make_user(engine)
    sign_in(client)
    client.get("/logout")  # a link or an <img> on another site signs nobody out (only POST is routed)
    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/_dash-layout").status_code == 200  # still signed in
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert page_token(client) in layout  # the navbar's sign-out form carries it
    r = client.post("/logout", data={"csrf_token": page_token(client)})
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?notice=signed_out")
    assert client.get("/_dash-layout").status_code == 401


def test_a_state_changing_request_from_another_origin_is_refused(client, engine):
    make_user(engine)
    sign_in(client)
    body = {"output": "navbar.children", "inputs": [], "changedPropIds": []}
    r = client.post(CALLBACK, json=body, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403
    token = page_token(client)
    assert client.post("/logout", data={"csrf_token": token},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get("/_dash-layout").status_code == 200
    # The site's own origin passes.
    assert client.post("/logout", data={"csrf_token": token}, headers={"Origin": "http://localhost"}).status_code == 302


@pytest.mark.parametrize("path", ["/login", "/", "/_dash-layout"])
def test_every_response_forbids_framing_and_sniffing_and_carries_the_policy(client, engine, path):
    make_user(engine)
    sign_in(client)
    r = client.get(path)
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    policy = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]  # scripts by hash only


def test_the_policy_allows_dashs_own_inline_script_by_hash(client, app, engine):
    make_user(engine)
    sign_in(client)
    page = re.sub(r"<!--\[if IE\]>.*?<!\[endif\]-->", "", client.get("/").get_data(as_text=True), flags=re.S)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", page, re.S)
    assert inline, "Dash's page has an inline script"
    policy = client.get("/").headers["Content-Security-Policy"]
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy


# --------------------------------------------------------------------------- 7. the role is the database's
def test_a_role_re_signed_into_the_cookie_opens_nothing(app, engine):
    make_user(engine, "viewer", "leader", "220000")
    with signed_in(app, engine, "viewer"):
        # What a cookie re-signed with groups ["admin"] carries; the sid and token are still viewer's.
        flask.session["user"] = {"email": "viewer", "groups": ["admin"]}
        flask.g.pop("opsmon_user", None)
        assert auth.current_user().username == "viewer"
        assert not auth.may("admin") and not auth.may("export")
        with pytest.raises(PermissionError):
            admin.search_audit(1, None, None, None, None)


# --------------------------------------------------------------------------- 10. region-page callbacks
def test_a_hospital_user_calling_a_region_pages_callback_gets_403_and_an_audit_entry(client, engine):
    from opsmon.ingest.api import ingest_bytes
    from test_upload import B, registry_csv

    assert ingest_bytes(registry_csv(), "机构名录.csv", engine=engine).status == "accepted"
    make_user(engine, "clerk", "hospital", B)
    sign_in(client, "clerk")
    body = {"output": "..risk-kpis.children...risk-map.figure..", "outputs": [], "inputs": [],
            "changedPropIds": []}
    assert client.post(CALLBACK, json=body).status_code == 403
    # Its own page's callbacks are not refused by this rule.
    body = {"output": "..hospital-kpis.children..", "outputs": [], "inputs": [], "changedPropIds": []}
    assert client.post(CALLBACK, json=body).status_code != 403
    from opsmon.access import audit
    denied = audit.search(engine, action="access.denied")
    assert list(denied["username"]) == ["clerk"]

