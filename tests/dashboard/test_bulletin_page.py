"""The 通报 page through its callbacks, on the session's read-only demo (its clock on 2026-06-23: May is the
latest closed month): the preview holds the document's title, section headings and charts; the period and region
controls; a hospital user cannot open the page nor call its callbacks; a supervisor's hand-edited region outside
their scope shows the library's "unknown region" message and nothing else; the DOCX download is the document
(its first paragraph the title) and leaves an export row in the audit log.
"""

from __future__ import annotations

import base64
import io
import time
from contextvars import copy_context

import docx
import flask
import pytest
import sqlalchemy as sa
from conftest import find, signed_in
from dash._callback_context import context_value
from dash._utils import AttributeDict

from opsmon.access.users import get_user, open_session
from opsmon.dashboard import cache
from opsmon.dashboard.app import PAGES, create_app
from opsmon.dashboard.page import callback_guard
from opsmon.dashboard.pages import bulletin

ZH = {"lang": "zh"}
PERIOD = "2026-05"  # the latest closed month on the demo's day
HEADINGS = ["一、填报情况", "二、主要指标", "三、地区比较", "四、风险监测", "五、下一步工作"]
UNKNOWN = "未知地区或不在权限范围内：220200（unknown region '220200', or outside your scope）"


@pytest.fixture(scope="module")
def app(demo_engine):
    return create_app(demo_engine)


@pytest.fixture(autouse=True)
def fresh_cache(app):
    with app.server.app_context():
        cache.clear()


def text(component) -> str:
    if component is None or isinstance(component, (str, int, float)):
        return "" if component is None else str(component)
    if isinstance(component, (list, tuple)):
        return "".join(text(c) for c in component)
    return text(getattr(component, "children", None))


def walk(component):
    """Every component in a tree."""
    if isinstance(component, (list, tuple)):
        for c in component:
            yield from walk(c)
        return
    if component is None or isinstance(component, (str, int, float)):
        return
    yield component
    yield from walk(getattr(component, "children", None))


def clicked(prop_id: str, fn, *args):
    def run():
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": prop_id, "value": 1}]))
        return fn(*args)
    return copy_context().run(run)


def test_the_page_opens_on_the_latest_closed_month_and_the_users_region(app, demo_engine):
    with signed_in(app, demo_engine, "demo-supervisor"):
        page = bulletin.layout()
        assert find(page, "bulletin-period").value == PERIOD
        assert set(o["value"] for o in find(page, "bulletin-period").options) <= {
            p for p in bulletin.closed_periods()} and max(bulletin.closed_periods()) == PERIOD
        region = find(page, "bulletin-region")
        assert region.value == "220100"
        codes = [o["value"] for o in region.options]
        assert codes[0] == "220100" and "220000" not in codes and "220200" not in codes  # the scope only
        assert bulletin.PAGE.params(bulletin.PAGE.read({})) == {"period": PERIOD, "region": "220100"}
        english = bulletin.layout(lang="en")
        assert find(english, "bulletin-docx").children == "Word (DOCX)" and "Monthly bulletin" in str(english)
    with signed_in(app, demo_engine, "demo-admin"):
        page = bulletin.layout(period="2026-06")  # June is being collected: not offered, May instead
        assert find(page, "bulletin-period").value == PERIOD
        assert "2026-06" not in [o["value"] for o in find(page, "bulletin-period").options]
        assert find(page, "bulletin-region").value == "220000"  # the province for the province's users


