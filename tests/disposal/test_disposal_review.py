"""A review of risk disposal (风险处置): defects found (the tests that fail until they are fixed) and the
security properties worth keeping (regression tests that pass).

These tests run on their own copy of the disposal demo (``review_engine``, made from ``disposal_url`` as a
template): they act on many items, and ``test_workflow``'s full-loop test finds its audit entries by
``text=str(disposal_id)`` — which matches every ``disposal.*`` entry holding that digit (every hospital code
starts with "12"), so entries written here in the shared database would break it. Items are taken from
the end of the list all the same. A test that changes the risk register puts it back.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
import zipfile
from datetime import date, timedelta

import flask
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from opsmon import config, disposal
from opsmon.access import audit, tokens, users
from opsmon.disposal import attachments, figures, reminders
from opsmon.disposal.workflow import ACTIONS, may_act
from opsmon.sql import db
from tests.conftest import DEMO_TODAY, PROVINCE
from tests.disposal.conftest import items, user

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
EXE = b"MZ\x90\x00" + b"\x00" * 200
TOP = ("省属", "委属委管", "中央属")


# --- fixtures and helpers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def review_engine(databases, disposal_url):
    """A copy of the disposal demo of this module's own (CREATE DATABASE … TEMPLATE the demo)."""
    source = make_url(disposal_url).database
    for attempt in range(20):  # the template must have no other session: a NullPool engine may be closing one
        try:
            name = databases.create(template=source)
            break
        except sa.exc.OperationalError:
            if attempt == 19:
                raise
            time.sleep(0.5)
    eng = db.create_engine(databases.url_for(name), poolclass=sa.NullPool)
    disposal.sync(eng)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def api(review_engine, tmp_path_factory):
    """/api/v1 mounted on a bare Flask app over the review database (no dashboard), as a test client."""
    from opsmon.api import install

    app = flask.Flask("disposal-review")
    settings = config.Settings(database_url=review_engine.url.render_as_string(hide_password=False),
                               data_dir=tmp_path_factory.mktemp("review-api"), province=PROVINCE, secret_key=None,
                               production=False, api_rate_limit="100000 per minute")
    install(app, review_engine, settings)
    return app.test_client()


def bearer(engine, username: str, role: str, unit: str) -> dict[str, str]:
    user(engine, username, role, unit)
    _, secret = tokens.add_token(engine, username, label=f"{username}-{time.monotonic_ns()}")
    return {"Authorization": f"Bearer {secret}"}


_MINE: set[int] = set()


def pick_last(engine) -> dict:
    """The last open, not data-resolved item of a 县属/市属 hospital under a prefecture, not used here before."""
    free = [i for i in items(engine) if i["state"] == "open" and i["affiliation"] not in TOP
            and not i["data_resolved"] and i["prefecture"] not in (None, PROVINCE)
            and i["disposal_id"] not in _MINE]
    assert free, "the demo must raise enough orange/red risks"
    item = free[-1]
    _MINE.add(item["disposal_id"])
    return item


def record(engine, disposal_id: int) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT * FROM risk_disposals WHERE disposal_id = :i"),
                                 {"i": disposal_id}).mappings().one())


def events(engine, disposal_id: int) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(
            "SELECT * FROM risk_disposal_events WHERE disposal_id = :i ORDER BY event_id"),
            {"i": disposal_id}).mappings()]


def open_episode(engine, hospital_code: str, rule: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT * FROM risk_register WHERE hospital_code = :h AND rule = :r AND resolved_period IS NULL"),
            {"h": hospital_code, "r": rule}).mappings().one())


