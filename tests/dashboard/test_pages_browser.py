"""Every page in a real browser: loads cleanly, drills down, filters, downloads, switches language, restores links."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import sign_in
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from opsmon import geo
from opsmon import periods
from opsmon.indicators import query, reporting

pytestmark = pytest.mark.browser

PAGES = [
    ("overview", "/", "#overview-map path.choroplethlocation"),
    ("rankings", "/rankings", "#rankings-grid .ag-row"),
    ("trends", "/trends?codes=220000,220100,220200", "#trends-chart .scatterlayer .trace"),
    ("risk", "/risk", "#risk-grid .ag-row"),
    ("targets", "/targets", "#targets-grid .ag-row"),
    ("submissions", "/submissions", "#submissions-region-grid .ag-row"),
    ("admin", "/admin", "#admin-audit .ag-row"),
]


def wait_until(browser, condition, timeout: float = 30):
    """Poll *condition* (elements may be replaced while Dash re-renders: keep polling)."""
    return WebDriverWait(browser, timeout, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)).until(
        lambda b: condition(b))


def wait_css(browser, css: str, timeout: float = 30):
    return wait_until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, css), timeout)[0]


def click_css(browser, css: str, timeout: float = 30) -> None:
    """Click the element *css* names once it is there — again if Dash re-rendered it meanwhile (a stale element)."""
    from selenium.common.exceptions import StaleElementReferenceException

    def clicked(b) -> bool:
        try:
            found = b.find_elements(By.CSS_SELECTOR, css)
            if found and found[0].is_displayed():
                found[0].click()
                return True
        except StaleElementReferenceException:
            pass
        return False

    wait_until(browser, clicked, timeout)


def settled(browser) -> None:
    """Wait until Dash has no callback in flight (no loading markers)."""
    wait_until(browser, lambda b: not b.find_elements(By.CSS_SELECTOR, "[data-dash-is-loading='true']"))
    time.sleep(0.3)


def severe_console_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def full_page_screenshot(browser, screenshot, name: str) -> Path:
    """A screenshot of the whole page (the window grown to the page's height), for a person to judge."""
    size = browser.get_window_size()
    height, chrome = browser.execute_script(
        "return [document.documentElement.scrollHeight, window.outerHeight - window.innerHeight]")
    browser.set_window_size(size["width"], min(max(height + chrome, size["height"]), 5000))
    time.sleep(0.6)
    path = screenshot(name)
    browser.set_window_size(size["width"], size["height"])
    return path


def map_locations(browser, graph: str = "overview-map") -> list[str]:
    return browser.execute_script(
        f"return document.querySelector('#{graph} .js-plotly-plot').data"
        ".flatMap(t => Array.from(t.locations || []));")


def click_region(browser, code: str, graph: str = "overview-map") -> None:
    """Click inside the map shape of *code* (a point where that very shape is on top)."""
    def find() -> list[int]:
        return browser.execute_script(
            f"var plot = document.querySelector('#{graph} .js-plotly-plot'); var data = (plot && plot.data) || [];"
            "for (var i = 0; i < data.length; i++) { var j = Array.from(data[i].locations || []).indexOf(arguments[0]);"
            "  if (j >= 0) return [i, j]; } return [-1, -1];", code)

    # The map may still be drawing the page's previous answer: wait for the shape, then click it.
    try:
        trace, index = WebDriverWait(browser, 30, poll_frequency=0.2).until(lambda b: (f := find())[0] >= 0 and f)
    except TimeoutException:
        raise AssertionError(f"{code} is not on the map") from None
    path = browser.find_elements(By.CSS_SELECTOR, f"#{graph} .choropleth.trace")[trace].find_elements(
        By.CSS_SELECTOR, "path.choroplethlocation")[index]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", path)
    # Plotly hit-tests geo shapes itself (a rect above the paths takes the events): find a point whose
    # topmost containing shape is ours, by SVG geometry.
    point = browser.execute_script(
        "var p = arguments[0], r = p.getBoundingClientRect(), svg = p.ownerSVGElement;"
        "var all = Array.from(document.querySelectorAll(arguments[1] + ' path.choroplethlocation'));"
        "function inside(q, x, y) { var pt = svg.createSVGPoint(); pt.x = x; pt.y = y;"
        "  return q.isPointInFill(pt.matrixTransform(q.getScreenCTM().inverse())); }"
        "for (var fy = 0.5; fy < 0.95; fy += 0.05) for (var s = -1; s <= 1; s += 2) for (var fx = 0.5; fx < 0.95; fx += 0.05) {"
        "  var x = r.left + r.width * (s < 0 ? 1 - fx : fx), y = r.top + r.height * fy;"
        "  var top = all.filter(q => inside(q, x, y)).pop();"
        "  if (top === p) return [x, y]; }"
        "return null;", path, f"#{graph}")
    assert point, f"no visible point of {code} to click"
    # A real mouse click at viewport coordinates (the browser's own input pipeline).
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        browser.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": kind, "x": point[0], "y": point[1],
                                                             "button": "left", "clickCount": 1})


