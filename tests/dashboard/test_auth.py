"""Sessions: how they end, and the refusal to run in production without a secret."""

from __future__ import annotations

import time
from pathlib import Path

import flask
import pytest
from conftest import make_user, signed_in

from opsmon import config
from opsmon.access import set_disabled, set_password
from opsmon.dashboard import auth
from opsmon.dashboard.app import create_app


@pytest.fixture
def app(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSMON_DATA_DIR", str(tmp_path / "data"))
    return create_app(engine)


def fresh_request(app):
    """Forget this request's cached user, as the next request would."""
    flask.g.pop("opsmon_user", None)


def test_a_live_session_is_the_user(app, engine):
    with signed_in(app, engine, make_user(engine)):
        assert auth.current_user().username == "test-admin"


def test_a_session_older_than_the_maximum_age_has_ended(app, engine):
    with signed_in(app, engine, make_user(engine)):
        flask.session["since"] = time.time() - auth.MAX_SESSION_AGE.total_seconds() - 1
        fresh_request(app)
        assert auth.current_user() is None
        assert "user" not in flask.session  # cleared, not just ignored


def test_a_password_change_or_disabling_ends_open_sessions(app, engine):
    with signed_in(app, engine, make_user(engine)):
        set_password(engine, "test-admin", "another-password-2")
        fresh_request(app)
        assert auth.current_user() is None
    make_user(engine, "clerk", "leader", "220000")
    with signed_in(app, engine, "clerk"):
        set_disabled(engine, "clerk")
        fresh_request(app)
        assert auth.current_user() is None


def test_a_forged_session_for_another_user_is_refused(app, engine):
    make_user(engine, "viewer", "leader", "220100")
    with signed_in(app, engine, "viewer"):
        flask.session["user"] = {"email": "test-admin", "groups": ["admin"]}  # the sid is viewer's
        fresh_request(app)
        assert auth.current_user() is None


def test_production_refuses_to_start_without_a_secret(engine, tmp_path: Path):
    settings = config.Settings(database_url=None, data_dir=tmp_path, province="220000", secret_key=None,
                               production=True)
    with pytest.raises(auth.InsecureConfiguration, match="OPSMON_SECRET_KEY"):
        create_app(engine, settings)
    ok = config.Settings(database_url=None, data_dir=tmp_path, province="220000", secret_key="s" * 64,
                         production=True)
    assert create_app(engine, ok).server.secret_key == "s" * 64


def test_outside_production_a_key_is_made_once_and_kept_private(engine, tmp_path: Path):
    settings = config.Settings(database_url=None, data_dir=tmp_path, province="220000", secret_key=None,
                               production=False)
    first = create_app(engine, settings).server.secret_key
    assert len(first) == 64 and create_app(engine, settings).server.secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_the_cookie_is_marked_secure_over_https_only(app, engine):
    make_user(engine)
    form = {"username": "test-admin", "password": "test-password-1"}
    over_https = app.server.test_client().post("/login", data=form, base_url="https://opsmon.example")
    over_http = app.server.test_client().post("/login", data=form, base_url="http://127.0.0.1")
    secure = over_https.headers["Set-Cookie"]
    assert "opsmon_session=" in secure and "Secure" in secure and "HttpOnly" in secure
    assert "Secure" not in over_http.headers["Set-Cookie"]
