"""填报: upload → preview (errors, or what would change) → confirm → stored; the history; templates.

The browser tests drive their own ``opsmon serve`` on a fresh database holding a registry
(never the session's read-only demo database), in headless Chromium, uploading the GBK CSV
fixture as Excel on Chinese Windows writes it. The server-side guards (size, type, token,
SHA-256) are tested as plain functions.
"""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import find, make_user, serve, sign_in, signed_in
from selenium.common.exceptions import ElementClickInterceptedException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from opsmon.dashboard import upload_preview, upload_store
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import upload
from opsmon.ingest.api import ingest_bytes

FIXTURES = Path(__file__).resolve().parents[1] / "ingest" / "fixtures"
GBK_MONTH = FIXTURES / "monthly_excel_gbk.csv"  # A (row 3) and B (row 4), March 2025, GBK, CRLF, title row
A, B = "12220102412345670G", "12220103412345689U"


def registry_csv() -> bytes:
    rows = [["机构代码", "机构名称", "所在县区代码", "医院等级", "机构类别", "隶属关系", "主管部门", "高质量发展试点医院",
             "预算管理医院", "医联体牵头医院代码"],
            [A, "长春市第一医院", "220102", "三级甲等", "综合医院", "市属", "卫生健康委", "是", "是", ""],
            [B, "宽城区人民医院", "220103", "二级甲等", "综合医院", "县属", "卫生健康委", "否", "否", A]]
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode("utf-8")


def gbk_month(**rows: dict[str, str]) -> bytes:
    """The GBK fixture with cells changed, by spreadsheet row and Chinese header: ``row3={"收入合计（元）": "…"}``."""
    table = list(csv.reader(io.StringIO(GBK_MONTH.read_bytes().decode("gbk"), newline="")))
    header = table[1]  # row 1 is the title
    for name, cells in rows.items():
        row = table[int(name.removeprefix("row")) - 1]
        for label, value in cells.items():
            row[header.index(label)] = value
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows(table)
    return buf.getvalue().encode("gbk")


