"""Risk disposal through the API: the same round trip as the 风险处置 page, scoped the same way."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
import sqlalchemy as sa

from opsmon import disposal
from opsmon.access import audit
from tests.api.conftest import make_caller
from tests.conftest import DEMO_TODAY

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def item(api_engine) -> dict:
    """An open orange or red item of a 市属 or 县属 hospital, with its county and prefecture."""
    frame = disposal.list_disposals(api_engine, scope=None)
    frame = frame[(frame["state"] == "open") & (frame["affiliation"] != "省属")]
    assert not frame.empty, "the API demo must raise orange/red risks"
    chosen = frame.iloc[-1].to_dict()
    with api_engine.connect() as conn:
        chosen["prefecture"] = conn.execute(sa.text("SELECT parent_adcode FROM regions WHERE adcode = :a"),
                                            {"a": chosen["adcode"]}).scalar()
    return chosen


def test_the_disposal_round_trip_through_the_api(api_url, api_engine, item):
    boss = make_caller(api_engine, "api-disp-boss", "supervisor", item["prefecture"])
    clerk = make_caller(api_engine, "api-disp-clerk", "hospital", item["hospital_code"])
    url = f"{api_url}/api/v1/risks/{item['disposal_id']}"

    listed = clerk.http.get(f"{api_url}/api/v1/risks").json()["items"]
    mine = [r for r in listed if r["disposal"] and r["disposal"]["disposal_id"] == item["disposal_id"]]
    assert mine and mine[0]["disposal"]["state"] == "open"

    due = (DEMO_TODAY + timedelta(days=10)).isoformat()
    steps = [
        (boss, {"action": "assign", "due_on": due, "request": "整改方案", "note": "请提交整改方案"}, "assigned"),
        (clerk, {"action": "respond", "cause": "应收医保款滞后", "measures": "按月对账",
                 "attachments": [{"file_name": "方案.pdf", "content_base64": base64.b64encode(PDF).decode()}]},
         "responded"),
        (boss, {"action": "return", "note": "请细化到月"}, "returned"),
        (clerk, {"action": "respond", "cause": "应收医保款滞后", "measures": "按月对账，逐月销号"}, "responded"),
        (boss, {"action": "close", "verdict": "已整改"}, "closed"),
    ]
    for who, body, state in steps:
        got = who.http.post(f"{url}/actions", json=body)
        assert got.status_code == 200, got.text
        assert got.json()["state"] == state
    detail = clerk.http.get(url).json()
    assert [e["action"] for e in detail["timeline"]][-5:] == ["assign", "respond", "return", "respond", "close"]
    (attached,) = detail["timeline"][-4]["attachments"]
    download = clerk.http.get(f"{url}/attachments/{attached['attachment_id']}")
    assert download.status_code == 200 and download.content == PDF
    logged = audit.search(api_engine, action="disposal.")
    assert (logged["object"] == str(item["disposal_id"])).sum() == 5


def test_other_hospitals_and_counties_get_404_and_the_wrong_role_403(api_url, api_engine, item):
    frame = disposal.list_disposals(api_engine, scope=None)
    other = frame[frame["hospital_code"] != item["hospital_code"]].iloc[0]
    clerk = make_caller(api_engine, "api-disp-clerk2", "hospital", item["hospital_code"])
    foreign = clerk.http.get(f"{api_url}/api/v1/risks/{int(other['disposal_id'])}")
    absent = clerk.http.get(f"{api_url}/api/v1/risks/99999999")
    assert foreign.status_code == absent.status_code == 404
    refused = clerk.http.post(f"{api_url}/api/v1/risks/{int(other['disposal_id'])}/actions",
                              json={"action": "respond", "cause": "c", "measures": "m"})
    assert refused.status_code == 404
    leader = make_caller(api_engine, "api-disp-leader", "leader", "220000")
    got = leader.http.post(f"{api_url}/api/v1/risks/{item['disposal_id']}/actions",
                           json={"action": "reopen", "note": "x"})
    assert got.status_code == 403 and got.json()["type"] == "urn:opsmon:problem:forbidden"


@pytest.mark.parametrize("body, words", [
    ({"action": "assign", "due_on": "2020-01-01", "request": "说明", "note": "x"}, "已过"),
    ({"action": "fly"}, "action"),
])
def test_a_refused_action_is_a_problem_and_changes_nothing(api_url, api_engine, body, words):
    frame = disposal.list_disposals(api_engine, scope=None)
    target = frame[(frame["state"] == "open") & (frame["affiliation"] != "省属")].iloc[0]
    province = make_caller(api_engine, "api-disp-province", "admin", "220000")
    before = disposal.timeline(api_engine, int(target["disposal_id"]), scope=None)
    got = province.http.post(f"{api_url}/api/v1/risks/{int(target['disposal_id'])}/actions", json=body)
    assert got.status_code in (400, 422)
    assert words in got.json()["detail"]
    assert len(disposal.timeline(api_engine, int(target["disposal_id"]), scope=None)) == len(before)