def click_region_until(browser, code: str, arrived, attempts: int = 3) -> None:
    """Click *code* on the map until *arrived*(browser) holds — a click that lands while the figure is
    still being redrawn is lost, and a person would simply click again."""
    for attempt in range(attempts):
        click_region(browser, code)
        try:
            wait_until(browser, arrived, timeout=15)
            return
        except TimeoutException:
            if attempt == attempts - 1:
                raise
            settled(browser)


def pick(browser, dropdown_id: str, value: str) -> None:
    """Choose *value* in a Dash dropdown the way a person does."""
    browser.find_element(By.ID, dropdown_id).click()
    option = wait_css(browser, f"[role=option] input[value='{value}']")
    option.find_element(By.XPATH, "./ancestor::*[@role='option']").click()
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


@pytest.mark.parametrize(("name", "path", "ready"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_loads_without_console_errors(browser, dashboard_url, screenshot, name, path, ready):
    browser.get_log("browser")  # start clean
    browser.get(dashboard_url + path)
    wait_css(browser, ready)
    settled(browser)
    assert "数据截至" in browser.find_element(By.ID, "as-of").text
    full_page_screenshot(browser, screenshot, f"page-{name}")
    assert severe_console_errors(browser) == []


def test_hospital_profile_loads(browser, dashboard_url, demo_engine, screenshot):
    period = reporting.latest_period(demo_engine)
    frame = query(demo_engine, "hospitals_expected", "hospital", period, filters={"tier": "三级"})
    code, name = frame["code"].iloc[0], frame["name"].iloc[0]
    browser.get_log("browser")
    browser.get(f"{dashboard_url}/hospital/{code}")
    wait_css(browser, "#hospital-kpis .kpi-value")
    wait_css(browser, "#hospital-trends .scatterlayer .trace")
    settled(browser)
    assert browser.find_element(By.CSS_SELECTOR, ".opsmon-page-title").text == name
    full_page_screenshot(browser, screenshot, "page-hospital")
    assert severe_console_errors(browser) == []


def test_map_drills_to_counties_then_hospitals_then_a_profile_in_three_clicks(browser, dashboard_url, demo_engine,
                                                                           screenshot):
    period = reporting.latest_period(demo_engine)
    regions = geo.load_regions("220000")
    changchun = set(regions.loc[(regions["level"] == "county") & (regions["geo_parent_adcode"] == "220100"),
                                "adcode"])
    hospitals = query(demo_engine, "hospitals_expected", "hospital", period)
    county = hospitals[hospitals["parent_code"].isin(changchun)]["parent_code"].value_counts().index[0]
    in_county = hospitals[hospitals["parent_code"] == county]

    browser.get(dashboard_url + "/")
    wait_css(browser, "#overview-map path.choroplethlocation")
    settled(browser)
    click_region_until(browser, "220100", lambda b: "region=220100" in b.current_url)  # click 1: 长春市
    wait_until(browser, lambda b: set(map_locations(b)) == changchun)
    assert "长春市" in browser.find_element(By.ID, "overview-crumbs").text
    settled(browser)

    click_region_until(browser, county, lambda b: f"region={county}" in b.current_url)  # click 2: a county
    links = wait_until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#overview-grid a.opsmon-link"))
    settled(browser)
    links = browser.find_elements(By.CSS_SELECTOR, "#overview-grid a.opsmon-link")
    assert sorted(a.text for a in links) == sorted(in_county["name"])
    full_page_screenshot(browser, screenshot, "overview-drilled-county")

    target = links[0].text
    links[0].click()                                                  # click 3: the hospital
    wait_until(browser, lambda b: "/hospital/" in b.current_url)
    wait_css(browser, "#hospital-kpis .kpi-value")
    assert browser.find_element(By.CSS_SELECTOR, ".opsmon-page-title").text == target

    settled(browser)
    browser.back()                                                    # back walks up again
    wait_until(browser, lambda b: f"region={county}" in b.current_url)
    wait_css(browser, "#overview-grid a.opsmon-link")
    settled(browser)  # as a person would: the page has finished loading before Back is pressed again
    browser.back()
    wait_until(browser, lambda b: b.current_url.endswith("region=220100") or "region=220100&" in b.current_url)
    wait_until(browser, lambda b: set(map_locations(b)) == changchun)


def test_a_ranking_filter_changes_the_table(browser, dashboard_url, demo_engine):
    period = reporting.latest_period(demo_engine)
    browser.get(f"{dashboard_url}/rankings?indicator=debt_ratio&level=hospital")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    everyone = query(demo_engine, "debt_ratio", "hospital", period)
    assert browser.find_element(By.ID, "rankings-count").text.endswith(f"{len(everyone)} 个")

    pick(browser, "rankings-tier", "三级")
    tertiary = query(demo_engine, "debt_ratio", "hospital", period, filters={"tier": "三级"})
    wait_until(browser, lambda b: b.find_element(By.ID, "rankings-count").text.endswith(f"{len(tertiary)} 个"))
    assert "tier=%E4%B8%89%E7%BA%A7" in browser.current_url
    settled(browser)
    names = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#rankings-grid a.opsmon-link")}
    assert names and names <= set(tertiary["name"])


def test_the_hospital_ranking_arrives_in_blocks_and_the_search_reaches_every_row(browser, dashboard_url, demo_engine):
    period = reporting.latest_period(demo_engine)
    everyone = query(demo_engine, "debt_ratio", "hospital", period)
    browser.get(f"{dashboard_url}/rankings?indicator=debt_ratio&level=hospital&period={period}")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    # The grid holds the first block, not all 300 hospitals …
    shown = browser.find_elements(By.CSS_SELECTOR, "#rankings-grid .ag-center-cols-container .ag-row")
    assert 0 < len(shown) <= 100 < len(everyone)
    # … and the search box finds the lowest-ranked hospital all the same: the server searched the whole ranking.
    last = everyone.sort_values("value", ascending=False, na_position="last").iloc[-1]["name"]
    box = browser.find_element(By.ID, "rankings-search")
    box.send_keys(last, Keys.ENTER)
    wait_until(browser, lambda b: [e.text for e in b.find_elements(By.CSS_SELECTOR, "#rankings-grid a.opsmon-link")]
               == [last])
    box.clear()
    box.send_keys(Keys.ENTER)
    wait_until(browser, lambda b: len(b.find_elements(By.CSS_SELECTOR, "#rankings-grid a.opsmon-link")) > 1)


def test_the_missing_list_arrives_in_blocks_with_links(browser, dashboard_url):
    browser.get(f"{dashboard_url}/submissions")
    title = wait_css(browser, "#submissions-missing-title")
    settled(browser)
    missing = int("".join(ch for ch in title.text if ch.isdigit()) or 0)
    assert missing > 0  # the demo's month being collected: not everyone has reported yet
    links = wait_until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#submissions-missing-grid a.opsmon-link"))
    assert 0 < len(links) <= min(missing, 100)
    assert "/hospital/" in links[0].get_attribute("href")


def test_ranking_export_downloads_the_api_values(browser, dashboard_url, demo_engine, tmp_path):
    period = reporting.latest_period(demo_engine)
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(f"{dashboard_url}/rankings?indicator=medical_service_revenue_share&level=county&span=ytd"
                f"&period={period}&category=%E7%BB%BC%E5%90%88%E5%8C%BB%E9%99%A2")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    browser.find_element(By.ID, "rankings-csv").click()
    files = wait_until(browser, lambda b: [p for p in tmp_path.glob("*.csv")], timeout=30)
    time.sleep(0.5)  # let Chrome finish writing
    got = pd.read_csv(files[0], encoding="utf-8-sig", skiprows=2, dtype={"code": str, "parent_code": str})
    api = query(demo_engine, "medical_service_revenue_share", "county", period, span="ytd",
                filters={"category": ["综合医院"]})
    got = got.sort_values("code").reset_index(drop=True)
    api = api.sort_values("code").reset_index(drop=True)
    assert got["code"].tolist() == api["code"].tolist()
    assert got["value"].tolist() == pytest.approx(api["value"].tolist(), nan_ok=True)
    assert got["numerator"].tolist() == pytest.approx(api["numerator"].tolist(), nan_ok=True)

    browser.find_element(By.ID, "rankings-xlsx").click()
    wait_until(browser, lambda b: [p for p in tmp_path.glob("*.xlsx")], timeout=30)


def test_language_toggle_switches_labels_and_keeps_the_view(browser, dashboard_url, screenshot):
    browser.get(f"{dashboard_url}/rankings?level=county&indicator=alos")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    assert browser.find_element(By.CSS_SELECTOR, ".opsmon-page-title").text == "指标排名"

    browser.find_element(By.ID, "lang-toggle").click()
    wait_until(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".opsmon-page-title").text == "Rankings")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    assert "lang=en" in browser.current_url and "level=county" in browser.current_url
    assert "Overview" in browser.find_element(By.ID, "navbar").text
    assert browser.find_element(By.ID, "as-of").text.startswith("Data as of")
    assert "Average length of stay" in browser.find_element(By.ID, "rankings-indicator").text
    full_page_screenshot(browser, screenshot, "page-rankings-en")

    browser.find_element(By.ID, "lang-toggle").click()
    wait_until(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".opsmon-page-title").text == "指标排名")
    assert "lang=en" not in browser.current_url