def query(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


# --- Browser: a server of our own on a fresh database ----------------------------------------------


@pytest.fixture
def upload_url(engine, tmp_path: Path):
    """``opsmon serve`` on the test's fresh database, with the registry (A, B) loaded."""
    assert ingest_bytes(registry_csv(), "机构名录.csv", engine=engine, username="admin").status == "accepted"
    make_user(engine)
    with serve(engine.url.render_as_string(hide_password=False), tmp_path, ready_path="/login",
               OPSMON_DATA_DIR=str(tmp_path / "data")) as url:
        yield url

def wait_for(browser, css: str, timeout: float = 60):
    return WebDriverWait(browser, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def wait_text(browser, css: str, text: str, timeout: float = 60):
    WebDriverWait(browser, timeout).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
    return browser.find_element(By.CSS_SELECTOR, css)


def choose_file(browser, path: Path) -> None:
    browser.find_element(By.CSS_SELECTOR, "#upload-file input[type=file]").send_keys(str(path))


def open_page(browser, url: str) -> None:
    sign_in(browser, url, "test-admin", "test-password-1")
    browser.get(url + "/upload")
    wait_for(browser, "#upload-file input[type=file]")
    wait_for(browser, "#upload-history .ag-root")


def click(browser, element_id: str) -> None:
    """Scroll a button into the middle of the window, as a person would, and click it."""
    def attempt(b) -> bool:
        button = b.find_element(By.ID, element_id)
        b.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        try:
            button.click()
        except ElementClickInterceptedException:
            return False  # the page below is still laying out (grids rendering); scroll and try again
        return True

    WebDriverWait(browser, 20, poll_frequency=0.3).until(attempt)


def grid_cell(browser, grid: str, row_id: str, col: str):
    return browser.find_element(By.CSS_SELECTOR, f'#{grid} .ag-row[row-id="{row_id}"] .ag-cell[col-id="{col}"]')


def severe_console_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


@pytest.mark.browser
def test_a_bad_gbk_file_shows_its_errors_and_cannot_be_stored(browser, upload_url, engine, screenshot, tmp_path):
    bad = tmp_path / "3月快报（有错）.csv"
    # Row 3 (A): 收入合计 written in words; row 4 (B): 门急诊收入 raised, so 医疗收入 no longer adds up.
    bad.write_bytes(gbk_month(row3={"收入合计（元）": "一千一百五十万"}, row4={"门急诊收入（元）": "6,100,000.45"}))
    open_page(browser, upload_url)
    choose_file(browser, bad)

    verdict = wait_text(browser, "#upload-verdict", "错误")
    assert verdict.text == "发现 2 处错误，整个文件不能入库。请按下表在 Excel 中改正后重新上传。"
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#upload-errors tbody tr")]
    assert [r[:3] for r in rows] == [["3", "收入合计", "一千一百五十万"], ["4", "医疗收入", "10,000,000.89"]]
    assert rows[0][3] == "第 3 行“收入合计”的值“一千一百五十万”不是有效数字"
    assert rows[1][3].startswith("第 4 行：医疗收入")
    assert browser.find_element(By.ID, "upload-confirm").get_attribute("disabled") is not None
    wait_for(browser, '#upload-rows .ag-row[row-id="3"]')
    assert "opsmon-cell-error" in grid_cell(browser, "upload-rows", "3", "total_revenue").get_attribute("class")
    screenshot("upload-errors")

    # The history already lists nothing stored: a preview is a dry run.
    assert query(engine, "SELECT count(*) FROM submissions WHERE kind = 'monthly'") == [(0,)]
    assert query(engine, "SELECT count(*) FROM monthly_values") == [(0,)]
    assert severe_console_errors(browser) == []


@pytest.mark.browser
def test_a_good_file_is_previewed_then_stored_and_a_correction_shows_its_changed_cells(
        browser, upload_url, engine, screenshot, tmp_path):
    good = tmp_path / "3月快报.csv"
    good.write_bytes(GBK_MONTH.read_bytes())
    open_page(browser, upload_url)
    choose_file(browser, good)

    verdict = wait_text(browser, "#upload-verdict", "检查通过")
    assert verdict.text.startswith("检查通过。确认提交后：2 行新增，0 行修改")
    assert browser.find_element(By.ID, "upload-summary").text == "3月快报.csv：月度经济运行快报，2 行数据"
    wait_for(browser, '#upload-rows .ag-row[row-id="3"]')
    assert grid_cell(browser, "upload-rows", "3", "_change").text == "新增"
    assert query(engine, "SELECT count(*) FROM monthly_values") == [(0,)]  # not before confirming
    screenshot("upload-preview-new")

    click(browser, "upload-confirm")
    outcome = wait_text(browser, "#upload-outcome", "已入库")
    assert outcome.text == "已入库：3月快报.csv，2 行生成新版本。"
    assert query(engine, "SELECT hospital_code, to_char(period, 'YYYY-MM'), revision, is_current, doctors "
                         "FROM monthly_values ORDER BY hospital_code") == [
        (A, "2025-03", 1, True, 200), (B, "2025-03", 1, True, 200)]
    assert query(engine, "SELECT username, file_name, status FROM submissions WHERE kind = 'monthly'") == [
        ("test-admin", "3月快报.csv", "accepted")]
    wait_text(browser, "#upload-history", "3月快报.csv")

    # A correction of A's doctors: one row changes, one cell highlighted with the current value.
    corrected = tmp_path / "3月快报（更正）.csv"
    corrected.write_bytes(gbk_month(row3={"执业（助理）医师数（人）": "210"}))
    choose_file(browser, corrected)
    verdict = wait_text(browser, "#upload-verdict", "1 行修改")
    assert verdict.text.startswith("检查通过。确认提交后：0 行新增，1 行修改（生成新版本，原版本保留），1 行与现有数据相同")
    wait_for(browser, '#upload-rows .ag-row[row-id="3"]')
    assert grid_cell(browser, "upload-rows", "3", "_change").text == "修改"
    assert grid_cell(browser, "upload-rows", "4", "_change").text == "无变化"
    changed = browser.find_elements(By.CSS_SELECTOR, "#upload-rows .opsmon-cell-changed")
    assert [(c.find_element(By.XPATH, "..").get_attribute("row-id"), c.get_attribute("col-id"), c.text)
            for c in changed] == [("3", "doctors", "210")]
    assert grid_cell(browser, "upload-rows", "3", "_summary").text == "执业（助理）医师数：200 → 210"
    # The revision this correction supersedes: who sent it, which file, when.
    revisions = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                 for tr in browser.find_elements(By.CSS_SELECTOR, "#upload-revisions tbody tr")]
    assert [r[:6] for r in revisions] == [[A, "2025-03", "1", "✓", "test-admin", "3月快报.csv"]]
    screenshot("upload-preview-changes")

    click(browser, "upload-confirm")
    wait_text(browser, "#upload-outcome", "1 行生成新版本")
    assert query(engine, "SELECT revision, is_current, doctors FROM monthly_values WHERE hospital_code = :a "
                         "ORDER BY revision", a=A) == [(1, False, 200), (2, True, 210)]
    screenshot("upload-stored")
    assert severe_console_errors(browser) == []


@pytest.mark.browser
def test_an_administrator_loads_a_registry_through_the_page(browser, upload_url, engine, screenshot, tmp_path):
    """The registry preview always failed (KeyError 'period'): admins could load registries only with the CLI."""
    C = "122201044123456975"  # a valid code (its check character right)
    rows = registry_csv().decode("utf-8") + f"{C},朝阳区中医院,220104,二级乙等,中医医院,县属,中医药局,否,否,{A}\r\n"
    path = tmp_path / "机构名录（新增一家）.csv"
    path.write_bytes(rows.encode("utf-8"))
    open_page(browser, upload_url)
    choose_file(browser, path)
    verdict = wait_text(browser, "#upload-verdict", "检查通过")
    assert "1" in verdict.text
    wait_for(browser, f'#upload-rows .ag-row[row-id="4"]')
    assert grid_cell(browser, "upload-rows", "4", "_change").text == "新增"
    screenshot("upload-registry-preview")
    click(browser, "upload-confirm")
    wait_text(browser, "#upload-outcome", "机构名录（新增一家）.csv")
    assert query(engine, "SELECT name FROM hospitals WHERE hospital_code = :c", c=C) == [("朝阳区中医院",)]
    assert severe_console_errors(browser) == []


@pytest.mark.browser
def test_clicking_a_submission_in_the_history_shows_its_errors(browser, upload_url, engine, screenshot):
    rejected = ingest_bytes(gbk_month(row3={"收入合计（元）": "一千一百五十万"}), "坏文件.csv", engine=engine,
                            username="clerk")
    assert rejected.status == "rejected"
    open_page(browser, upload_url)
    cell = wait_for(browser, f'#upload-history .ag-row[row-id="{rejected.submission_id}"] .ag-cell[col-id="file_name"]')
    assert cell.text == "坏文件.csv"
    cell.click()
    detail = wait_text(browser, "#history-detail-body", "坏文件.csv")
    assert "已退回" in detail.text
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
            for tr in browser.find_elements(By.CSS_SELECTOR, "#history-errors tbody tr")]
    assert rows == [["3", "收入合计", "一千一百五十万", "第 3 行“收入合计”的值“一千一百五十万”不是有效数字"]]
    screenshot("upload-history")


