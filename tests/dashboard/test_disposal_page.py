"""The 风险处置 page: the list in the user's scope, a step taken through the page's callbacks (its outcome in the
history), a refused step changing nothing, the 督办清单 download; the 待办 panel, the hospital profile's table and
the risk page's figures.

Callbacks are called as functions in a signed-in request context, on a writable demo of this module's own
(40 hospitals × 14 months, so that the 12-month rules fire and orange and red risks exist).
"""

from __future__ import annotations

import base64
import io
from contextvars import copy_context
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa
from conftest import find, make_user, signed_in, text
from dash._callback_context import context_value
from dash._utils import AttributeDict

from opsmon import disposal as lib
from opsmon import periods
from opsmon.access import audit, roles
from opsmon.dashboard import todo
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import disposal, hospital, overview, risk
from opsmon.sql import db
from tests.conftest import DEMO_TODAY, writable_demo

ZH = {"lang": "zh"}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(scope="module")
def db_url(databases, template_db, tmp_path_factory) -> str:
    """A demo of this module's own: its tests take steps (the session's demo is read-only)."""
    return writable_demo(databases, template_db, tmp_path_factory, "disposal-demo", seed=5)


@pytest.fixture(scope="module")
def engine(db_url):
    eng = db.create_engine(db_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def app(engine):
    return create_app(engine)


@pytest.fixture(scope="module")
def all_items(engine):
    """Every item (as the library lists them, on the demo's day), made by the first read."""
    frame = lib.list_disposals(engine, scope=None, today=DEMO_TODAY)
    assert len(frame) > 5, "the demo must have orange and red risks"
    return frame


def pick(items, used: set[int], affiliations=("县属", "市属")) -> dict:
    """An item of a 县属/市属 hospital (a county's supervisor may act on it) not used by another test yet."""
    row = next(r for r in items.to_dict("records") if r["affiliation"] in affiliations
               and r["disposal_id"] not in used)
    used.add(row["disposal_id"])
    return row


@pytest.fixture(scope="module")
def used() -> set[int]:
    return set()


def clicked(prop_id: str, fn, *args):
    """Run callback *fn* as if the input *prop_id* ('id.prop', or a pattern id's JSON) had been clicked."""
    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return fn(*args)
    return copy_context().run(run)


def submit(action: str) -> str:
    return f'{{"action":"{action}","type":"disposal-submit"}}.n_clicks'


def fields(action: str, **values) -> tuple[list[dict], list]:
    """The pattern-matched (ids, values) a form sends."""
    ids = [disposal.field_id(action, name) for name in values]
    return ids, list(values.values())


def take(action: str, item_id: int, *, contents=None, names=None, **values):
    """Ask (the form's button), then confirm (the dialog's button), as the page does: (ask's answer, confirm's)."""
    ids, vals = fields(action, **values)
    asked = clicked(submit(action), disposal.ask, [1], None, str(item_id), ids, vals, ZH)
    if not asked[0]:
        return asked, None
    done = clicked("disposal-confirm.n_clicks", disposal.confirm, 1, asked[2], ids, vals,
                   [contents] if contents else [], [names] if names else [], 0, ZH)
    return asked, done


def state_of(engine, item_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT state FROM risk_disposals WHERE disposal_id = :i"), {"i": item_id}).scalar()


def events_of(engine, item_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT action FROM risk_disposal_events WHERE disposal_id = :i "
                                         "ORDER BY event_id"), {"i": item_id}).scalars())



def users(engine, item: dict) -> tuple[str, str]:
    """(the item's county supervisor, its hospital's user), made for it."""
    code = item["hospital_code"].strip()
    return (make_user(engine, f"sup-{item['adcode']}", "supervisor", item["adcode"]),
            make_user(engine, f"hosp-{code[-6:]}", "hospital", code))


# ----------------------------------------------------------------------------------------- who sees what
def test_every_role_may_open_the_page_which_is_why_it_needs_no_permission():
    # permission=None relies on this: a role with neither would need a permission on the page.
    assert all(r.disposal in ("supervise", "respond") or r.view_regions for r in roles.ROLES.values())
    assert disposal.PAGE.permission is None