def add_episode(engine, hospital_code: str, rule: str, first: str, level: str) -> None:
    """A made-up open episode (a test removes it again with :func:`drop_episode`), its disposal record
    made as the write side makes it (:func:`opsmon.disposal.sync`, after each refresh of the register)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO risk_register (hospital_code, rule, first_period, last_period, level, max_level, "
            "months_firing) VALUES (:h, :r, :f, :f, :l, :l, 1)"),
            {"h": hospital_code, "r": rule, "f": date.fromisoformat(first), "l": level})
    disposal.sync(engine)


def drop_episode(engine, hospital_code: str, rule: str, first: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM risk_register WHERE hospital_code = :h AND rule = :r AND first_period = :f"),
                     {"h": hospital_code, "r": rule, "f": date.fromisoformat(first)})


def restore_episode(engine, episode: dict) -> None:
    """Put back a register row as it was (its episode_id too)."""
    columns = list(episode)
    values = ", ".join("CAST(:detail AS jsonb)" if c == "detail" else f":{c}" for c in columns)
    with engine.begin() as conn:
        conn.execute(sa.text(f"INSERT INTO risk_register ({', '.join(columns)}) "
                             f"VALUES ({values})"),
                     {**episode, "detail": None if episode.get("detail") is None else json.dumps(episode["detail"])})


def hospital_of(engine, affiliation: str | None = None, adcode: str | None = None) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text(
            "SELECT CAST(h.hospital_code AS text) AS hospital_code, CAST(h.adcode AS text) AS county, "
            "       CAST(r.parent_adcode AS text) AS prefecture FROM hospitals h JOIN regions r ON r.adcode = h.adcode "
            "WHERE (CAST(:a AS text) IS NULL OR h.affiliation = :a) AND (CAST(:c AS text) IS NULL OR h.adcode = :c) "
            "ORDER BY 1 LIMIT 1"), {"a": affiliation, "c": adcode}).mappings().one())


def due(days: int) -> date:
    return DEMO_TODAY + timedelta(days=days)


def xlsx_like(names: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, content in names.items():
            z.writestr(name, content)
    return out.getvalue()


# === defects: these fail until fixed =================================================================


def test_take_up_with_a_blank_hospital_code_takes_up_nobody(review_engine):
    """take_up strips the code to '' and restrict.hospitals then drops the hospital condition: the first
    open episode of the rule anywhere in the caller's area is taken up — a hospital nobody named (the
    API's Length(18, 18) lets 18 spaces through)."""
    target = hospital_of(review_engine, adcode="220621")
    with review_engine.connect() as conn:
        rule = conn.execute(sa.text(
            "SELECT e.rule FROM risk_register e WHERE e.hospital_code = :h AND e.resolved_period IS NULL "
            "AND e.max_level = 'yellow' AND NOT EXISTS (SELECT 1 FROM risk_disposals d "
            "WHERE d.hospital_code = e.hospital_code AND d.rule = e.rule) ORDER BY 1 DESC LIMIT 1"),
            {"h": target["hospital_code"]}).scalar_one()
    county = user(review_engine, "rv-blank-county", "supervisor", target["county"])
    for blank in (" " * 18, ""):
        with pytest.raises(disposal.DisposalError):
            disposal.take_up(review_engine, county, blank, rule)
    with review_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM risk_disposals WHERE hospital_code = :h AND rule = :r"),
                            {"h": target["hospital_code"], "r": rule}).scalar() == 0


def test_a_blank_answer_or_comment_is_refused(review_engine):
    """_check_fields tests ``fields.get(f) in (None, "")`` before stripping: '   ' passes as a cause,
    measures, note — an answer with nothing in it is accepted (the event's fields are {})."""
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-blank-boss", "supervisor", item["prefecture"])
    clerk = user(review_engine, "rv-blank-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    with pytest.raises(disposal.DisposalError, match="说明"):
        disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(7), request="说明", note="   ")
    assert record(review_engine, item["disposal_id"])["state"] == "open"
    disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(7), request="说明", note="请说明")
    with pytest.raises(disposal.DisposalError, match="原因分析"):
        disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="   ", measures=" \n\t ")
    assert record(review_engine, item["disposal_id"])["state"] == "assigned"


def test_a_nul_character_is_a_clear_refusal_not_a_server_error(review_engine):
    """PostgreSQL text cannot hold NUL: a note or file name with one raised psycopg's DataError (HTTP 500),
    not a DisposalError (422) — the spec wants a clear message for bad input."""
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-nul-boss", "supervisor", item["prefecture"])
    clerk = user(review_engine, "rv-nul-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    with pytest.raises(disposal.DisposalError):
        disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(7), request="说明",
                     note="请说明\x00")
    disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(7), request="说明", note="请说明")
    with pytest.raises(disposal.DisposalError):
        disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m",
                     files=[("方案\x00.pdf", PDF)])
    assert record(review_engine, item["disposal_id"])["state"] == "assigned"


@pytest.mark.parametrize("name", ["报告\n.pdf", "a\r\nX-Injected: 1\r\n.pdf", "tab\t.pdf"])
def test_an_attachment_name_with_control_characters_is_refused_or_cleaned(name):
    """attachments.check keeps control characters; a name with a line break is stored and its download then
    fails for everyone (Werkzeug refuses the Content-Disposition header: 400/500)."""
    try:
        got = attachments.check(name, PDF)
    except attachments.AttachmentError:
        return
    assert got.file_name.isprintable(), f"stored as {got.file_name!r}"


