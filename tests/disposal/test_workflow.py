"""The disposal workflow as the spec describes it: assign → respond → return → respond → close, who may
act, what is refused (and then nothing changed), overdue on a fixed clock, reopening."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from opsmon import disposal
from opsmon.access import audit
from tests.conftest import DEMO_TODAY
from tests.disposal.conftest import items, user

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 200


_TAKEN: set[int] = set()  # items a test has used: the tests share one database


def pick(engine, n: int) -> dict:
    """The *n*-th open item of a 市属 or 县属 hospital no other test has used."""
    free = [i for i in items(engine) if i["state"] == "open" and i["affiliation"] != "省属"
            and i["disposal_id"] not in _TAKEN and i["prefecture"] is not None]
    assert len(free) > n, "the demo must raise enough orange/red risks"
    item = free[n]
    _TAKEN.add(item["disposal_id"])
    return item


def state_of(engine, disposal_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM risk_disposals WHERE disposal_id = :i"),
                                 {"i": disposal_id}).mappings().one())


def events(engine, disposal_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT action FROM risk_disposal_events WHERE disposal_id = :i "
                                         "ORDER BY event_id"), {"i": disposal_id}).scalars())


def test_orange_and_red_risks_get_a_record_each(disposal_engine):
    all_items = [i for i in items(disposal_engine) if i["level"] != "yellow"]  # yellow: taken up on request
    assert all_items
    with disposal_engine.connect() as conn:
        open_episodes = conn.execute(sa.text(
            "SELECT count(DISTINCT (hospital_code, rule)) FROM risk_register "
            "WHERE resolved_period IS NULL AND max_level IN ('orange', 'red')")).scalar()
    assert sum(not i["data_resolved"] for i in all_items) == open_episodes
    assert all(events(disposal_engine, i["disposal_id"])[0] == "create" for i in all_items[:3])


def test_the_full_loop_with_a_return_and_an_attachment(disposal_engine):
    item = pick(disposal_engine, 0)
    boss = user(disposal_engine, "wf-prefecture", "supervisor", item["prefecture"])
    clerk = user(disposal_engine, "wf-clerk-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    due = DEMO_TODAY + timedelta(days=14)
    disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=due, request="整改方案",
                 note="请说明原因并提交整改方案")
    disposal.act(disposal_engine, clerk, item["disposal_id"], "respond", cause="医保结算滞后",
                 measures="与医保局对账", files=[("整改方案.pdf", PDF)])
    disposal.act(disposal_engine, boss, item["disposal_id"], "return", note="措施不具体")
    disposal.act(disposal_engine, clerk, item["disposal_id"], "respond", cause="医保结算滞后",
                 measures="每月对账，三个月内收回欠款", expected_on=DEMO_TODAY + timedelta(days=60))
    disposal.act(disposal_engine, boss, item["disposal_id"], "close", verdict="持续跟踪")
    record = state_of(disposal_engine, item["disposal_id"])
    assert record["state"] == "closed" and record["verdict"] == "持续跟踪" and record["due_on"] == due
    assert events(disposal_engine, item["disposal_id"]) == ["create", "assign", "respond", "return", "respond",
                                                           "close"]
    line = disposal.timeline(disposal_engine, item["disposal_id"], scope=clerk.scope)
    first_answer = line[line["action"] == "respond"].iloc[0]
    (attached,) = first_answer["attachments"]
    assert attached["file_name"] == "整改方案.pdf" and attached["media_type"] == "application/pdf"
    got = disposal.attachment(disposal_engine, attached["attachment_id"], scope=clerk.scope)
    assert got["content"] == PDF
    logged = audit.search(disposal_engine, action="disposal.")
    logged = logged[logged["object"] == str(item["disposal_id"])]
    assert sorted(logged["action"]) == sorted(["disposal.assign", "disposal.respond", "disposal.return",
                                               "disposal.respond", "disposal.close"])


def test_each_side_sees_only_its_own(disposal_engine):
    all_items = items(disposal_engine)
    item = all_items[0]
    other_county = next(i for i in all_items if i["county"] != item["county"])
    clerk = user(disposal_engine, "wf-see-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    county = user(disposal_engine, "wf-county-" + item["county"], "supervisor", item["county"])
    seen_by_clerk = disposal.list_disposals(disposal_engine, scope=clerk.scope)
    assert set(seen_by_clerk["hospital_code"]) == {item["hospital_code"]}
    seen_by_county = disposal.list_disposals(disposal_engine, scope=county.scope)
    assert set(seen_by_county["adcode"]) == {item["county"]}
    assert disposal.timeline(disposal_engine, other_county["disposal_id"], scope=county.scope) is None
    with pytest.raises(disposal.NotFound):
        disposal.act(disposal_engine, county, other_county["disposal_id"], "assign",
                     due_on=DEMO_TODAY + timedelta(days=7), request="说明", note="x")


@pytest.mark.parametrize("case", ["wrong_role", "hospital_assigns", "past_deadline", "closed_item", "exe_as_pdf",
                                  "too_large", "bad_verdict", "unanswered_close", "not_top_escalates"])
def test_a_refused_action_says_why_and_changes_nothing(disposal_engine, case):
    item = pick(disposal_engine, 0)
    boss = user(disposal_engine, "wf-refuse-boss", "supervisor", item["prefecture"])
    clerk = user(disposal_engine, "wf-refuse-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    leader = user(disposal_engine, "wf-refuse-leader", "leader", "220000")
    due = DEMO_TODAY + timedelta(days=10)
    if case in ("exe_as_pdf", "too_large"):
        disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=due, request="说明", note="请说明")
    if case == "closed_item":
        disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=due, request="说明", note="请说明")
        disposal.act(disposal_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m")
        disposal.act(disposal_engine, boss, item["disposal_id"], "close", verdict="合理解释")
    before_record, before_events = state_of(disposal_engine, item["disposal_id"]), events(disposal_engine,
                                                                                           item["disposal_id"])
    attempts = {
        "wrong_role": (leader, "assign", dict(due_on=due, request="说明", note="x"), disposal.Forbidden, "不能交办"),
        "hospital_assigns": (clerk, "assign", dict(due_on=due, request="说明", note="x"), disposal.Forbidden, "不能交办"),
        "past_deadline": (boss, "assign", dict(due_on=DEMO_TODAY - timedelta(days=1), request="说明", note="x"),
                          disposal.DisposalError, "已过"),
        "closed_item": (clerk, "respond", dict(cause="c", measures="m"), disposal.DisposalError, "已办结"),
        "exe_as_pdf": (clerk, "respond", dict(cause="c", measures="m", files=[("方案.pdf", EXE)]),
                       disposal.DisposalError, "不是 PDF"),
        "too_large": (clerk, "respond", dict(cause="c", measures="m", files=[("大.pdf", PDF + b"0" * 6_000_000)]),
                      disposal.DisposalError, "超过 5 MB"),
        "bad_verdict": (boss, "close", dict(verdict="算了"), disposal.DisposalError, "办结结论"),
        "unanswered_close": (boss, "close", dict(verdict="已整改"), disposal.DisposalError, "尚未答复"),
        "not_top_escalates": (boss, "escalate", dict(note="督办"), disposal.Forbidden, "省级"),
    }
    who, action, fields, error, words = attempts[case]
    if case == "unanswered_close" and item["data_resolved"]:
        pytest.skip("this item's risk is resolved by the data: closing it unanswered is allowed")
    with pytest.raises(error) as raised:
        disposal.act(disposal_engine, who, item["disposal_id"], action, **fields)
    assert words in raised.value.message
    assert state_of(disposal_engine, item["disposal_id"]) == before_record
    assert events(disposal_engine, item["disposal_id"]) == before_events


def test_a_deadline_passing_makes_the_item_overdue_on_the_clock(disposal_engine, monkeypatch):
    item = pick(disposal_engine, 0)
    boss = user(disposal_engine, "wf-overdue-boss", "supervisor", item["prefecture"])
    due = DEMO_TODAY + timedelta(days=3)
    disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=due, request="说明", note="请说明")

    def status(on: date) -> str:
        frame = disposal.list_disposals(disposal_engine, scope=boss.scope, disposal_id=item["disposal_id"], today=on)
        return frame.iloc[0]["status"]

    assert status(due) == "assigned"  # the last day is still in time
    assert status(due + timedelta(days=1)) == "overdue"
    monkeypatch.setenv("OPSMON_TODAY", (due + timedelta(days=1)).isoformat())
    overdue_first = disposal.list_disposals(disposal_engine, scope=boss.scope)
    assert overdue_first.iloc[0]["disposal_id"] == item["disposal_id"]
    assert disposal.todo_counts(disposal_engine, scope=boss.scope, role_disposal="supervise")["overdue"] >= 1


def test_only_the_province_escalates_and_then_only_the_province_acts(disposal_engine):
    item = pick(disposal_engine, 0)
    province = user(disposal_engine, "wf-province", "admin", "220000")
    boss = user(disposal_engine, "wf-escalate-boss", "supervisor", item["prefecture"])
    disposal.act(disposal_engine, province, item["disposal_id"], "escalate", note="省级督办")
    assert state_of(disposal_engine, item["disposal_id"])["escalated"]
    with pytest.raises(disposal.Forbidden, match="省级督办"):
        disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=DEMO_TODAY + timedelta(days=5),
                     request="说明", note="x")
    disposal.act(disposal_engine, province, item["disposal_id"], "assign", due_on=DEMO_TODAY + timedelta(days=5),
                 request="说明", note="省里要求说明")


def test_a_closed_item_reopens_by_hand_with_its_history(disposal_engine):
    item = pick(disposal_engine, 0)
    boss = user(disposal_engine, "wf-reopen-boss", "supervisor", item["prefecture"])
    clerk = user(disposal_engine, "wf-reopen-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=DEMO_TODAY + timedelta(days=9),
                 request="说明", note="请说明")
    disposal.act(disposal_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m")
    disposal.act(disposal_engine, boss, item["disposal_id"], "close", verdict="合理解释")
    disposal.act(disposal_engine, boss, item["disposal_id"], "reopen", note="数据仍异常")
    record = state_of(disposal_engine, item["disposal_id"])
    assert record["state"] == "open" and record["verdict"] is None
    assert events(disposal_engine, item["disposal_id"])[-4:] == ["assign", "respond", "close", "reopen"]


def test_events_cannot_be_rewritten(disposal_engine):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), disposal_engine.begin() as conn:
        conn.execute(sa.text("UPDATE risk_disposal_events SET note = 'x'"))


def test_reminders_name_who_must_act(disposal_engine):
    item = pick(disposal_engine, 0)
    boss = user(disposal_engine, "wf-remind-boss", "supervisor", item["prefecture"])
    clerk = user(disposal_engine, "wf-remind-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=DEMO_TODAY + timedelta(days=2),
                 request="说明", note="请说明")
    due = disposal.reminders.due(disposal_engine, today=DEMO_TODAY)
    mine = due[due["disposal_id"] == item["disposal_id"]]
    assert clerk.username in set(mine["assignee"]) and set(mine["role"]) == {"hospital"}
    assert mine.iloc[0]["days_left"] == 2
    disposal.act(disposal_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m")
    due = disposal.reminders.due(disposal_engine, today=DEMO_TODAY)
    review = due[due["disposal_id"] == item["disposal_id"]]
    assert boss.username in set(review["assignee"]) and set(review["role"]) == {"supervisor"}


def test_risks_remind_lists_per_person_as_text_and_json(disposal_engine, disposal_url):
    import json

    from click.testing import CliRunner

    from opsmon.cli import cli

    item = pick(disposal_engine, 0)
    boss = user(disposal_engine, "wf-cli-boss", "supervisor", item["prefecture"])
    clerk = user(disposal_engine, "wf-cli-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    disposal.act(disposal_engine, boss, item["disposal_id"], "assign", due_on=DEMO_TODAY + timedelta(days=1),
                 request="说明", note="请说明")
    env = {"DATABASE_URL": disposal_url}
    late = (DEMO_TODAY + timedelta(days=4)).isoformat()
    text = CliRunner().invoke(cli, ["risks", "remind", "--as-of", late], env=env)
    assert text.exit_code == 0, text.output
    assert f"{clerk.username} (to answer)" in text.stdout and f"#{item['disposal_id']} " in text.stdout
    assert "overdue 3 days" in text.stdout
    got = json.loads(CliRunner().invoke(cli, ["risks", "remind", "--as-of", late, "--format", "json"],
                                        env=env).stdout)
    assert got["as_of"] == late
    (mine,) = [p for p in got["reminders"] if p["assignee"] == clerk.username]
    (entry,) = [i for i in mine["items"] if i["disposal_id"] == item["disposal_id"]]
    assert entry["status"] == "overdue" and entry["days_left"] == -3 and entry["due_on"] == (
        DEMO_TODAY + timedelta(days=1)).isoformat()


def test_a_yellow_risk_is_taken_up_on_request_once(disposal_engine):
    with disposal_engine.connect() as conn:
        yellow = conn.execute(sa.text(
            "SELECT CAST(e.hospital_code AS text) AS hospital_code, e.rule, CAST(h.adcode AS text) AS county "
            "FROM risk_register e JOIN hospitals h USING (hospital_code) WHERE e.resolved_period IS NULL "
            "AND e.max_level = 'yellow' AND h.affiliation <> '省属' AND NOT EXISTS (SELECT 1 FROM risk_disposals d "
            "WHERE d.hospital_code = e.hospital_code AND d.rule = e.rule) ORDER BY 1, 2 LIMIT 1")).mappings().one()
        other_county = conn.execute(sa.text(
            "SELECT adcode FROM regions WHERE level = 'county' AND adcode <> :c ORDER BY adcode LIMIT 1"),
            {"c": yellow["county"]}).scalar()
    stranger = user(disposal_engine, "wf-yellow-stranger", "supervisor", other_county)
    with pytest.raises(disposal.NotFound):
        disposal.take_up(disposal_engine, stranger, yellow["hospital_code"], yellow["rule"])
    county = user(disposal_engine, "wf-yellow-county", "supervisor", yellow["county"])
    made = disposal.take_up(disposal_engine, county, yellow["hospital_code"], yellow["rule"])
    record = state_of(disposal_engine, made)
    assert record["level"] == "yellow" and record["state"] == "open"
    with pytest.raises(disposal.DisposalError, match="已有处置记录"):
        disposal.take_up(disposal_engine, county, yellow["hospital_code"], yellow["rule"])
    assert events(disposal_engine, made) == ["create"]