def test_the_list_holds_only_the_users_scope(app, engine, all_items):
    item = all_items[all_items["affiliation"] == "县属"].iloc[0].to_dict()
    supervisor, hospital_user = users(engine, item)
    with signed_in(app, engine, "demo-admin"):
        everything = find(disposal.layout(lang="zh"), "disposal-grid").rowData
    assert sorted(r["disposal_id"] for r in everything) == sorted(all_items["disposal_id"])
    with signed_in(app, engine, supervisor):
        page = disposal.layout(lang="zh")
        county = find(page, "disposal-grid").rowData
    assert len({r["county"] for r in county}) == 1
    assert sorted(r["disposal_id"] for r in county) == sorted(
        all_items.loc[all_items["adcode"] == item["adcode"], "disposal_id"])
    with signed_in(app, engine, hospital_user):
        own = find(disposal.layout(lang="zh"), "disposal-grid").rowData
        # Another hospital's item, asked for by id: not found, as if it did not exist.
        other = all_items[all_items["hospital_code"] != item["hospital_code"]].iloc[0]
        page = disposal.layout(id=str(other["disposal_id"]))
        assert find(page, "disposal-not-found") is not None and find(page, "disposal-form-respond") is None
    assert {r["hospital_name"] for r in own} == {item["hospital_name"]}
    assert len(own) == int((all_items["hospital_code"] == item["hospital_code"]).sum())


def test_filters_narrow_the_list_overdue_first(app, engine, all_items):
    with signed_in(app, engine, "demo-admin"):
        red, _title = disposal.update_list([], None, "red", None, False, 0, ZH)
        open_, title = disposal.update_list(["open"], None, None, None, False, 0, ZH)
        overdue, _ = disposal.update_list([], None, None, None, True, 0, ZH)
    assert red and {r["level"] for r in red} == {"red"}
    assert {r["status"] for r in open_} == {"open"} and title == f"处置清单（{len(open_)}）"
    assert all(r["status"] == "overdue" for r in overdue)


def test_a_leader_only_looks(app, engine, all_items):
    item_id = int(all_items.iloc[0]["disposal_id"])
    with signed_in(app, engine, make_user(engine, "leader-1", "leader", "220000")):
        page = disposal.layout(id=str(item_id))
    assert find(page, "disposal-facts") is not None
    assert find(page, "disposal-no-actions").children == "您的账号只能查看处置情况。"
    assert find(page, "disposal-xlsx") is None  # a leader may not export


# ----------------------------------------------------------------------------------------- steps
def test_a_step_through_the_page_changes_the_state_and_shows_in_the_history(app, engine, all_items, used):
    item = pick(all_items, used)
    item_id = int(item["disposal_id"])
    supervisor, hospital_user = users(engine, item)
    due = (DEMO_TODAY + timedelta(days=14)).isoformat()
    with signed_in(app, engine, supervisor):
        _facts, actions = disposal.detail(str(item_id))
        assert find(actions, "disposal-form-assign") is not None and find(actions, "disposal-form-respond") is None
        asked, done = take("assign", item_id, due_on=due, request="整改方案", note="请于两周内报送整改方案")
        assert asked[0] is True and "交办" in asked[1] and asked[2] == {"action": "assign", "id": str(item_id)}
        alert, is_open, refresh = done
        assert alert.color == "success" and "当前状态：已交办" in alert.children and is_open is False and refresh == 1
        facts, actions = disposal.update_detail(str(item_id), refresh, ZH)
        assert find(facts, "disposal-status").children == "已交办"
        assert "请于两周内报送整改方案" in text(find(facts, "disposal-timeline")) and due in text(facts)
        # Waiting for the hospital: nothing for the supervisor to do (closing needs an answer, or the data).
        assert find(actions, "disposal-no-actions").children == "该事项当前没有您可以办理的操作。"
    assert state_of(engine, item_id) == "assigned"

    with signed_in(app, engine, hospital_user):
        contents = ["data:application/pdf;base64," + base64.b64encode(PDF).decode()]
        _asked, (alert, _open, _refresh) = take("respond", item_id, contents=contents, names=["整改方案.pdf"],
                                                cause="收入下降", measures="压缩开支")
        assert alert.color == "success", alert.children
        facts, _actions = disposal.update_detail(str(item_id), 1, ZH)
        [button] = [b for b in _walk(facts) if isinstance(getattr(b, "id", None), dict)
                    and b.id.get("type") == "disposal-attachment"]
        assert button.children.startswith("整改方案.pdf")
        sent = clicked(f'{{"id":{button.id["id"]},"type":"disposal-attachment"}}.n_clicks',
                       disposal.send_attachment, [1], ZH)
    assert base64.b64decode(sent["content"]) == PDF and sent["filename"] == "整改方案.pdf"
    assert state_of(engine, item_id) == "responded"
    assert events_of(engine, item_id) == ["create", "assign", "respond"]
    assert [e.action for e in audit.search(engine, text=None, action="disposal.").itertuples()
            if e.object == str(item_id)] == ["disposal.respond", "disposal.assign"]