def test_an_attachment_with_a_line_break_in_its_name_can_still_be_downloaded(review_engine, api):
    """The same through the API: the answer is accepted (200) and the file then never downloads."""
    item = pick_last(review_engine)
    boss = bearer(review_engine, "rv-api-nl-boss", "supervisor", item["prefecture"])
    clerk = bearer(review_engine, "rv-api-nl-clerk", "hospital", item["hospital_code"])
    url = f"/api/v1/risks/{item['disposal_id']}"
    assert api.post(f"{url}/actions", headers=boss, json={
        "action": "assign", "due_on": due(9).isoformat(), "request": "说明", "note": "请说明"}).status_code == 200
    answered = api.post(f"{url}/actions", headers=clerk, json={
        "action": "respond", "cause": "c", "measures": "m",
        "attachments": [{"file_name": "整改报告\n.pdf", "content_base64": base64.b64encode(PDF).decode()}]})
    if answered.status_code == 422:  # refused with a clear message: fine
        return
    assert answered.status_code == 200, answered.text
    (attached,) = answered.json["timeline"][-1]["attachments"]
    download = api.get(f"{url}/attachments/{attached['attachment_id']}", headers=clerk)
    assert download.status_code == 200, download.text


def test_a_zip_holding_no_workbook_is_not_an_xlsx():
    """sniff calls any zip with a [Content_Types].xml and a name under xl/ an XLSX: an executable in a zip
    passes as a spreadsheet."""
    fake = xlsx_like({"[Content_Types].xml": b"<Types/>", "xl/payload.exe": EXE})
    with pytest.raises(attachments.AttachmentError):
        attachments.check("报表.xlsx", fake)


@pytest.mark.parametrize("damage", ["version", "utf8_name"])
def test_a_damaged_zip_is_an_attachment_error_not_a_crash(damage):
    """sniff catches BadZipFile only; zipfile raises NotImplementedError (a 'version needed' it does not
    know) and UnicodeDecodeError (a name flagged UTF-8 that is not) while reading the central directory —
    unhandled, so act() raises them and the API answers 500."""
    content = bytearray(xlsx_like({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}))
    central = content.find(b"PK\x01\x02")
    if damage == "version":
        content[central + 6:central + 8] = (99).to_bytes(2, "little")  # needs zip version 9.9
    else:
        flags = int.from_bytes(content[central + 8:central + 10], "little") | 0x800  # names are UTF-8
        content[central + 8:central + 10] = flags.to_bytes(2, "little")
        content[central + 46:central + 48] = b"\xc3\x28"  # not UTF-8
    with pytest.raises(attachments.AttachmentError):
        attachments.check("报表.xlsx", bytes(content))


def test_an_action_records_only_its_own_fields(review_engine):
    """act() checks and records every field it is given: a hospital's answer carrying due_on is kept in the
    answer's fields (the timeline then shows a 整改期限 the hospital "set", which the record never took);
    an assign carries a 'cause'. A field the action does not take should be refused or dropped."""
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-fields-boss", "supervisor", item["prefecture"])
    clerk = user(review_engine, "rv-fields-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    try:
        disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(5), request="说明", note="请说明",
                     cause="监管写的原因")
    except disposal.DisposalError:
        disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(5), request="说明", note="请说明")
    try:
        disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m", due_on=due(300),
                     verdict="已整改")
    except disposal.DisposalError:
        pass
    steps = {e["action"]: e["fields"] for e in events(review_engine, item["disposal_id"])}
    assert "cause" not in steps["assign"]
    assert not {"due_on", "verdict"} & set(steps.get("respond", {}))
    assert record(review_engine, item["disposal_id"])["due_on"] == due(5)


