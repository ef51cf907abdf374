"""/api/v1/docs in a real browser: Swagger UI, served by opsmon itself under the dashboard's CSP, renders
every operation of the OpenAPI document — and the console stays clean (a CSP violation would show there)."""

from __future__ import annotations

import pytest
import requests
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def operations(spec: dict) -> set[tuple[str, str]]:
    """(method, path) of every operation of an OpenAPI document."""
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in METHODS}


def rendered_operations(browser) -> list[tuple[str, str]]:
    """(method, path) of every operation block Swagger UI drew (its method badge and path text)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('.opblock')).map(b => ["
        "  (b.querySelector('.opblock-summary-method') || {}).textContent || '',"
        "  (b.querySelector('.opblock-summary-path') || {}).getAttribute"
        "    ? b.querySelector('.opblock-summary-path').getAttribute('data-path') : '']);")


def test_the_api_docs_page_renders_every_operation_without_console_errors(browser, dashboard_server, screenshot):
    spec = requests.get(f"{dashboard_server}/api/v1/openapi.json", timeout=30)
    assert spec.status_code == 200
    expected = operations(spec.json())
    assert expected, "the document has no operations"

    # No sign-in: the page and its document hold no data. Forget earlier pages' console messages first
    # (the browser is shared by the session's tests).
    browser.get(f"{dashboard_server}/healthz")
    browser.get_log("browser")
    browser.get(f"{dashboard_server}/api/v1/docs")

    WebDriverWait(browser, 30, poll_frequency=0.2,
                  ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(
        lambda b: len(b.find_elements(By.CSS_SELECTOR, ".opblock")) >= len(expected))
    blocks = browser.find_elements(By.CSS_SELECTOR, ".opblock")
    assert len(blocks) == len(expected)
    drawn = {(method.strip().lower(), path) for method, path in rendered_operations(browser)}
    assert drawn == expected
    assert "opsmon" in browser.find_element(By.CSS_SELECTOR, ".info .title").text

    browser.execute_script("window.scrollTo(0, 0)")
    screenshot("api-docs")
    messages = browser.get_log("browser")
    errors = [m["message"] for m in messages if m["level"] == "SEVERE"]
    assert errors == []
    # A blocked script, style or image is a CSP report, which Chromium logs (also below SEVERE).
    assert not [m["message"] for m in messages if "Content Security Policy" in m["message"]]