def _walk(component):
    """Every component in a tree."""
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            yield from _walk(child)


def test_a_refused_step_shows_the_reason_and_changes_nothing(app, engine, all_items, used):
    item = pick(all_items, used)
    item_id = int(item["disposal_id"])
    supervisor, _hospital_user = users(engine, item)
    yesterday = (DEMO_TODAY - timedelta(days=1)).isoformat()
    with signed_in(app, engine, supervisor):
        # A deadline in the past: the library's message, nothing stored.
        _asked, (alert, is_open, refresh) = take("assign", item_id, due_on=yesterday, request="说明", note="x")
        assert alert.color == "danger" and alert.children == f"未办理：整改期限 {yesterday} 已过"
        assert is_open is False and refresh is disposal.no_update
        # A required field left empty: said before the dialog opens.
        asked, done = take("assign", item_id, due_on=(DEMO_TODAY + timedelta(days=7)).isoformat())
        assert asked[0] is False and asked[3].children == "请填写：要求事项、说明" and done is None
        # A step this role may not take (a crafted call: the page offers no such form) is refused by the server.
        _asked, (alert, _open, _refresh) = take("respond", item_id, cause="a", measures="b")
        assert alert.color == "danger" and "角色不能答复" in alert.children
    assert state_of(engine, item_id) == "open" and events_of(engine, item_id) == ["create"]
    assert not [e for e in audit.search(engine, action="disposal.").itertuples() if e.object == str(item_id)]


def test_another_countys_supervisor_cannot_act_on_the_item(app, engine, all_items, used):
    item = pick(all_items, used)
    other = next(a for a in all_items["adcode"] if a != item["adcode"])
    with signed_in(app, engine, make_user(engine, f"sup-{other}", "supervisor", other)):
        # The id is sent as the page would (a crafted request: the list never showed it).
        pending = {"action": "assign", "id": str(item["disposal_id"])}
        ids, vals = fields("assign", due_on=(DEMO_TODAY + timedelta(days=7)).isoformat(), request="说明", note="x")
        alert, _open, _refresh = clicked("disposal-confirm.n_clicks", disposal.confirm, 1, pending, ids, vals,
                                         [], [], 0, ZH)
    assert alert.color == "danger" and "不在您的权限范围内" in alert.children
    assert state_of(engine, int(item["disposal_id"])) == "open"


def test_form_values_take_only_the_forms_own_text_fields():
    ids = [disposal.field_id("assign", "due_on"), disposal.field_id("assign", "address"),
           disposal.field_id("respond", "cause"), {"type": "disposal-field", "action": "assign", "name": "files"},
           disposal.field_id("assign", "note")]
    values = ["2026-07-01", "1.2.3.4", "x", "evil", {"not": "text"}]
    assert disposal.form_values("assign", ids, values) == {"due_on": "2026-07-01"}