def test_the_level_follows_an_episode_whose_start_a_correction_moved_earlier(review_engine):
    """sync raises a record's level only when ``e.first_period >= d.first_period``: a data correction that
    makes the episode start earlier (the register drops the old row and adds one with the earlier first
    month) leaves the record on the old month, and its level never follows again — here red stays orange."""
    item = next(i for i in reversed(items(review_engine)) if i["level"] == "orange" and i["state"] == "open"
                and i["disposal_id"] not in _MINE)
    _MINE.add(item["disposal_id"])
    episode = open_episode(review_engine, item["hospital_code"], item["rule"])
    earlier = episode["first_period"] - pd.DateOffset(months=3)
    with review_engine.begin() as conn:
        conn.execute(sa.text("UPDATE risk_register SET first_period = :f, level = 'red', max_level = 'red' "
                             "WHERE episode_id = :e"), {"f": earlier.date(), "e": episode["episode_id"]})
    try:
        disposal.sync(review_engine)
        got = record(review_engine, item["disposal_id"])
        assert (got["level"], got["first_period"]) == ("red", earlier.date())
    finally:
        with review_engine.begin() as conn:
            conn.execute(sa.text("UPDATE risk_register SET first_period = :f, level = :l, max_level = :m "
                                 "WHERE episode_id = :e"),
                         {"f": episode["first_period"], "l": episode["level"], "m": episode["max_level"],
                          "e": episode["episode_id"]})


def test_an_escalated_item_no_longer_waits_for_the_prefecture(review_engine):
    """todo_counts counts every open/responded item in the scope for a supervisor, also those only the
    province may act on (escalated, or of a 省属 hospital) — the to-do badge shows work they cannot do.
    (reminders.due already leaves them out.)"""
    item = pick_last(review_engine)
    province = user(review_engine, "rv-todo-province", "admin", PROVINCE)
    boss = user(review_engine, "rv-todo-boss", "supervisor", item["prefecture"])
    before = disposal.todo_counts(review_engine, scope=boss.scope, role_disposal="supervise")
    disposal.act(review_engine, province, item["disposal_id"], "escalate", note="省级督办")
    with pytest.raises(disposal.Forbidden):
        disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(5), request="说明", note="x")
    after = disposal.todo_counts(review_engine, scope=boss.scope, role_disposal="supervise")
    assert after["to_assign"] == before["to_assign"] - 1


def test_an_item_raised_yesterday_is_not_yet_late_to_assign():
    """figures.summarise counts every unassigned item as not assigned in time, also one raised yesterday
    whose five working days have not run out: the share is biased down (here 1/2 instead of 1)."""
    day = pd.Timestamp("2026-06-22 10:00", tz="Asia/Shanghai")  # a Monday
    rows = [{"adcode": "C", "name": "丙市", "state": "assigned", "created_at": day - pd.Timedelta(days=7),
                 "assigned_at": day - pd.Timedelta(days=6), "responded_at": None, "closed_at": None, "due_on": date(2026, 7, 1)},
            {"adcode": "C", "name": "丙市", "state": "open", "created_at": day, "assigned_at": None, "responded_at": None,
                 "closed_at": None, "due_on": None}]
    got = figures.summarise(pd.DataFrame(rows), date(2026, 6, 23)).set_index("adcode").loc["C"]
    assert got["assigned_in_time_share"] == 1


def test_a_province_administered_county_counts_in_the_prefecture_figures(review_engine):
    """figures.by_region maps counties to regions with ``r.level = 'prefecture'``; 梅河口市 (220581), a
    county-level city under the province itself, has no such ancestor and its items vanish from the
    leadership figures (restrict.at_level treats it as a prefecture-level unit)."""
    meihekou = hospital_of(review_engine, adcode="220581")
    add_episode(review_engine, meihekou["hospital_code"], "cash_short", "2026-05-01", "orange")
    try:
        frame = disposal.list_disposals(review_engine, scope=None)
        assert (frame["adcode"] == "220581").any()
        got = figures.by_region(review_engine, scope=None)
        assert got["risks"].sum() == frame["level"].isin(["orange", "red"]).sum()
    finally:
        drop_episode(review_engine, meihekou["hospital_code"], "cash_short", "2026-05-01")


@pytest.mark.parametrize("affiliation", ["委属委管", "中央属"])
def test_a_county_does_not_supervise_a_ministry_hospital(review_engine, affiliation):
    """may_act sends only 省属 hospitals to the province: a county (or prefecture) commission may assign,
    return and close the risks of a 委属委管 or 中央属 hospital (a ministry's university hospital) — above
    the province in the hierarchy, never under a county. Pure check of may_act on such an item."""
    county = user(review_engine, "rv-ministry-county", "supervisor", "220102")
    prefecture = user(review_engine, "rv-ministry-prefecture", "supervisor", "220100")
    item = {"hospital_code": "122201021P5PAHXW3Q", "affiliation": affiliation, "escalated": False,
            "user_at_top": False}
    for who in (county, prefecture):
        assert may_act(who, item, ACTIONS["assign"]) is not None
        assert may_act(who, item, ACTIONS["close"]) is not None