def test_a_deep_link_restores_its_view_and_back_restores_the_previous_one(browser, dashboard_url, demo_engine):
    latest = periods.to_date(reporting.latest_period(demo_engine))
    earlier = periods.to_period(periods.add_months(latest, -1))

    browser.get(f"{dashboard_url}/rankings?indicator=alos&level=county&period={earlier}&span=ytd"
                "&tier=%E4%BA%8C%E7%BA%A7&region=220100")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    assert "平均住院日" in browser.find_element(By.ID, "rankings-indicator").text
    assert earlier in browser.find_element(By.ID, "rankings-period").text
    assert browser.find_element(By.CSS_SELECTOR, "#rankings-level input[value='county']").is_selected()
    assert browser.find_element(By.CSS_SELECTOR, "#rankings-span input[value='ytd']").is_selected()
    assert "二级" in browser.find_element(By.ID, "rankings-tier").text
    api = query(demo_engine, "alos", "county", earlier, span="ytd", region="220100", filters={"tier": "二级"})
    rows = browser.find_elements(By.CSS_SELECTOR, "#rankings-grid .ag-center-cols-container .ag-row")
    assert len(rows) == len(api)

    # Change the span; the URL follows; back restores the deep link's view.
    browser.find_element(By.XPATH, "//*[@id='rankings-span']//label[normalize-space()='当月']").click()
    wait_until(browser, lambda b: "span=ytd" not in b.current_url)
    settled(browser)
    browser.back()
    wait_until(browser, lambda b: "span=ytd" in b.current_url)
    wait_until(browser, lambda b: b.find_element(By.CSS_SELECTOR, "#rankings-span input[value='ytd']").is_selected())


