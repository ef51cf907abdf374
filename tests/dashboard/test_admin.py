"""The 管理 page's callbacks: period locks, the audit log and API tokens, for administrators only."""

from __future__ import annotations

from contextvars import copy_context

import pytest
from conftest import find, make_user, signed_in
from dash._callback_context import context_value
from dash._utils import AttributeDict

from opsmon.access import audit, locks, tokens
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import admin


@pytest.fixture
def app(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSMON_DATA_DIR", str(tmp_path / "data"))
    return create_app(engine)


def clicked(button: str, fn, *args):
    """Run callback *fn* as if *button* had been clicked."""
    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{button}.n_clicks", "value": 1}]))
        return fn(*args)
    return copy_context().run(run)


def test_an_administrator_locks_and_unlocks_a_period(app, engine):
    with signed_in(app, engine, make_user(engine)):
        alert, rows = clicked("admin-lock", admin.change_lock, 1, None, "2026-10", "审核完毕", {"lang": "zh"})
        assert alert.children == "已锁定 2026-10：此后该期的上报将被拒绝。"
        assert [(r["period"], r["locked_by"], r["reason"]) for r in rows] == [("2026-10", "test-admin", "审核完毕")]
        entries = admin.audit_rows(None, "period.lock", None, None)
        assert [(e["username"], e["action"], e["object"]) for e in entries] == [("test-admin", "锁定报告期", "2026-10")]

        alert, _ = clicked("admin-lock", admin.change_lock, 2, None, "2026-10", None, {"lang": "zh"})
        assert alert.children == "2026-10 已处于锁定状态。"
        alert, rows = clicked("admin-unlock", admin.change_lock, None, 1, "2026-10", None, {"lang": "zh"})
        assert alert.children == "已解锁 2026-10。" and rows == []
        alert, _ = clicked("admin-lock", admin.change_lock, 3, None, "2026-13", None, {"lang": "zh"})
        assert alert.children == "请输入报告期，格式如 2026-10。"
    assert locks.list_locks(engine).empty


@pytest.mark.parametrize("role, unit", [("leader", "220000"), ("analyst", "220000"), ("supervisor", "220100")])
def test_other_roles_cannot_lock_or_read_the_audit_log(app, engine, role, unit):
    with signed_in(app, engine, make_user(engine, f"u-{role}", role, unit)):
        with pytest.raises(PermissionError):
            clicked("admin-lock", admin.change_lock, 1, None, "2026-10", None, {"lang": "zh"})
        with pytest.raises(PermissionError):
            admin.search_audit(None, None, None, None, {"lang": "zh"})
    assert locks.list_locks(engine).empty


def test_an_administrator_lists_every_token_and_revokes_one(app, engine):
    make_user(engine, "ana", "analyst", "220000")
    make_user(engine, "bob", "supervisor", "220100")
    tokens.add_token(engine, "ana", label="ana-1")
    theirs, secret = tokens.add_token(engine, "bob", label="bob-1")
    with signed_in(app, engine, make_user(engine)):
        page = admin.layout(lang="zh")
        rows = find(page, "admin-tokens").rowData
        assert [(r["username"], r["label"], r["status"]) for r in rows] == [("bob", "bob-1", "有效"),
                                                                             ("ana", "ana-1", "有效")]
        alert, rows = admin.revoke_any(1, [{"token_id": theirs.token_id}], {"lang": "zh"})
        assert alert.children == "已吊销用户 bob 的令牌“bob-1”。"
        assert [(r["username"], r["status"]) for r in rows] == [("bob", "已吊销"), ("ana", "有效")]
        alert, _ = admin.revoke_any(2, [{"token_id": 10**9}], {"lang": "zh"})
        assert alert.children == "没有找到该令牌；未做任何改动。"
    assert tokens.token_user(engine, secret) is None
    assert [(e.username, e.object) for e in audit.search(engine, action="token.revoke").itertuples()] == [
        ("test-admin", str(theirs.token_id))]


@pytest.mark.parametrize("role, unit", [("leader", "220000"), ("analyst", "220000"), ("supervisor", "220100")])
def test_other_roles_cannot_revoke_tokens_on_the_admin_page(app, engine, role, unit):
    victim, secret = tokens.add_token(engine, make_user(engine, "ana", "analyst", "220000"))
    with signed_in(app, engine, make_user(engine, f"u-{role}", role, unit)), pytest.raises(PermissionError):
        admin.revoke_any(1, [{"token_id": victim.token_id}], {"lang": "zh"})
    assert tokens.token_user(engine, secret) is not None