# === regression tests: security and workflow properties that hold =====================================


def test_two_supervisors_assigning_at_once_make_one_assignment(review_engine):
    """The row is locked FOR UPDATE: with both waiting on the lock, one assigns and the other is told the
    item is assigned already — never two assignments."""
    item = pick_last(review_engine)
    county = user(review_engine, "rv-race-county", "supervisor", item["county"])
    prefecture = user(review_engine, "rv-race-prefecture", "supervisor", item["prefecture"])
    outcomes: list[str] = []

    def assign(who, days):
        try:
            disposal.act(review_engine, who, item["disposal_id"], "assign", due_on=due(days), request="说明",
                         note=who.username)
            outcomes.append("ok")
        except disposal.DisposalError as e:
            outcomes.append(e.code)

    with review_engine.connect() as holder:
        holder.execute(sa.text("SELECT 1 FROM risk_disposals WHERE disposal_id = :i FOR UPDATE"),
                       {"i": item["disposal_id"]})
        threads = [threading.Thread(target=assign, args=(county, 5)),
                   threading.Thread(target=assign, args=(prefecture, 9))]
        for t in threads:
            t.start()
        time.sleep(1.0)  # both are now waiting on the row
        holder.commit()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok", "wrong_state"]
    assert [e["action"] for e in events(review_engine, item["disposal_id"])].count("assign") == 1


def test_a_closed_item_whose_risk_fires_again_in_a_new_episode_reopens(review_engine):
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-again-boss", "supervisor", item["prefecture"])
    clerk = user(review_engine, "rv-again-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(5), request="说明", note="请说明")
    disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m")
    disposal.act(review_engine, boss, item["disposal_id"], "close", verdict="已整改")
    disposal.sync(review_engine)  # the same episode still open: a closed item stays closed
    assert record(review_engine, item["disposal_id"])["state"] == "closed"
    episode = open_episode(review_engine, item["hospital_code"], item["rule"])
    first = episode["first_period"]
    again = (pd.Timestamp(first) + pd.DateOffset(months=2)).date()
    with review_engine.begin() as conn:
        conn.execute(sa.text("UPDATE risk_register SET last_period = first_period, "
                             "resolved_period = CAST(first_period + interval '1 month' AS date) WHERE episode_id = :e"),
                     {"e": episode["episode_id"]})
    add_episode(review_engine, item["hospital_code"], item["rule"], again.isoformat(), "orange")
    try:
        disposal.sync(review_engine)
        disposal.sync(review_engine)  # once only
        got = record(review_engine, item["disposal_id"])
        assert got["state"] == "open" and got["verdict"] is None and got["due_on"] is None
        assert got["first_period"] == again
        steps = events(review_engine, item["disposal_id"])
        assert [e["action"] for e in steps][-4:] == ["assign", "respond", "close", "reopen"]
        assert steps[-1]["username"] is None  # by the system
        with review_engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM risk_disposals WHERE hospital_code = :h AND rule = :r"),
                                {"h": item["hospital_code"], "r": item["rule"]}).scalar() == 1
    finally:
        drop_episode(review_engine, item["hospital_code"], item["rule"], again.isoformat())
        with review_engine.begin() as conn:
            conn.execute(sa.text("UPDATE risk_register SET last_period = :l, resolved_period = NULL "
                                 "WHERE episode_id = :e"), {"l": episode["last_period"], "e": episode["episode_id"]})


def test_an_episode_a_correction_deletes_leaves_the_item_open_as_data_resolved(review_engine):
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-gone-boss", "supervisor", item["prefecture"])
    episode = open_episode(review_engine, item["hospital_code"], item["rule"])
    drop_episode(review_engine, item["hospital_code"], item["rule"], episode["first_period"].isoformat())
    try:
        (row,) = disposal.list_disposals(review_engine, scope=boss.scope,
                                         disposal_id=item["disposal_id"]).to_dict("records")
        assert row["state"] == "open" and row["data_resolved"]
        disposal.act(review_engine, boss, item["disposal_id"], "close", verdict="合理解释", note="数据更正后不再触发")
        assert record(review_engine, item["disposal_id"])["state"] == "closed"
    finally:
        restore_episode(review_engine, episode)
    disposal.sync(review_engine)  # the same episode back: the closed item stays closed
    assert record(review_engine, item["disposal_id"])["state"] == "closed"