def test_the_preview_holds_the_title_the_headings_and_the_charts(app, demo_engine):
    with signed_in(app, demo_engine, "demo-supervisor"):
        sheet, docx_locked, pdf_locked = bulletin.preview(PERIOD, "220100", ZH)
    assert (docx_locked, pdf_locked) == (False, False)
    assert sheet.id == "bulletin-sheet"
    parts = list(walk(sheet))
    titles = [c for c in parts if c.__class__.__name__ == "H1"]
    assert [text(h) for h in titles] == ["长春市公立医院经济运行分析通报（2026年5月）"]
    assert [text(c) for c in parts if c.__class__.__name__ == "H2"] == HEADINGS
    assert "长春市卫生健康委员会" in text(sheet)  # the subtitle: the issuer
    images = [c for c in parts if c.__class__.__name__ == "Img"]
    assert len(images) >= 2  # the monthly trend, the ranking (and the map)
    for img in images:
        assert img.src.startswith("data:image/png;base64,")
        assert base64.b64decode(img.src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert [c for c in parts if c.__class__.__name__ == "Table"]  # tables as printed tables, not grids
    assert not [c for c in parts if "AgGrid" in c.__class__.__name__]
    captions = [text(c) for c in parts if c.__class__.__name__ == "Figcaption"]
    assert captions and all(c.startswith("图") for c in captions)


def test_a_hospital_user_cannot_open_the_page_nor_call_it(app, demo_engine):
    with signed_in(app, demo_engine, "demo-hospital"):
        assert find(bulletin.layout(), "not-permitted") is not None
        assert not bulletin.PAGE.may_open()
    # The page's callbacks answer 403 (the guard of every page callback).
    user = get_user(demo_engine, "demo-hospital")
    body = {"output": "..bulletin-preview.children...bulletin-docx.disabled...bulletin-pdf.disabled..",
            "inputs": [{"id": "bulletin-period", "property": "value", "value": PERIOD},
                       {"id": "bulletin-region", "property": "value", "value": "220100"}]}
    with app.server.test_request_context("/_dash-update-component", method="POST", json=body):
        flask.session.update(user={"email": user.username, "groups": [user.role]}, token=user.session_token,
                             sid=open_session(demo_engine, user.username), since=time.time())
        with pytest.raises(PermissionError):
            callback_guard(PAGES)()


def test_a_region_outside_the_scope_shows_the_librarys_message_and_nothing_else(app, demo_engine):
    with signed_in(app, demo_engine, "demo-supervisor"):
        page = bulletin.layout(period=PERIOD, region="220200")  # 吉林市: hand-edited into the URL
        region = find(page, "bulletin-region")
        assert region.value == "220200"  # kept as asked, its name not shown
        assert "吉林市" not in str(page)
        shown, docx_locked, pdf_locked = bulletin.preview(PERIOD, "220200", ZH)
        assert shown.id == "bulletin-alert" and shown.color == "danger"
        assert text(shown) == UNKNOWN
        assert (docx_locked, pdf_locked) == (True, True)
        # A code that does not exist: the very same message (nothing tells the two apart).
        missing, *_ = bulletin.preview(PERIOD, "229999", ZH)
        assert text(missing) == UNKNOWN.replace("220200", "229999")
        # A download forced anyway sends nothing and says the same.
        sent, message = clicked("bulletin-docx.n_clicks", bulletin.download, 1, None, PERIOD, "220200", ZH)
        assert sent is None and text(message) == UNKNOWN


def test_the_docx_download_is_the_document_and_is_audited(app, demo_engine):
    with demo_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT coalesce(max(audit_id), 0) FROM audit_log")).scalar_one()
    with signed_in(app, demo_engine, "demo-supervisor"):
        sent, message = clicked("bulletin-docx.n_clicks", bulletin.download, 1, None, PERIOD, "220100", ZH)
    assert message is None
    assert sent["filename"] == "经济运行分析通报_220100_2026-05.docx"
    content = base64.b64decode(sent["content"]) if sent.get("base64") else sent["content"].encode()
    paragraphs = [p.text for p in docx.Document(io.BytesIO(content)).paragraphs if p.text.strip()]
    assert paragraphs[0] == "长春市公立医院经济运行分析通报（2026年5月）"
    assert set(HEADINGS) <= set(paragraphs)
    with demo_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT action, username, object, details FROM audit_log WHERE audit_id > :id AND action = 'export' "
            "ORDER BY audit_id"), {"id": before}).all()
    assert [(r.action, r.username, r.object) for r in rows] == [
        ("export", "demo-supervisor", "经济运行分析通报_220100_2026-05.docx")]
    assert {k: rows[0].details[k] for k in ("kind", "period", "region", "format")} == {
        "kind": "bulletin", "period": PERIOD, "region": "220100", "format": "docx"}


def test_a_leader_reads_the_preview_and_takes_the_pdf_away(app, demo_engine):
    with signed_in(app, demo_engine, "demo-leader"):
        sheet, docx_locked, pdf_locked = bulletin.preview(PERIOD, "220000", ZH)
        assert text(sheet).startswith("吉林省公立医院经济运行分析通报（2026年5月）")
        assert (docx_locked, pdf_locked) == (False, False)  # a document to print, not a data export
        sent, message = clicked("bulletin-pdf.n_clicks", bulletin.download, None, 1, PERIOD, "220000", ZH)
    assert message is None and sent["filename"].endswith(".pdf")
    assert base64.b64decode(sent["content"])[:5] == b"%PDF-"