def test_the_navbar_search_opens_a_hospital(browser, dashboard_url, demo_engine):
    period = reporting.latest_period(demo_engine)
    hospital = query(demo_engine, "hospitals_expected", "hospital", period).iloc[0]
    browser.get(dashboard_url + "/risk")
    wait_css(browser, "#risk-grid .ag-row")
    settled(browser)
    browser.find_element(By.ID, "hospital-search").click()
    wait_css(browser, ".dash-dropdown-search").send_keys(hospital["name"][:6])
    option = wait_until(browser, lambda b: [o for o in b.find_elements(By.CSS_SELECTOR, "[role=option]")
                                            if o.text == hospital["name"]])[0]
    option.click()
    wait_until(browser, lambda b: b.current_url.endswith(f"/hospital/{hospital['code']}"))
    wait_until(browser, lambda b: b.find_element(By.CSS_SELECTOR, ".opsmon-page-title").text == hospital["name"])


def test_a_prefecture_supervisor_sees_only_its_prefecture(browser, dashboard_server, demo_engine, screenshot):
    regions = geo.load_regions("220000")
    changchun = set(regions.loc[(regions["level"] == "county") & (regions["geo_parent_adcode"] == "220100"),
                                "adcode"])
    period = reporting.latest_period(demo_engine)
    everyone = query(demo_engine, "hospitals_expected", "hospital", period)
    own = everyone[everyone["parent_code"].isin(changchun)]
    sign_in(browser, dashboard_server, "demo-supervisor", "opsmon-supervisor-demo")
    browser.get(dashboard_server + "/")  # starts at 长春市: its counties on the map, nothing else
    wait_css(browser, "#overview-map path.choroplethlocation")
    settled(browser)
    assert set(map_locations(browser)) == changchun
    full_page_screenshot(browser, screenshot, "supervisor-overview")

    browser.get(dashboard_server + f"/rankings?level=hospital&period={period}")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    names = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#rankings-grid a.opsmon-link")}
    assert names and names <= set(own["name"])