def test_a_provincial_hospitals_risk_is_the_provinces_alone(review_engine):
    hospital = hospital_of(review_engine, affiliation="省属")
    add_episode(review_engine, hospital["hospital_code"], "cash_short", "2026-05-01", "orange")
    try:
        (item,) = disposal.list_disposals(review_engine, scope=None, hospital=hospital["hospital_code"],
                                          rule="cash_short").to_dict("records")
        prefecture = user(review_engine, "rv-prov-prefecture", "supervisor", hospital["prefecture"])
        county = user(review_engine, "rv-prov-county", "supervisor", hospital["county"])
        province = user(review_engine, "rv-prov-province", "admin", PROVINCE)
        clerk = user(review_engine, "rv-prov-clerk", "hospital", hospital["hospital_code"])
        for who in (prefecture, county):
            with pytest.raises(disposal.Forbidden, match="省属"):
                disposal.act(review_engine, who, item["disposal_id"], "assign", due_on=due(5), request="说明", note="x")
        disposal.act(review_engine, province, item["disposal_id"], "assign", due_on=due(5), request="说明", note="x")
        disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m")
        for who in (prefecture, county):
            with pytest.raises(disposal.Forbidden):
                disposal.act(review_engine, who, item["disposal_id"], "close", verdict="已整改")
        waiting = reminders.due(review_engine, today=DEMO_TODAY)
        reviewers = set(waiting[waiting["disposal_id"] == item["disposal_id"]]["assignee"])
        assert province.username in reviewers and not {prefecture.username, county.username} & reviewers
        assert disposal.list_disposals(review_engine, scope=clerk.scope)["hospital_code"].eq(
            hospital["hospital_code"]).all()
    finally:
        drop_episode(review_engine, hospital["hospital_code"], "cash_short", "2026-05-01")


def test_attachments_are_reachable_only_through_their_own_item_and_scope(review_engine, api):
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-att-boss", "supervisor", item["prefecture"])
    clerk = user(review_engine, "rv-att-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(6), request="整改方案", note="请提交")
    disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m",
                 files=[("../../etc/方案.pdf", PDF), ("C:\\temp\\图.png", PNG)])
    line = disposal.timeline(review_engine, item["disposal_id"], scope=clerk.scope)
    attached = line[line["action"] == "respond"].iloc[-1]["attachments"]
    assert [a["file_name"] for a in attached] == ["方案.pdf", "图.png"]
    aid = attached[0]["attachment_id"]
    everything = items(review_engine)
    neighbour = next(i for i in everything if i["prefecture"] == item["prefecture"]
                     and i["disposal_id"] != item["disposal_id"])
    elsewhere = next(i for i in everything if i["prefecture"] != item["prefecture"] and i["affiliation"] not in TOP
                     and i["prefecture"] != PROVINCE)
    other_hospital = next(i for i in everything if i["hospital_code"] != item["hospital_code"])
    boss_h = bearer(review_engine, "rv-att-boss", "supervisor", item["prefecture"])
    assert api.get(f"/api/v1/risks/{item['disposal_id']}/attachments/{aid}", headers=boss_h).data == PDF
    # another item's id in the path (the caller sees both): 404
    assert api.get(f"/api/v1/risks/{neighbour['disposal_id']}/attachments/{aid}", headers=boss_h).status_code == 404
    # another area's supervisor, another hospital's clerk: 404, as for an id that does not exist
    stranger = bearer(review_engine, "rv-att-stranger", "supervisor", elsewhere["county"])
    other_clerk = bearer(review_engine, "rv-att-other", "hospital", other_hospital["hospital_code"])
    for who in (stranger, other_clerk):
        assert api.get(f"/api/v1/risks/{item['disposal_id']}/attachments/{aid}", headers=who).status_code == 404
        assert api.get(f"/api/v1/risks/{item['disposal_id']}", headers=who).status_code == 404
    assert disposal.attachment(review_engine, aid, scope=elsewhere["county"]) is None
    assert disposal.attachment(review_engine, aid, scope=other_hospital["hospital_code"]) is None
    assert disposal.timeline(review_engine, item["disposal_id"], scope=other_hospital["hospital_code"]) is None


