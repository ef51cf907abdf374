"""The 账号 page: the signed-in user's own API tokens — made (shown once), listed, revoked — and nobody else's.

The callbacks are called as functions in a signed-in request context; one browser test makes a token
through the page as a person would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from conftest import find, make_user, signed_in, text
from test_upload import A, registry_csv

from opsmon import periods
from opsmon.access import audit, tokens
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import account
from opsmon.ingest.api import ingest_bytes

ZH = {"lang": "zh"}


@pytest.fixture
def app(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSMON_DATA_DIR", str(tmp_path / "data"))
    return create_app(engine)



def test_a_user_makes_a_token_shown_once_that_works(app, engine):
    make_user(engine, "ana", "analyst", "220000")
    with signed_in(app, engine, "ana"):
        alert, rows = account.create_token(1, "  HRP 报送 ", None, ZH)
    secret = find(alert, "account-secret").children
    assert secret.startswith(tokens.PREFIX)
    assert "只显示这一次" in text(alert)
    token, user = tokens.token_user(engine, secret)
    assert (user.username, token.label, token.expires_on) == ("ana", "HRP 报送", None)
    # The list shows the new token, never the token itself.
    assert [(r["username"], r["label"], r["expires_on"], r["status"]) for r in rows] == [
        ("ana", "HRP 报送", "长期有效", "有效")]
    assert secret not in str(rows)
    assert [e.username for e in audit.search(engine, action="token.add").itertuples()] == ["ana"]


def test_a_bad_or_past_expiry_makes_no_token(app, engine):
    make_user(engine, "ana", "analyst", "220000")
    yesterday = (periods.today() - timedelta(days=1)).isoformat()
    with signed_in(app, engine, "ana"):
        alert, rows = account.create_token(1, "x", yesterday, ZH)
        assert alert.color == "danger" and alert.children == "有效期不能早于今天。" and rows == []
        alert, rows = account.create_token(2, "x", "2027-02-30", ZH)
        assert alert.color == "danger" and rows == []
        alert, rows = account.create_token(3, "x", periods.today().isoformat(), ZH)  # today is the last day
        assert find(alert, "account-secret") is not None and rows[0]["expires_on"] == periods.today().isoformat()
    assert len(tokens.list_tokens(engine)) == 1


def test_the_page_shows_the_user_and_only_their_own_tokens(app, engine):
    make_user(engine, "ana", "analyst", "220000")
    make_user(engine, "bob", "supervisor", "220100")
    tokens.add_token(engine, "ana", label="ana-1")
    tokens.add_token(engine, "bob", label="bob-1")
    with signed_in(app, engine, "ana"):
        page = account.layout(lang="zh")
        _alert, rows = account.create_token(1, "ana-2", None, ZH)
    assert find(page, "account-username").children == "ana"
    assert find(page, "account-role").children == "数据分析员"
    assert find(page, "account-unit").children == "吉林省"
    assert [r["label"] for r in find(page, "account-tokens").rowData] == ["ana-1"]
    assert [r["label"] for r in rows] == ["ana-2", "ana-1"]


def test_a_user_revokes_their_own_token_but_not_another_users(app, engine):
    make_user(engine, "ana", "analyst", "220000")
    make_user(engine, "bob", "supervisor", "220100")
    own, own_secret = tokens.add_token(engine, "ana", label="mine")
    theirs, their_secret = tokens.add_token(engine, "bob", label="theirs")
    with signed_in(app, engine, "ana"):
        # A crafted callback: bob's token id as if it were a selected row of ana's grid.
        alert, rows = account.revoke_own(1, [{"token_id": theirs.token_id, "username": "ana"}], ZH)
        assert alert.color == "danger" and alert.children == "没有找到该令牌，或它不属于您的账号；未做任何改动。"
        assert [r["label"] for r in rows] == ["mine"]
        alert, _ = account.revoke_own(2, None, ZH)
        assert alert.children == "请先在表中点击选中一个令牌。"
        alert, rows = account.revoke_own(3, [{"token_id": own.token_id}], ZH)
        assert alert.color == "success" and "mine" in alert.children
        assert [r["status"] for r in rows] == ["已吊销"]
        alert, _ = account.revoke_own(4, [{"token_id": own.token_id}], ZH)
        assert alert.color == "warning"
    assert tokens.token_user(engine, own_secret) is None
    assert tokens.token_user(engine, their_secret) is not None
    assert [(e.username, e.object) for e in audit.search(engine, action="token.revoke").itertuples()] == [
        ("ana", str(own.token_id))]


def test_every_role_may_open_the_page(app, engine):
    assert ingest_bytes(registry_csv(), "机构名录.csv", engine=engine).status == "accepted"
    users = [make_user(engine, f"u-{role}", role, unit) for role, unit in [
        ("admin", "220000"), ("leader", "220000"), ("analyst", "220000"), ("supervisor", "220100"),
        ("hospital", A)]]
    for username in users:
        with signed_in(app, engine, username):
            assert account.PAGE.may_open()
            page = account.layout(lang="zh")
            assert find(page, "not-permitted") is None and find(page, "account-username").children == username
            _alert, rows = account.create_token(1, username, None, ZH)
            assert [r["username"] for r in rows] == [username]


@pytest.mark.browser
def test_a_token_made_in_the_browser_is_shown_once(browser, dashboard_url, demo_engine, screenshot):
    from selenium.webdriver.common.by import By
    from test_pages_browser import click_css, full_page_screenshot, settled, wait_css

    browser.get(dashboard_url + "/")
    settled(browser)
    click_css(browser, "#nav-account")  # from the user's name in the navbar
    wait_css(browser, "#account-tokens")
    settled(browser)
    browser.find_element(By.ID, "account-label").send_keys("browser test")
    browser.find_element(By.ID, "account-create").click()
    secret = wait_css(browser, "#account-secret").text
    assert "只显示这一次" in browser.find_element(By.ID, "account-token-alert").text
    assert tokens.token_user(demo_engine, secret)[1].username == "demo-admin"
    wait_css(browser, "#account-tokens .ag-row")
    assert "browser test" in browser.find_element(By.ID, "account-tokens").text
    full_page_screenshot(browser, screenshot, "page-account")
    browser.refresh()  # shown once: not after a reload
    wait_css(browser, "#account-tokens .ag-row")
    assert browser.find_elements(By.ID, "account-secret") == []
    token_id = int(tokens.list_tokens(demo_engine, "demo-admin")["token_id"].iloc[0])
    tokens.revoke_token(demo_engine, token_id, by="demo-admin")  # leave the shared demo database as it was