def test_a_hospital_user_is_offered_only_its_own_pages(browser, dashboard_server, demo_engine, screenshot):
    sign_in(browser, dashboard_server, "demo-hospital", "opsmon-hospital-demo")
    with demo_engine.connect() as conn:
        code = conn.execute(sa.text("SELECT hospital_code FROM users WHERE username = 'demo-hospital'")).scalar_one()
    browser.get(dashboard_server + "/")  # the home page is its own hospital's
    wait_until(browser, lambda b: b.current_url.endswith(f"/hospital/{code}"))
    wait_css(browser, "#hospital-kpis .kpi-value")
    browser.get(dashboard_server + "/rankings")
    wait_css(browser, "#not-permitted")
    nav = browser.find_element(By.ID, "navbar").text
    # 风险处置 (its own risks' disposal) but not the region pages 排名 and 风险
    assert "填报" in nav and "排名" not in nav and "风险处置" in nav and "风险" not in nav.replace("风险处置", "")
    full_page_screenshot(browser, screenshot, "hospital-user-denied")


def test_views_open_on_the_latest_closed_month_and_submissions_on_the_collecting_month(
        browser, dashboard_url, demo_engine, screenshot):
    """The server's clock is the demo's day (2026-06-23): May is the latest closed month, June is being collected."""
    frame = query(demo_engine, ["hospitals_reporting", "hospitals_expected"], "province", "2026-05")
    n, m = (int(frame.set_index("indicator").loc[k, "value"]) for k in ("hospitals_reporting", "hospitals_expected"))
    browser.get(dashboard_url + "/")
    status = wait_css(browser, "#overview-period-closed")
    assert status.text == f"2026年5月（已截止）：已报 {n:,} / 应报 {m:,}，报送率 {n / m:.1%}"
    assert "2026-05" in browser.find_element(By.ID, "overview-period").text
    browser.get(dashboard_url + "/submissions")
    alert = wait_css(browser, "#submissions-period-collecting")
    assert alert.text == f"2026年6月数据正在收集：已报 0 / 应报 {m:,}，截止 2026-07-10"
    assert "2026-06" in browser.find_element(By.ID, "submissions-period").text
    settled(browser)
    full_page_screenshot(browser, screenshot, "submissions-collecting")
    # Choosing a closed month there shows its rate instead.
    pick(browser, "submissions-period", "2026-05")
    wait_until(browser, lambda b: b.find_element(By.ID, "submissions-period-closed").text.startswith("2026年5月（已截止）"))