def test_another_hospital_in_the_same_county_can_neither_see_nor_answer(review_engine):
    with review_engine.connect() as conn:
        county = conn.execute(sa.text(
            "SELECT CAST(adcode AS text) FROM hospitals GROUP BY adcode HAVING count(*) > 1 ORDER BY 1 LIMIT 1")).scalar()
    frame = disposal.list_disposals(review_engine, scope=county)
    assert not frame.empty
    target = frame.iloc[-1]
    with review_engine.connect() as conn:
        neighbour = conn.execute(sa.text(
            "SELECT CAST(hospital_code AS text) FROM hospitals WHERE adcode = :c AND hospital_code <> :h "
            "ORDER BY 1 LIMIT 1"), {"c": county, "h": target["hospital_code"]}).scalar()
    clerk = user(review_engine, "rv-neighbour-" + neighbour[-4:], "hospital", neighbour)
    assert target["hospital_code"] not in set(disposal.list_disposals(review_engine, scope=clerk.scope)["hospital_code"])
    with pytest.raises(disposal.NotFound):
        disposal.act(review_engine, clerk, int(target["disposal_id"]), "respond", cause="c", measures="m")
    with pytest.raises(disposal.NotFound):
        disposal.take_up(review_engine, clerk, target["hospital_code"], target["rule"])


@pytest.mark.parametrize("name, content, ok", [
    ("方案.pdf", EXE, False),  # an .exe renamed .pdf
    ("方案.exe", PDF, False),  # a PDF named .exe
    ("方案.pdf.exe", PDF, False),
    ("图.jpg", PNG, False),  # a PNG called JPEG
    ("图.JPEG", JPEG, True),
    ("图.png", PNG, True),
    ("空.pdf", b"", False),
    ("", PDF, False),
    ("dir/", PDF, False),
    ("报告.docx", xlsx_like({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}), False),
    ("报告.xlsx", xlsx_like({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}), False),
    ("报表.xlsx", xlsx_like({"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<r/>",
                            "xl/workbook.xml": b"<workbook/>"}), True),
    ("报表.xlsx", b"PK\x03\x04" + b"\x00" * 100, False),  # a zip header and nothing behind it
    ("page.html", b"<html><script>alert(1)</script>", False),
])
def test_attachments_are_typed_by_content(name, content, ok):
    if ok:
        assert attachments.check(name, content).media_type in attachments.EXTENSIONS
    else:
        with pytest.raises(attachments.AttachmentError):
            attachments.check(name, content)


def test_attachment_limits_are_exact():
    at_limit = PDF + b"0" * (attachments.MAX_BYTES - len(PDF))
    assert len(attachments.check("满.pdf", at_limit).content) == attachments.MAX_BYTES
    with pytest.raises(attachments.AttachmentError, match="超过"):
        attachments.check("大.pdf", at_limit + b"0")
    assert len(attachments.check_all([(f"{n}.pdf", PDF) for n in range(attachments.MAX_FILES)])) == 5
    with pytest.raises(attachments.AttachmentError, match="最多"):
        attachments.check_all([(f"{n}.pdf", PDF) for n in range(attachments.MAX_FILES + 1)])


def test_deadlines_on_the_china_calendar(review_engine, monkeypatch):
    """Due today is allowed, yesterday is not, at most a year ahead — and "today" is China's day: at 20:00
    UTC on the 23rd it is already the 24th in China."""
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-dates-boss", "supervisor", item["prefecture"])
    clerk = user(review_engine, "rv-dates-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-23T20:00:00+00:00")
    china_today = date(2026, 6, 24)
    before = events(review_engine, item["disposal_id"])
    for day, code in ((date(2026, 6, 23), "date_in_past"), (china_today + timedelta(days=367), "date_too_far"),
                      ("2026-13-01", "bad_date"), ("'; DROP TABLE risk_disposals; --", "bad_date")):
        with pytest.raises(disposal.DisposalError) as refused:
            disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=day, request="说明", note="x")
        assert refused.value.code == code
    assert events(review_engine, item["disposal_id"]) == before
    disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=china_today, request="说明", note="今日内")
    disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m",
                 expected_on=china_today + timedelta(days=366))
    assert record(review_engine, item["disposal_id"])["due_on"] == china_today