# ----------------------------------------------------------------------------------------- 督办清单
def test_the_supervision_list_is_an_xlsx_of_the_filtered_rows(app, engine, all_items):
    region = all_items["adcode"].iloc[0][:4] + "00"  # the first item's prefecture
    with signed_in(app, engine, "demo-admin"):
        shown, _title = disposal.update_list([], None, "orange", region, False, 0, ZH)
        sent = disposal.download(1, [], None, "orange", region, False, ZH)
    assert shown
    book = openpyxl.load_workbook(io.BytesIO(base64.b64decode(sent["content"])))
    sheet = book.worksheets[0]
    assert sheet["A1"].value.startswith("督办清单（")
    header = [cell.value for cell in sheet[4]]
    assert header[:2] == ["医院", "机构代码"] and "逾期天数" in header and "整改期限" in header
    body = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=5) if row[0].value]
    assert [(r[0], r[6]) for r in body] == [(r["hospital_name"], r["status_text"]) for r in shown]
    codes = all_items.set_index("disposal_id").loc[[r["disposal_id"] for r in shown], "hospital_code"]
    assert [r[1] for r in body] == [c.strip() for c in codes]
    assert {r[5] for r in body} == {"橙色"}
    exports = audit.search(engine, action="export", username="demo-admin")
    assert exports.iloc[0]["object"] == sent["filename"] and f'"rows": {len(shown)}' in exports.iloc[0]["details"]


# ----------------------------------------------------------------------------------------- elsewhere
def test_the_todo_panel_counts_what_waits_and_links_to_it(app, engine, all_items, used):
    item = pick(all_items, used)
    supervisor, hospital_user = users(engine, item)
    with signed_in(app, engine, supervisor):
        counts = lib.todo_counts(engine, scope=item["adcode"], role_disposal="supervise")
        page = overview.layout()
        card = find(page, "overview-todo-to_assign")
        assert card.children == str(counts["to_assign"])
        assert find(page, "overview-todo-to_answer") is None  # a supervisor answers nothing
        assert todo.href("to_answer") == "/disposal?state=assigned,returned"
        assert disposal.PAGE.read({"state": "assigned,returned", "overdue": "1"})["state"] == ["assigned", "returned"]
    with signed_in(app, engine, hospital_user):
        page = hospital.layout(code=item["hospital_code"].strip())
        assert find(page, "hospital-todo-to_answer") is not None and find(page, "hospital-todo-to_assign") is None
        grid = find(page, "hospital-disposal-grid")
        ids = sorted(int(r["href"].split("id=")[1]) for r in grid.rowData)
    assert ids == sorted(all_items.loc[all_items["hospital_code"] == item["hospital_code"], "disposal_id"])
    with signed_in(app, engine, "demo-admin"):  # an administrator visiting the hospital: no 待办 of its own there
        page = hospital.layout(code=item["hospital_code"].strip())
        assert find(page, "hospital-todo") is None and find(page, "hospital-disposal-grid") is not None


def test_the_risk_page_shows_the_figures_by_region(app, engine, all_items):
    with signed_in(app, engine, "demo-admin"):
        page = risk.layout()
        grid = find(page, "risk-figures-grid")
        chart = find(page, "risk-figures-chart")
    expected = lib.figures.by_region(engine, scope="220000", today=periods.today())
    assert [r["name"] for r in grid.rowData] == list(expected["name"])
    assert [r["risks"] for r in grid.rowData] == list(expected["risks"])
    assert [trace.name for trace in chart.figure.data] == ["5个工作日内交办", "按期答复", "已办结"]


def test_the_figures_follow_a_changed_record(app, engine, all_items):
    def total() -> int:
        with signed_in(app, engine, "demo-admin"):
            return sum(r["risks"] for r in find(risk.layout(), "risk-figures-grid").rowData)

    before = total()  # memoised from here on (risk._figures) …
    item = all_items[all_items["level"].isin(["orange", "red"])].iloc[0]
    change = "UPDATE risk_disposals SET level = :l, updated_at = now() WHERE disposal_id = :d"
    with engine.begin() as conn:
        conn.execute(sa.text(change), {"l": "yellow", "d": int(item["disposal_id"])})
    try:
        assert total() == before - 1  # … until a record changes: a yellow item is not among the figures
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(change), {"l": item["level"], "d": int(item["disposal_id"])})
    assert total() == before
