"""API tokens (opsmon.access.tokens) and ``opsmon tokens add | list | revoke``: shown once, stored as a hash,
working until revoked, past their last day, or their user is disabled."""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa
from access_helpers import audit_rows
from click.testing import CliRunner
from test_store import A

from opsmon.access import tokens, users
from opsmon.cli import cli

pytestmark = pytest.mark.usefixtures("fast_argon2")


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-23")


@pytest.fixture
def hrp(registered):
    users.add_user(registered, "hrp", "password-long-1", "hospital", A)
    return registered


def run(url: str, *args: str):
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url, "OPSMON_TODAY": "2026-06-23"})


def test_add_prints_the_token_once_and_stores_only_its_hash(url, hrp):
    result = run(url, "tokens", "add", "hrp", "--label", "HRP 接口", "--expires", "2026-12-31")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    assert secret.startswith("opsmon_") and len(secret) > 40
    assert "shown once" in result.stderr
    with hrp.connect() as conn:
        stored = conn.execute(sa.text("SELECT * FROM api_tokens")).mappings().one()
    assert stored["token_hash"] == tokens.token_hash(secret) and secret not in json.dumps(dict(stored), default=str)
    assert stored["label"] == "HRP 接口" and stored["expires_on"] == date(2026, 12, 31)
    token, user = tokens.token_user(hrp, secret)
    assert user.username == "hrp" and user.scope == A and token.label == "HRP 接口"
    listed = json.loads(run(url, "tokens", "list", "--format", "json").stdout)["tokens"]
    assert [(t["username"], t["label"], t["status"], t["expires_on"]) for t in listed] == [
        ("hrp", "HRP 接口", "active", "2026-12-31")]
    assert secret not in json.dumps(listed) and stored["token_hash"] not in json.dumps(listed)
    assert audit_rows(hrp, "token.add")


def test_revoke_ends_the_token_and_says_so_twice_over(url, hrp):
    _, secret = tokens.add_token(hrp, "hrp", label="x")
    (token_id,) = json.loads(run(url, "tokens", "list", "--format", "json").stdout)["tokens"][0:1]
    result = run(url, "tokens", "revoke", str(token_id["token_id"]))
    assert result.exit_code == 0 and "revoked" in result.stdout
    assert tokens.token_user(hrp, secret) is None
    again = run(url, "tokens", "revoke", str(token_id["token_id"]))
    assert again.exit_code == 0 and "already revoked" in again.stdout
    missing = run(url, "tokens", "revoke", "99999")
    assert missing.exit_code == 1 and "no token 99999" in missing.stderr
    assert json.loads(run(url, "tokens", "list", "--format", "json").stdout)["tokens"][0]["status"] == "revoked"


def test_a_token_works_through_its_last_day_only(hrp, monkeypatch):
    _, secret = tokens.add_token(hrp, "hrp", expires_on=date(2026, 6, 30))
    assert tokens.token_user(hrp, secret) is not None
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-30")
    assert tokens.token_user(hrp, secret) is not None
    monkeypatch.setenv("OPSMON_TODAY", "2026-07-01")
    assert tokens.token_user(hrp, secret) is None
    assert tokens.list_tokens(hrp)["status"].tolist() == ["expired"]


def test_a_disabled_users_tokens_stop_working(hrp):
    _, secret = tokens.add_token(hrp, "hrp")
    users.set_disabled(hrp, "hrp", True)
    assert tokens.token_user(hrp, secret) is None
    assert tokens.list_tokens(hrp)["status"].tolist() == ["user_disabled"]


@pytest.mark.parametrize("args, message", [
    (["nobody"], "no user 'nobody'"),
    (["hrp", "--expires", "2026-06-22"], "in the past"),
    (["hrp", "--label", "x" * 101], "at most 100 characters"),
])
def test_add_refuses_and_stores_nothing(url, hrp, args, message):
    result = run(url, "tokens", "add", *args)
    assert result.exit_code == 1 and message in result.stderr
    assert "opsmon_" not in result.stdout
    assert tokens.list_tokens(hrp).empty


@pytest.mark.parametrize("token", ["", "opsmon_", "not-a-token", "opsmon_" + "x" * 300])
def test_anything_but_an_issued_token_finds_no_user(hrp, token):
    tokens.add_token(hrp, "hrp")
    assert tokens.token_user(hrp, token) is None