# --- Server-side guards and the preview logic, as plain functions ----------------------------------


@pytest.fixture
def app(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSMON_DATA_DIR", str(tmp_path / "data"))
    assert ingest_bytes(registry_csv(), "机构名录.csv", engine=engine).status == "accepted"
    return create_app(engine)


def data_url(content: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(content).decode()


@pytest.mark.parametrize("name", ["快报.xls", "快报.pdf", "快报", "快报.csv.exe"])
def test_only_csv_and_xlsx_files_are_accepted_by_the_server(name):
    message = upload.decode_upload(data_url(b"hospital_code\n"), name)
    assert message == f"“{name}”不是 CSV 或 Excel（.xlsx）文件。旧版 .xls 或 WPS 表格请先在 Excel 中“另存为”→“Excel 工作簿（*.xlsx）”再上传。"


def test_the_server_checks_the_size_whatever_the_browser_did():
    content = b"x" * 1001
    assert upload.decode_upload(data_url(content), "a.csv", max_bytes=1000) == (
        "“a.csv”超过 0 MB，请检查是否选错了文件，或拆成几个文件上传。")
    assert upload.decode_upload(data_url(content), "a.CSV", max_bytes=1001) == content


def test_damaged_base64_is_refused():
    assert upload.decode_upload("data:text/csv;base64,@@@", "a.csv") == "上传的数据不完整，请重新选择文件。"


def test_a_kept_upload_comes_back_only_with_its_token_and_hash(app):
    with app.server.app_context():
        handle = upload_store.keep_upload(b"abc", "a.csv", None, "clerk-a")
        assert set(handle) == {"token", "sha256"}
        assert upload_store.take_upload(handle, "clerk-a") == (b"abc", {"file_name": "a.csv", "kind": None,
                                                                  "sha256": handle["sha256"], "size": 3,
                                                                  "username": "clerk-a"})
        assert upload_store.take_upload({**handle, "sha256": "0" * 64}, "clerk-a") == "upload.tampered"
        assert upload_store.take_upload({**handle, "token": "../../etc/passwd"}, "clerk-a") == "upload.expired"
        assert upload_store.take_upload({"token": "f" * 32, "sha256": handle["sha256"]}, "clerk-a") == "upload.expired"
        # The bytes changed on the server after the preview: refused.
        (upload_store.upload_dir() / f"{handle['token']}.bin").write_bytes(b"abd")
        assert upload_store.take_upload(handle, "clerk-a") == "upload.tampered"
        upload_store.discard_upload(handle, "clerk-a")
        assert upload_store.take_upload(handle, "clerk-a") == "upload.expired"


def test_a_kept_upload_is_its_uploaders_only(app):
    with app.server.app_context():
        handle = upload_store.keep_upload(b"abc", "a.csv", None, "clerk-a")
        assert upload_store.take_upload(handle, "clerk-b") == "upload.expired"
        upload_store.discard_upload(handle, "clerk-b")  # not theirs to delete either
        assert isinstance(upload_store.take_upload(handle, "clerk-a"), tuple)


def test_kept_uploads_are_capped_per_user_and_expire(app, monkeypatch):
    with app.server.app_context():
        folder = upload_store.upload_dir()
        other = upload_store.keep_upload(b"other", "o.csv", None, "clerk-b")
        handles = [upload_store.keep_upload(f"file {i}".encode(), f"{i}.csv", None, "clerk-a")
                   for i in range(upload_store.UPLOAD_QUOTA + 2)]
        # Only the newest UPLOAD_QUOTA of clerk-a's previews are on disk; clerk-b's is untouched.
        assert [isinstance(upload_store.take_upload(h, "clerk-a"), tuple) for h in handles] == (
            [False] * 2 + [True] * upload_store.UPLOAD_QUOTA)
        assert isinstance(upload_store.take_upload(other, "clerk-b"), tuple)
        assert len(list(folder.glob("*.bin"))) == upload_store.UPLOAD_QUOTA + 1
        # An hour later every preview has expired, and the next keep removes them from the disk.
        later = upload_store.time.time() + upload_store.UPLOAD_TTL_SECONDS + 1
        monkeypatch.setattr(upload_store.time, "time", lambda: later)
        assert upload_store.take_upload(handles[-1], "clerk-a") == "upload.expired"
        upload_store.keep_upload(b"new", "n.csv", None, "clerk-c")
        assert len(list(folder.glob("*.bin"))) == 1


def test_preview_then_confirm_stores_the_previewed_bytes(app, engine):
    with signed_in(app, engine, make_user(engine)):
        preview, handle, hidden, disabled, _, reset = upload.preview(data_url(GBK_MONTH.read_bytes()), "3月.csv",
                                                                     "auto", None)
        assert (hidden, disabled, reset) == (False, False, None)
        assert "2 行新增" in str(preview)
        assert query(engine, "SELECT count(*) FROM monthly_values") == [(0,)]
        alert, _, token, hidden, history = upload.confirm(1, handle)
    assert alert.children == "已入库：3月.csv，2 行生成新版本。"
    assert (token, hidden) == (None, True)
    assert query(engine, "SELECT count(*) FROM monthly_values") == [(2,)]
    assert [(h["file_name"], h["status"], h["username"]) for h in history][:1] == [("3月.csv", "已入库", "test-admin")]
    with signed_in(app, engine, make_user(engine)):
        again, *_ = upload.confirm(1, handle)  # the kept file is gone once stored
    assert again.children == "预览已失效（文件已提交、已取消或超过 1 小时），请重新上传。"


def test_confirm_with_a_forged_hash_stores_nothing(app, engine):
    with signed_in(app, engine, make_user(engine)):
        _, handle, *_ = upload.preview(data_url(GBK_MONTH.read_bytes()), "3月.csv", "auto", None)
        alert, *_ = upload.confirm(1, {**handle, "sha256": "a" * 64})
    assert alert.children == "文件校验失败（SHA-256 不一致），没有入库，请重新上传。"
    assert query(engine, "SELECT count(*) FROM monthly_values") == [(0,)]
    assert query(engine, "SELECT count(*) FROM submissions WHERE kind = 'monthly'") == [(0,)]


def test_a_rejected_preview_is_not_kept_and_shows_errors_only(app, engine):
    with signed_in(app, engine, make_user(engine)):
        folder = upload_store.upload_dir()
        preview, handle, hidden, disabled, _, _ = upload.preview(
            data_url(gbk_month(row3={"收入合计（元）": "一千万"})), "3月.csv", "auto", None)
    assert (handle, hidden, disabled) == (None, False, True)
    assert find(preview, "upload-errors") is not None and find(preview, "upload-warnings") is None
    assert list(folder.glob("*")) == []


def test_a_previewed_row_of_another_hospital_never_shows_its_stored_figures(app, engine):
    """The security review's finding: out-of-scope rows were rejected, yet warnings quoted their history."""
    february = gbk_month(row3={"报告期": "2025-02", "收入合计（元）": "11,500,000.89"}, row4={"报告期": "2025-02"})
    assert ingest_bytes(february, "2月.csv", engine=engine, username="admin").status == "accepted"
    # B's clerk sends a file that also holds a row for A, with A's revenue a thousand times February's:
    # against A's history that is a unit-slip warning quoting A's stored 11,500,000.89.
    hostile = gbk_month(row3={"收入合计（元）": "11,500,000,890.00", "医疗收入（元）": "11,500,000,890.00",
                              "门急诊收入（元）": "7,500,000,890.00", "住院收入（元）": "4,000,000,000.00"})
    as_admin = ingest_bytes(hostile, "3月.csv", engine=engine, username="admin", dry_run=True)
    assert any("上月（2025-02）" in p.message_zh for p in as_admin.warnings), [p.message_zh for p in as_admin.warnings + as_admin.errors]
    clerk = make_user(engine, "clerk-b", "hospital", B)
    with signed_in(app, engine, clerk):
        preview, handle, *_ = upload.preview(data_url(hostile), "3月.csv", "auto", None)
    assert handle is None
    assert "不是您所在的机构" in str(find(preview, "upload-errors"))
    # Nothing of A's stored February (the file itself holds March only) — no warning at all.
    assert "2025-02" not in str(preview) and "上月" not in str(preview)
    assert find(preview, "upload-warnings") is None
    # The preview is in the audit log, though nothing was stored.
    assert query(engine, "SELECT username, details->>'status' FROM audit_log WHERE action = 'upload.preview'") == [
        ("clerk-b", "rejected")]


def test_a_registry_preview_shows_the_rows_and_can_be_confirmed(app, engine):
    with signed_in(app, engine, make_user(engine)):
        preview, handle, hidden, disabled, _, _ = upload.preview(data_url(registry_csv()), "机构名录.csv", "auto", None)
        assert (hidden, disabled) == (False, False) and handle is not None
        assert "upload-rows" in str(preview)
        alert, *_ = upload.confirm(1, handle)
    assert "机构名录.csv" in alert.children
    assert query(engine, "SELECT count(*) FROM hospitals") == [(2,)]


def test_a_refused_upload_is_not_kept(app, engine):
    with signed_in(app, engine, make_user(engine)):
        preview, handle, hidden, disabled, _, _ = upload.preview(data_url(b"%PDF-1.4"), "报告.pdf", "auto", None)
    assert (handle, hidden, disabled) == (None, True, True)
    assert "不是 CSV 或 Excel" in str(preview)


def test_preview_rows_mark_new_changed_and_same_rows_and_the_changed_cells():
    frame = pd.DataFrame({"hospital_code": [A, B, "12220104412345698K"], "period": ["2025-03"] * 3,
                          "doctors": pd.array([210, 200, 5], dtype="Int64"),
                          "total_revenue": [100.0, 100.0, 1.0]}, index=pd.Index([3, 4, 5], name="row"))
    raw = frame.astype("string")
    changes = pd.DataFrame({"hospital_code": [A, "12220104412345698K"], "period": ["2025-03"] * 2,
                            "revision": [2, 1], "change": ["changed", "new"]})
    current = pd.DataFrame({"hospital_code": [A, B], "period": ["2025-03"] * 2,
                            "doctors": pd.array([200, 200], dtype="Int64"), "total_revenue": [100.004, 100.0]})
    records = upload_preview.preview_rows("monthly", frame, raw, changes, current, [])
    assert [(r["_row"], r["_change"], r["_changed"], r["_old"], r["_summary"]) for r in records] == [
        (3, "changed", ["doctors"], {"doctors": "200"}, "执业（助理）医师数：200 → 210"),  # 100.004 is 100.00: same
        (4, "same", [], {}, ""),
        (5, "new", [], {}, ""),
    ]


def test_the_template_download_is_the_xlsx_template(app):
    from contextvars import copy_context

    from dash._callback_context import context_value
    from dash._utils import AttributeDict

    def run():
        context_value.set(AttributeDict(triggered_inputs=[
            {"prop_id": '{"kind":"progress","type":"upload-template"}.n_clicks', "value": 1}]))
        return upload.download_template([None, 1, None])

    with app.server.test_request_context("/upload"):
        sent = copy_context().run(run)
    assert sent["filename"] == "运营管理建设进展模板.xlsx"
    workbook = openpyxl.load_workbook(io.BytesIO(base64.b64decode(sent["content"])))
    assert workbook.worksheets[0]["A3"].value == "机构代码"
