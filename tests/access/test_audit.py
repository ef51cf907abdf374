"""The audit log (opsmon.access.audit): record, and search by user, action (or prefix), free text and time."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from access_helpers import audit_rows

from opsmon.access import audit, locks, record, search


@pytest.fixture
def log(engine):
    """A few entries of several kinds, oldest first."""
    record(engine, "user.add", username="cli:root", object="wang.li", details={"role": "analyst", "unit": "220100"})
    record(engine, "signin.failure", username="wang.li", address="10.1.2.3", details={"reason": "password"})
    record(engine, "signin.success", username="wang.li", address="10.1.2.3")
    record(engine, "user.passwd", username="admin.zhang", object="wang.li")
    record(engine, "export", username="wang.li", details={"indicator": "revenue_growth", "rows": 12})
    locks.lock(engine, "2025-03", by="王科长", reason="季度审核完成 100%")
    record(engine, "user.disable", username="admin.zhang", object="zhao_min")
    return engine


def actions(frame) -> list[str]:
    return frame["action"].tolist()


def test_record_appends_an_entry_with_its_details_as_json(engine):
    record(engine, "export", username="wang.li", address="10.1.2.3", object="rankings",
           details={"rows": 12, "区域": "长春市"})
    (row,) = audit_rows(engine)
    assert (row.username, row.address, row.action, row.object) == ("wang.li", "10.1.2.3", "export", "rankings")
    assert row.details == {"rows": 12, "区域": "长春市"}


def test_record_refuses_an_unknown_action(engine):
    with pytest.raises(ValueError, match="unknown audit action 'user.delete'"):
        record(engine, "user.delete", username="x")
    assert audit_rows(engine) == []


def test_record_on_a_connection_commits_or_rolls_back_with_it(engine):
    with pytest.raises(RuntimeError), engine.begin() as conn:
        record(conn, "export", username="wang.li")
        raise RuntimeError("the action failed")
    assert audit_rows(engine) == []


def test_search_returns_everything_newest_first_with_the_documented_columns(log):
    found = search(log)
    assert list(found.columns) == ["audit_id", "at", "username", "address", "action", "object", "details"]
    assert actions(found) == ["user.disable", "period.lock", "export", "user.passwd", "signin.success",
                              "signin.failure", "user.add"]
    assert json.loads(found.loc[found["action"] == "export", "details"].item()) == {
        "indicator": "revenue_growth", "rows": 12}


def test_search_by_user(log):
    assert actions(search(log, username="wang.li")) == ["export", "signin.success", "signin.failure"]
    assert actions(search(log, username="admin.zhang")) == ["user.disable", "user.passwd"]
    assert search(log, username="nobody").empty


def test_search_by_action_prefix(log):
    assert actions(search(log, action="user.")) == ["user.disable", "user.passwd", "user.add"]
    assert actions(search(log, action="user")) == ["user.disable", "user.passwd", "user.add"]
    assert actions(search(log, action="signin.")) == ["signin.success", "signin.failure"]


def test_search_by_exact_action(log):
    assert actions(search(log, action="user.add")) == ["user.add"]
    assert actions(search(log, action="export")) == ["export"]
    assert search(log, action="user.ad").empty  # a prefix ends at a dot


def test_search_by_text_in_the_object_or_the_details(log):
    assert actions(search(log, text="wang.li")) == ["user.passwd", "user.add"]  # objects
    assert actions(search(log, text="revenue_growth")) == ["export"]  # details
    assert actions(search(log, text="季度审核")) == ["period.lock"]  # Chinese details
    assert actions(search(log, text="ANALYST")) == ["user.add"]  # case-insensitive


def test_search_text_treats_like_wildcards_literally(log):
    assert actions(search(log, text="100%")) == ["period.lock"]
    assert actions(search(log, text="%")) == ["period.lock"]
    assert actions(search(log, text="zhao_min")) == ["user.disable"]
    assert search(log, text="zhao%min").empty
    assert search(log, text="wang_li").empty  # '_' is not "any character"


def test_search_filters_combine(log):
    assert actions(search(log, username="admin.zhang", action="user.", text="zhao")) == ["user.disable"]
    assert search(log, username="wang.li", action="user.").empty


def test_search_by_time_and_limit(log):
    with log.begin() as conn:
        conn.execute(sa.text("UPDATE audit_log SET at = at - interval '2 days' WHERE action = 'user.add'"))
        now = conn.execute(sa.text("SELECT now()")).scalar_one()
    assert actions(search(log, until=now - timedelta(days=1))) == ["user.add"]
    assert "user.add" not in actions(search(log, since=now - timedelta(days=1)))
    assert len(search(log, since=now - timedelta(days=1))) == 6
    assert actions(search(log, limit=2)) == ["user.disable", "period.lock"]


def test_every_documented_action_can_be_recorded(engine):
    for action in audit.ACTIONS:
        record(engine, action, username="x")
    assert sorted(r.action for r in audit_rows(engine)) == sorted(audit.ACTIONS)