def test_filters_are_bound_parameters(review_engine):
    everything = disposal.list_disposals(review_engine, scope=None)
    for key in ("state", "rule", "level", "hospital"):
        got = disposal.list_disposals(review_engine, scope=None, **{key: "x' OR '1'='1"})
        assert got.empty, key
    with pytest.raises(ValueError):
        disposal.list_disposals(review_engine, scope=None, region="220000' OR '1'='1")
    with pytest.raises(ValueError):
        disposal.list_disposals(review_engine, scope="220102' OR '1'='1")
    assert len(disposal.list_disposals(review_engine, scope=None)) == len(everything)


def test_every_step_is_kept_and_audited_with_its_actor_and_a_closed_item_refuses_all_but_reopen(review_engine):
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-audit-boss", "supervisor", item["prefecture"])
    county = user(review_engine, "rv-audit-county", "supervisor", item["county"])
    clerk = user(review_engine, "rv-audit-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    province = user(review_engine, "rv-audit-province", "admin", PROVINCE)
    steps = [(boss, "assign", {"due_on": due(8), "request": "整改方案", "note": "请提交整改方案"}),
             (clerk, "respond", {"cause": "原因一", "measures": "措施一", "files": [("方案.pdf", PDF)]}),
             (county, "return", {"note": "不具体"}),
             (clerk, "respond", {"cause": "原因二", "measures": "措施二"}),
             (boss, "close", {"verdict": "持续跟踪", "note": "继续跟踪"})]
    for who, action, fields in steps:
        disposal.act(review_engine, who, item["disposal_id"], action, address="10.0.0.7", **fields)
    kept = events(review_engine, item["disposal_id"])[1:]
    assert [(e["username"], e["action"]) for e in kept] == [(w.username, a) for w, a, _ in steps]
    assert [e["fields"].get("cause") for e in kept if e["action"] == "respond"] == ["原因一", "原因二"]  # not overwritten
    logged = audit.search(review_engine, action="disposal.", limit=5000)
    mine = logged[logged["object"] == str(item["disposal_id"])].sort_values("audit_id")
    assert [(u, a) for u, a in zip(mine["username"], mine["action"])] == [
        (w.username, f"disposal.{a}") for w, a, _ in steps]
    assert set(mine["address"]) == {"10.0.0.7"}
    # closed: everything but reopen is refused, and nothing changes
    before = (record(review_engine, item["disposal_id"]), len(events(review_engine, item["disposal_id"])))
    for who, action, fields in [(boss, "close", {"verdict": "已整改"}), (clerk, "respond", {"cause": "c", "measures": "m"}),
                                (boss, "return", {"note": "x"}), (province, "escalate", {"note": "x"}),
                                (boss, "assign", {"due_on": due(3), "request": "说明", "note": "x"})]:
        with pytest.raises(disposal.DisposalError) as refused:
            disposal.act(review_engine, who, item["disposal_id"], action, **fields)
        assert refused.value.code == "wrong_state", (action, refused.value.message)
    assert (record(review_engine, item["disposal_id"]), len(events(review_engine, item["disposal_id"]))) == before
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), review_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM risk_disposal_events WHERE disposal_id = :i"), {"i": item["disposal_id"]})


def test_reminders_leave_out_disabled_users(review_engine):
    item = pick_last(review_engine)
    boss = user(review_engine, "rv-remind-boss", "supervisor", item["prefecture"])
    gone_boss = user(review_engine, "rv-remind-gone-boss", "supervisor", item["prefecture"])
    clerk = user(review_engine, "rv-remind-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    gone = user(review_engine, "rv-remind-gone-" + item["hospital_code"][-4:], "hospital", item["hospital_code"])
    users.set_disabled(review_engine, gone.username)
    users.set_disabled(review_engine, gone_boss.username)
    disposal.act(review_engine, boss, item["disposal_id"], "assign", due_on=due(2), request="说明", note="请说明")
    waiting = reminders.due(review_engine, today=DEMO_TODAY)
    mine = waiting[waiting["disposal_id"] == item["disposal_id"]]
    assert clerk.username in set(mine["assignee"]) and gone.username not in set(mine["assignee"])
    assert set(mine["role"]) == {"hospital"}
    disposal.act(review_engine, clerk, item["disposal_id"], "respond", cause="c", measures="m")
    waiting = reminders.due(review_engine, today=DEMO_TODAY)
    mine = waiting[waiting["disposal_id"] == item["disposal_id"]]
    assert boss.username in set(mine["assignee"]) and gone_boss.username not in set(mine["assignee"])
    assert set(mine["role"]) == {"supervisor"}
