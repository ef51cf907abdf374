"""Who may call /api/v1: a working token of an enabled user — and a limit to how often."""

from __future__ import annotations

from datetime import date

import pytest
import requests

from opsmon.access import audit, tokens, users
from tests.api.conftest import make_caller
from tests.conftest import DEMO_TODAY
from tests.dashboard.conftest import serve

URL = "/api/v1/catalogue"


def assert_unauthorized(got: requests.Response) -> None:
    assert got.status_code == 401
    assert got.headers["Content-Type"].startswith("application/problem+json")
    assert got.headers["WWW-Authenticate"].startswith("Bearer")
    assert got.json()["type"] == "urn:opsmon:problem:unauthorized" and got.json()["detail"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer opsmon_not-a-real-token", "Basic dXNlcjpwYXNz"])
def test_no_token_or_a_bad_one_is_401(api_url, header):
    got = requests.get(api_url + URL, headers={"Authorization": header} if header else {})
    assert_unauthorized(got)
    assert "items" not in got.json()


def test_a_revoked_token_is_401_from_its_next_request(api_url, api_engine):
    caller = make_caller(api_engine, "api-revoked", "analyst", "220000")
    assert caller.http.get(api_url + URL).status_code == 200
    assert tokens.revoke_token(api_engine, caller.token_id, by="test")
    assert_unauthorized(caller.http.get(api_url + URL))


def test_an_expired_token_is_401(api_url, api_engine, monkeypatch):
    # Made on 2026-06-01 to work through 2026-06-10; the server's day is DEMO_TODAY (2026-06-23).
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-01")
    expired = make_caller(api_engine, "api-expired", "analyst", "220000", expires_on=date(2026, 6, 10))
    lasting = make_caller(api_engine, "api-expired", "analyst", "220000", expires_on=DEMO_TODAY)
    assert_unauthorized(expired.http.get(api_url + URL))
    assert lasting.http.get(api_url + URL).status_code == 200  # its last day still works


def test_a_disabled_users_token_is_401_and_works_again_when_re_enabled(api_url, api_engine):
    caller = make_caller(api_engine, "api-disabled", "analyst", "220000")
    users.set_disabled(api_engine, "api-disabled", True, by="test")
    assert_unauthorized(caller.http.get(api_url + URL))
    users.set_disabled(api_engine, "api-disabled", False, by="test")
    assert caller.http.get(api_url + URL).status_code == 200


def test_every_call_is_in_the_audit_log_with_the_tokens_label(api_url, api_engine):
    caller = make_caller(api_engine, "api-audited", "analyst", "220000", label="财务系统 HRP")
    caller.http.get(api_url + "/api/v1/hospitals", params={"limit": 2})
    requests.get(api_url + "/api/v1/regions")  # anonymous: audited too
    entries = audit.search(api_engine, action="api.call", username="api-audited")
    assert len(entries) == 1
    entry = entries.iloc[0]
    assert entry["object"] == "/api/v1/hospitals"
    assert '"token_label": "财务系统 HRP"' in entry["details"] and '"status": 200' in entry["details"]
    anonymous = audit.search(api_engine, action="api.call", text="/api/v1/regions")
    assert (anonymous["username"].isna() & anonymous["details"].str.contains('"status": 401')).any()


def test_cors_is_off(api_url, api_engine):
    caller = make_caller(api_engine, "api-cors", "analyst", "220000")
    got = caller.http.get(api_url + URL, headers={"Origin": "https://elsewhere.example"})
    assert got.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in got.headers)
    preflight = requests.options(api_url + URL, headers={"Origin": "https://elsewhere.example",
                                                        "Access-Control-Request-Method": "GET"})
    assert not any(h.lower().startswith("access-control-") for h in preflight.headers)


def test_an_unknown_api_path_is_a_404_problem_not_a_dashboard_page(api_url, api_engine):
    caller = make_caller(api_engine, "api-unknown", "analyst", "220000")
    got = caller.http.get(api_url + "/api/v1/no-such-thing")
    assert got.status_code == 404
    assert got.headers["Content-Type"].startswith("application/problem+json")
    wrong_method = caller.http.delete(api_url + URL)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["type"] == "urn:opsmon:problem:method_not_allowed"


def test_the_rate_limit_answers_429_with_retry_after(api_db_url, api_engine, tmp_path):
    with serve(api_db_url, tmp_path, ready_path="/healthz", OPSMON_TODAY=DEMO_TODAY.isoformat(),
               OPSMON_API_RATE_LIMIT="3 per minute") as url:
        caller = make_caller(api_engine, "api-limited", "analyst", "220000")
        other = make_caller(api_engine, "api-not-limited", "analyst", "220000")
        answers = [caller.http.get(url + URL) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        limited = answers[-1]
        assert limited.headers["Content-Type"].startswith("application/problem+json")
        assert limited.json()["type"] == "urn:opsmon:problem:rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert other.http.get(url + URL).status_code == 200  # per token: another token has its own count
