"""The 通报 page in a real browser: the demo's prefecture supervisor opens /bulletin (the latest closed month, their
prefecture), sees the document as a sheet with its charts drawn, and downloads the DOCX (the file arrives in the
browser's download folder; its first paragraph is the title). On the session's demo server (2026-06-23)."""

from __future__ import annotations

import time

import docx
import pytest
from conftest import sign_in
from selenium.webdriver.common.by import By
from test_pages_browser import full_page_screenshot, settled, severe_console_errors, wait_css, wait_until

pytestmark = pytest.mark.browser
TITLE = "长春市公立医院经济运行分析通报（2026年5月）"


def test_a_supervisor_previews_the_bulletin_and_downloads_it(browser, dashboard_server, screenshot, tmp_path):
    sign_in(browser, dashboard_server, "demo-supervisor", "opsmon-supervisor-demo")
    browser.get_log("browser")
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(dashboard_server + "/bulletin")
    sheet = wait_css(browser, "#bulletin-sheet", timeout=60)
    settled(browser)
    assert "2026-05" in browser.find_element(By.ID, "bulletin-period").text
    assert browser.find_element(By.CSS_SELECTOR, "#bulletin-sheet h1").text == TITLE
    headings = [h.text for h in sheet.find_elements(By.CSS_SELECTOR, "h2")]
    assert headings[0] == "一、填报情况" and headings[-1] == "五、下一步工作"
    # Every chart decoded and drawn (a data: URL the page's CSP allows).
    drawn = wait_until(browser, lambda b: b.execute_script(
        "const imgs = [...document.querySelectorAll('#bulletin-sheet img')];"
        "return imgs.length >= 2 && imgs.every(i => i.complete && i.naturalWidth > 0) ? imgs.length : 0;"))
    assert drawn >= 2
    full_page_screenshot(browser, screenshot, "bulletin_page")

    button = browser.find_element(By.ID, "bulletin-docx")
    assert button.is_enabled()
    button.click()
    files = wait_until(browser, lambda b: list(tmp_path.glob("*.docx")), timeout=60)
    time.sleep(0.5)  # let Chromium finish writing
    assert files[0].name == "经济运行分析通报_220100_2026-05.docx"
    paragraphs = [p.text for p in docx.Document(str(files[0])).paragraphs if p.text.strip()]
    assert paragraphs[0] == TITLE
    assert severe_console_errors(browser) == []
