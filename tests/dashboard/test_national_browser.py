"""A national instance in a real browser: its long pickers are searched on the server, its long tables arrive in blocks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import serve, sign_in
from selenium.webdriver.common.by import By
from test_pages_browser import settled, wait_css, wait_until

from tests.conftest import DEMO_TODAY

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def national_server(national_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(national_url, tmp_path_factory.mktemp("national-serve"), OPSMON_TODAY=DEMO_TODAY.isoformat()) as url:
        yield url


def test_a_county_is_found_by_typing_its_name_in_the_region_picker(browser, national_server):
    sign_in(browser, national_server, "demo-admin", "opsmon-admin-demo")
    browser.get(national_server + "/risk")
    wait_css(browser, "#risk-kpis .kpi-value")
    settled(browser)
    browser.find_element(By.ID, "risk-region").click()
    # The picker holds the 31 provinces, not the 2,800-odd counties …
    offered = wait_until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "[role=option]"))
    assert "江岸区" not in {o.text.strip() for o in offered}
    # … and finds one by its name.
    wait_css(browser, ".dash-dropdown-search").send_keys("江岸")
    option = wait_until(browser, lambda b: [o for o in b.find_elements(By.CSS_SELECTOR, "[role=option]")
                                            if o.text.strip() == "江岸区"])[0]
    option.click()
    wait_until(browser, lambda b: "region=420102" in b.current_url)
    settled(browser)
    assert "江岸区" in browser.find_element(By.ID, "risk-region").text
