"""The acceptance scenario of 风险处置 in a real browser: a county supervisor assigns a red or orange risk, the
hospital answers with a PDF, the supervisor returns it, the hospital answers again, the supervisor closes it —
each step's state in the database and in the audit log — and another county's supervisor never sees the item.

On a writable demo of its own (40 hospitals × 14 months) served by ``opsmon serve`` on the demo's day.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import make_user, serve, sign_in
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from test_pages_browser import full_page_screenshot, settled, wait_css, wait_until

from opsmon import disposal
from opsmon.access import audit
from opsmon.sql import db
from tests.conftest import DEMO_TODAY, writable_demo

pytestmark = pytest.mark.browser
PASSWORD = "test-password-1"


@pytest.fixture(scope="module")
def db_url(databases, template_db, tmp_path_factory) -> str:
    return writable_demo(databases, template_db, tmp_path_factory, "disposal-browser", seed=5)


@pytest.fixture(scope="module")
def engine(db_url):
    eng = db.create_engine(db_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def server(db_url, tmp_path_factory):
    with serve(db_url, tmp_path_factory.mktemp("disposal-serve"), OPSMON_TODAY=DEMO_TODAY.isoformat()) as url:
        yield url


def tiny_pdf() -> bytes:
    """A valid one-page PDF (its cross-reference table at the right offsets)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def state_of(engine, item_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT state FROM risk_disposals WHERE disposal_id = :i"), {"i": item_id}).scalar()


def set_date(browser, css: str, value: str) -> None:
    """Fill a date input as typing would (the browser's own date widget differs with its locale)."""
    browser.execute_script(
        "var e = arguments[0]; Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set"
        ".call(e, arguments[1]); e.dispatchEvent(new Event('input', {bubbles: true}));"
        "e.dispatchEvent(new Event('change', {bubbles: true}));", wait_css(browser, css), value)


def write(browser, css: str, text: str) -> None:
    wait_css(browser, css).send_keys(text)


def click(browser, css: str) -> None:
    """Click the element *css* once it is scrolled to the middle of the window (nothing in front of it)."""
    element = wait_css(browser, css)
    # 'instant': Bootstrap makes the page's scrolling smooth, and a click during the scroll lands elsewhere.
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def take_step(browser, engine, item_id: int, action: str, state: str) -> None:
    """Press the form's button, confirm in the dialog, wait for the success message and the state."""
    click(browser, f".disposal-submit-{action}")
    wait_css(browser, ".modal.show #disposal-confirm")
    settled(browser)  # the dialog's fade-in
    browser.find_element(By.ID, "disposal-confirm").click()
    alert = wait_css(browser, "#disposal-alert")
    assert "alert-success" in alert.get_attribute("class"), alert.text
    wait_until(browser, lambda _b: state_of(engine, item_id) == state)
    settled(browser)


def open_item(browser, server: str, item_id: int) -> None:
    browser.get(f"{server}/disposal?id={item_id}")
    wait_css(browser, "#disposal-facts")
    settled(browser)


def test_assign_answer_return_answer_close(browser, server, engine, screenshot, tmp_path):
    items = disposal.list_disposals(engine, scope=None, today=DEMO_TODAY)
    candidates = [r for r in items.to_dict("records") if r["affiliation"] in ("县属", "市属")
                  and r["level"] in ("red", "orange")]
    item = min(candidates, key=lambda r: r["level"] != "red")  # a red one when the demo has one
    item_id, code, county = int(item["disposal_id"]), item["hospital_code"].strip(), item["adcode"]
    supervisor = make_user(engine, f"sup-{county}", "supervisor", county)
    hospital_user = make_user(engine, f"hosp-{code[-6:]}", "hospital", code)
    other_county = next(a for a in items["adcode"] if a != county)
    outsider = make_user(engine, f"sup-{other_county}", "supervisor", other_county)
    pdf = tmp_path / "rectification.pdf"
    pdf.write_bytes(tiny_pdf())

    # 1. The supervisor lands on the overview, opens 待交办 from the 待办 panel, clicks the row, assigns.
    sign_in(browser, server, supervisor, PASSWORD)
    browser.get(server + "/")
    click(browser, "#overview-todo-to_assign")
    click(browser, f"#disposal-grid .ag-row[row-id='d{item_id}'] .ag-cell")
    wait_css(browser, "#disposal-form-assign")
    assert f"id={item_id}" in browser.current_url and "state=open" in browser.current_url
    set_date(browser, ".disposal-assign-due_on input", (DEMO_TODAY + timedelta(days=14)).isoformat())
    Select(wait_css(browser, ".disposal-assign-request select")).select_by_value("整改方案")
    write(browser, ".disposal-assign-note textarea", "请于两周内报送整改方案")
    take_step(browser, engine, item_id, "assign", "assigned")

    # 2. The hospital's user answers with a PDF (from the 待答复 card on its own profile).
    sign_in(browser, server, hospital_user, PASSWORD)
    browser.get(f"{server}/hospital/{code}")
    click(browser, "#hospital-todo-to_answer")
    click(browser, f"#disposal-grid .ag-row[row-id='d{item_id}'] .ag-cell")
    wait_css(browser, "#disposal-form-respond")
    write(browser, ".disposal-respond-cause textarea", "医疗收入下降，人员支出增长")
    write(browser, ".disposal-respond-measures textarea", "压缩非必要支出，加快医保结算")
    browser.find_element(By.CSS_SELECTOR, "#disposal-form-respond input[type=file]").send_keys(str(pdf))
    wait_until(browser, lambda b: "rectification.pdf" in b.find_element(By.ID, "disposal-form-respond").text)
    take_step(browser, engine, item_id, "respond", "responded")
    wait_css(browser, "#disposal-timeline .disposal-attachment")

    # 3. The supervisor returns it.
    sign_in(browser, server, supervisor, PASSWORD)
    open_item(browser, server, item_id)
    assert "rectification.pdf" in browser.find_element(By.ID, "disposal-timeline").text
    write(browser, ".disposal-return-note textarea", "措施不够具体，请补充时间表")
    take_step(browser, engine, item_id, "return", "returned")

    # 4. The hospital answers again.
    sign_in(browser, server, hospital_user, PASSWORD)
    open_item(browser, server, item_id)
    write(browser, ".disposal-respond-cause textarea", "同上")
    write(browser, ".disposal-respond-measures textarea", "7月底前完成医保结算；8月起每月通报支出")
    take_step(browser, engine, item_id, "respond", "responded")

    # 5. The supervisor closes it.
    sign_in(browser, server, supervisor, PASSWORD)
    open_item(browser, server, item_id)
    Select(wait_css(browser, ".disposal-close-verdict select")).select_by_value("已整改")
    take_step(browser, engine, item_id, "close", "closed")
    assert wait_css(browser, "#disposal-status").text == "已办结"
    full_page_screenshot(browser, screenshot, "disposal")

    # Another county's supervisor: not in the list, and not by its id either.
    sign_in(browser, server, outsider, PASSWORD)
    browser.get(f"{server}/disposal")
    wait_css(browser, "#disposal-grid")
    settled(browser)
    assert browser.find_elements(By.CSS_SELECTOR, f"#disposal-grid .ag-row[row-id='d{item_id}']") == []
    assert item["hospital_name"] not in browser.find_element(By.ID, "disposal-grid").text
    browser.get(f"{server}/disposal?id={item_id}")
    wait_css(browser, "#disposal-not-found")
    assert browser.find_elements(By.ID, "disposal-facts") == []

    # Every step is in the audit log, by whom, from where.
    steps = audit.search(engine, action="disposal.")
    steps = steps[steps["object"] == str(item_id)].iloc[::-1]
    assert list(steps["action"]) == ["disposal.assign", "disposal.respond", "disposal.return", "disposal.respond",
                                     "disposal.close"]
    assert list(steps["username"]) == [supervisor, hospital_user, supervisor, hospital_user, supervisor]
    assert steps["address"].notna().all()
    with engine.connect() as conn:
        files = conn.execute(sa.text(
            "SELECT a.file_name, a.media_type FROM risk_disposal_attachments a JOIN risk_disposal_events v "
            "USING (event_id) WHERE v.disposal_id = :i"), {"i": item_id}).all()
    assert [tuple(f) for f in files] == [("rectification.pdf", "application/pdf")]
