"""总览: the province map by prefecture and the table by region, real data, in a real browser."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

pytestmark = pytest.mark.browser

JILIN_PREFECTURES = {"长春市", "吉林市", "四平市", "辽源市", "通化市", "白山市", "松原市", "白城市", "延边朝鲜族自治州"}


def db_counts(engine) -> tuple[int, str]:
    with engine.connect() as conn:
        hospitals = conn.execute(sa.text("SELECT count(*) FROM hospitals")).scalar_one()
        latest = conn.execute(sa.text("SELECT to_char(max(period), 'YYYY-MM') FROM monthly_values")).scalar_one()
    return hospitals, latest


def wait_for(browser, css: str, timeout: float = 30):
    return WebDriverWait(browser, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def severe_console_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def test_overview_shows_the_province_map_and_hospital_counts(browser, dashboard_url, demo_engine, screenshot):
    hospitals, latest = db_counts(demo_engine)

    browser.get(dashboard_url + "/")
    wait_for(browser, "#overview-map path.choroplethlocation")
    WebDriverWait(browser, 30).until(lambda b: b.find_element(By.ID, "kpi-expected").text.strip() != "")

    # The map: 9 prefectures plus 梅河口市, which the province administers directly.
    names = browser.execute_script(
        "return document.querySelector('#overview-map .js-plotly-plot').data[0].text;")
    assert {n for n in names if "（" not in n} == JILIN_PREFECTURES
    assert [n for n in names if "（" in n] == ["梅河口市（省直管）"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#overview-map path.choroplethlocation")) == 10

    # The cards and the table show the database's numbers for the latest month.
    assert browser.find_element(By.ID, "kpi-expected").text == f"{hospitals:,}"
    grid_rows = browser.find_elements(By.CSS_SELECTOR, "#overview-grid .ag-center-cols-container .ag-row")
    assert len(grid_rows) == 10
    assert latest in browser.find_element(By.ID, "overview-period").text
    assert "数据截至" in browser.find_element(By.ID, "as-of").text

    screenshot("overview")
    assert severe_console_errors(browser) == []


def test_period_in_the_url_restores_the_view(browser, dashboard_url, demo_engine):
    _, latest = db_counts(demo_engine)
    year, month = map(int, latest.split("-"))
    earlier = f"{year - 1}-{month:02d}"

    browser.get(f"{dashboard_url}/?period={earlier}&color=reporting_rate")
    wait_for(browser, "#overview-map path.choroplethlocation")

    assert earlier in browser.find_element(By.ID, "overview-period").text
    title = browser.execute_script(
        "return document.querySelector('#overview-map .js-plotly-plot').data[0].colorbar.title.text;")
    assert title == "报送率"
