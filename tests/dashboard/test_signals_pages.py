"""Trustworthy signals on the pages (issue 15): 近似 values marked wherever a value is shown, every risk
firing explained (values and threshold) on the risk page and the hospital profile, the risk download
carrying ``opsmon risks list --format json``'s columns, and the leftovers (the overview's overdue target,
the trends page's programme note, the upload template's month).

The 近似 checks run on the worked v2 fixture province (tests/indicators/v2_fixture.py), as of 2025-02:
长春市 220100 holds P (every optional field) and Q (a v1 reporter, no optional field), so its 医疗服务收入
占比 is 近似; 吉林市 220200 holds S alone, which reported the v2 columns in 2025-02, so its value is not.
The risk checks run on the demo province (tests/conftest.py).
"""

from __future__ import annotations

import base64
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import find, make_user, signed_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
import v2_fixture as v2  # noqa: E402  (the indicator tests' worked v2 province)

from opsmon.dashboard.app import create_app  # noqa: E402
from opsmon.dashboard.pages import hospital, overview, rankings, risk, targets, trends, upload  # noqa: E402
from opsmon.indicators import reporting  # noqa: E402
from opsmon.indicators import risk as risk_api  # noqa: E402
from opsmon.indicators.risk_rules import explain  # noqa: E402

ZH = {"lang": "zh"}
EN = {"lang": "en"}
P, Q, S = v2.CODE["P"], v2.CODE["Q"], v2.CODE["S"]
SHARE = "medical_service_revenue_share"
# The tooltip of a 近似 region value of 医疗服务收入占比, written out by hand from the catalogue's note.
ZH_REGION_TIP = "近似：部分医院未报送医疗服务收入，按近似口径计算（以医疗收入扣除药品、卫生材料、检查、化验收入近似）"
EN_REGION_TIP = "Approximate: some hospitals did not report medical service revenue, so the approximate basis is used"
ZH_HOSPITAL_TIP = "近似：本院未报送医疗服务收入，按近似口径计算（以医疗收入扣除药品、卫生材料、检查、化验收入近似）"


def texts(component) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if component is None:
        return []
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [s for child in component for s in texts(child)]
    return texts(getattr(component, "children", None))


@pytest.fixture
def worked(engine) -> Iterator[object]:
    """The worked v2 province, an app on it and its administrator signed in."""
    v2.load(engine)
    app = create_app(engine)
    make_user(engine)
    with signed_in(app, engine, "test-admin"):
        yield engine


# ----------------------------------------------------------------------------------------- 近似
def test_the_overview_marks_the_region_with_a_v1_hospital_approximate(worked):
    _kpis, fig, table, *_ = overview.update("2025-02", SHARE, {"lang": "zh", "region": "220000"})
    rows = {r["code"]: r for r in table.rowData}
    assert rows["220100"]["approx_text"] == "近似" and rows["220100"]["approx_tip"] == ZH_REGION_TIP
    assert rows["220200"]["approx_text"] == "" and rows["220200"]["approx_tip"] == ""
    assert [col.get("headerName") for col in table.columnDefs if col.get("field") == "approx_text"] == ["近似"]
    # The map's hover text says so for 长春市 only.
    trace = fig.data[0]
    hover = dict(zip(trace.locations, trace.customdata))
    assert hover["220100"].endswith("<br>" + ZH_REGION_TIP)
    assert "近似" not in hover["220200"]
    # In English.
    _kpis, fig, table, *_ = overview.update("2025-02", SHARE, {"lang": "en", "region": "220000"})
    rows = {r["code"]: r for r in table.rowData}
    assert (rows["220100"]["approx_text"], rows["220100"]["approx_tip"]) == ("approx.", EN_REGION_TIP)
    assert rows["220200"]["approx_text"] == ""


def test_a_county_lists_its_hospitals_with_the_v1_one_marked(worked):
    # 长春市's 朝阳区 holds Q alone (the v1 reporter); 南关区 P alone.
    table = overview.update("2025-02", SHARE, {"lang": "zh", "region": "220104"})[2]
    assert [(r["code"], r["approx_text"], r["approx_tip"]) for r in table.rowData] == [(Q, "近似", ZH_HOSPITAL_TIP)]
    table = overview.update("2025-02", SHARE, {"lang": "zh", "region": "220102"})[2]
    assert [(r["code"], r["approx_text"]) for r in table.rowData] == [(P, "")]


def test_rankings_mark_approximate_rows_in_the_grid_and_the_chart(worked):
    fig = rankings.update(SHARE, "hospital", "2025-02", "month", None, [], [], [], [], "", ZH)[0]
    rows = rankings.page_of_rows({"startRow": 0, "endRow": 100}, SHARE, "hospital", "2025-02", "month", None,
                                 [], [], [], [], "", None, ZH)["rowData"]
    marks = {r["code"]: r["approx_text"] for r in rows}
    assert marks == {P: "", Q: "近似", S: ""}
    bars = dict(zip(fig.data[0].y, fig.data[0].customdata))
    names = {r["code"]: r["name"] for r in rows}
    assert bars[names[Q]] == "<br>" + ZH_HOSPITAL_TIP and bars[names[P]] == "" and bars[names[S]] == ""
    rows = rankings.page_of_rows({"startRow": 0, "endRow": 100}, SHARE, "prefecture", "2025-02", "month", None,
                                 [], [], [], [], "", None, ZH)["rowData"]
    assert {r["code"]: r["approx_text"] for r in rows if r["code"] in ("220100", "220200")} == \
        {"220100": "近似", "220200": ""}


def test_the_rankings_download_carries_the_flag(worked):
    chosen = rankings.PAGE.read({"indicator": SHARE, "level": "prefecture", "period": "2025-02"})
    raw = base64.b64decode(rankings.download("csv", chosen)["content"])
    got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", skiprows=2, dtype={"code": str})
    flags = got.set_index("code")["approx"].to_dict()
    assert flags["220100"] in (True, "true") and flags["220200"] in (False, "false")
    sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(rankings.download("xlsx", chosen)["content"]))).active
    header = next(r for r in sheet.iter_rows(values_only=True) if r and "近似" in r)
    column = header.index("近似")
    names = {r[header.index("名称") if "名称" in header else 1]: r[column] for r in sheet.iter_rows(values_only=True)
             if r and r[column] in ("近似", None)}
    assert names.get("长春市") == "近似" and names.get("吉林市") is None


def test_the_hospital_cards_and_trends_mark_the_v1_hospital(worked):
    q_cards = hospital.kpi_cards(worked, Q, "二级", "2025-02", "month")
    badge = find(q_cards, f"hospital-approx-{SHARE}")
    assert badge.children == "近似" and badge.title == ZH_HOSPITAL_TIP
    p_cards = hospital.kpi_cards(worked, P, "三级", "2025-02", "month")
    assert find(p_cards, f"hospital-approx-{SHARE}") is None
    # Q's cash cover lacks depreciation: its months are hollow points whose hover says why.
    fig = hospital.trend_figure(worked, Q, "2025-02")
    cash = next(tr for tr in fig.data if tr.name == "货币资金可支付月数")
    shown = [(m, text, symbol) for m, y, text, symbol in zip(cash.x, cash.y, cash.customdata, cash.marker.symbol)
             if pd.notna(y)]
    assert [m for m, _, _ in shown] == ["2024-02", "2024-12", "2025-01", "2025-02"]
    assert all(text.startswith("<br>近似：本院未报送固定资产折旧费，") and symbol == "circle-open"
               for _, text, symbol in shown)
    fig = hospital.trend_figure(worked, P, "2025-02")
    cash = next(tr for tr in fig.data if tr.name == "货币资金可支付月数")
    assert set(cash.customdata) == {""} and set(cash.marker.symbol) == {"circle"}


def test_the_trend_lines_mark_approximate_months(worked):
    fig, _yoy, notes, _title = trends.update(SHARE, ["220100", "220200"], "2025-02", 12, "month", ZH)
    lines = {tr.name: tr for tr in fig.data if tr.mode == "lines+markers"}
    changchun = dict(zip(lines["长春市"].x, lines["长春市"].customdata))
    jilin = dict(zip(lines["吉林市"].x, lines["吉林市"].customdata))
    assert changchun["2025-02"] == "<br>" + ZH_REGION_TIP  # Q never reports the field
    assert jilin["2025-02"] == "" and jilin["2025-01"] == "<br>" + ZH_REGION_TIP  # S only from 2025-02
    assert "空心点为近似值。" + ZH_REGION_TIP in texts(notes)


def test_a_target_on_an_approximate_value_is_marked(worked):
    # 业务流程优化达标医院占比: Q's progress report has no campaign column (累计 stands in: 近似), P's and S's do.
    frame = targets.with_approx(worked, pd.DataFrame({
        "indicator": ["process_target_share", "process_target_share", "ops_platform_coverage_tertiary"],
        "tier": [None, None, None], "region": ["220100", "220200", "220100"]}), "2025-02")
    assert frame["approx"].tolist() == [True, False, False]
    assert frame["approx_text"].tolist() == ["近似", "", ""]
    assert frame["approx_tip"].iloc[0] == ("近似：部分医院未报送本轮活动以来优化业务流程数，按近似口径计算"
                                           "（以累计优化业务流程数近似）")


# ----------------------------------------------------------------------------------------- leftovers
def test_the_overview_card_shows_an_overdue_target_before_a_later_one(monkeypatch):
    rows = pd.DataFrame({
        "indicator": ["ops_platform_coverage_tertiary"] * 2, "target": [0.5, 1.0],
        "due_period": ["2025-12", "2027-12"], "months_left": [-5, 19], "status": ["missed", "on_track"]})
    monkeypatch.setattr(overview.c, "evaluated_targets", lambda engine, region, period: rows)
    text, tone = overview._target_line(None, "220000", "2026-05", "ops_platform_coverage_tertiary")
    assert (text, tone) == ("目标 50.0%（2025年12月）· 逾期未达标", "bad")
    # Once the first is met, the next one due is shown.
    met = rows.assign(status=["met", "on_track"])
    monkeypatch.setattr(overview.c, "evaluated_targets", lambda engine, region, period: met)
    text, tone = overview._target_line(None, "220000", "2026-05", "ops_platform_coverage_tertiary")
    assert (text, tone) == ("目标 100.0%（2027年12月）· 预计按期达标", "good")


def test_the_trends_page_says_stale_progress_counts_as_not_done(worked):
    notes = trends.update("ops_committee_share", ["220000"], "2025-02", 12, "month", ZH)[2]
    assert "未报送进展、或最近一次进展报告已超过两个季度（进展未更新）的医院按“未完成”计：计入分母，不计入分子。" in texts(notes)
    notes = trends.update("surplus_rate", ["220000"], "2025-02", 12, "month", ZH)[2]
    assert find(notes, "trends-programme-note") is None


@pytest.mark.parametrize(("today", "month"), [
    ("2026-06-05", "2026-05"),  # collecting 2026-05 (due 06-10), which has ended
    ("2026-06-10", "2026-05"),  # the due day itself: still collecting 2026-05
    ("2026-06-23", "2026-05"),  # collecting 2026-06, not over: the latest closed month, 2026-05
    ("2026-07-01", "2026-06"),  # collecting 2026-06 (due 07-10), ended yesterday
])
def test_the_upload_template_is_for_the_month_a_hospital_fills_in_now(worked, monkeypatch, today, month):
    monkeypatch.setenv("OPSMON_TODAY", today)
    assert upload.template_period() == month


# ----------------------------------------------------------------------------------------- risk explanations
@pytest.fixture(scope="module")
def demo_app(demo_engine):
    return create_app(demo_engine)


@pytest.fixture
def demo_admin(demo_app, demo_engine) -> Iterator[None]:
    with signed_in(demo_app, demo_engine, "demo-admin"):
        yield


@pytest.fixture(scope="module")
def period(demo_engine) -> str:
    return reporting.latest_period(demo_engine)


def forecast_firing(engine) -> tuple[str, str]:
    """(hospital, period) of the demo's latest cash_forecast firing (the register refreshed first)."""
    risk_api.refresh_register(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT hospital_code, to_char(period, 'YYYY-MM') FROM risk_firings WHERE rule = 'cash_forecast' "
            "ORDER BY period DESC, hospital_code LIMIT 1")).one()
    return row[0], row[1]


def _risk_rows(period: str, view: dict, start: int = 0, end: int = 100_000) -> list[dict]:
    """The rows the risk list's grid is sent for rows *start*–*end* of the month's whole list."""
    return risk.page_of_rows({"startRow": start, "endRow": end}, period, [], [], [], None, [], None, view)["rowData"]


def test_every_risk_row_explains_itself(demo_engine, demo_admin, period):
    table = risk.update(period, [], [], [], None, [], ZH)[2]
    rows = _risk_rows(period, ZH)
    _, frame = risk_api.risks_frame(demo_engine, period)
    assert len(rows) == len(frame) > 0
    # The CLI's rows in its order (status, the most severe first …), each with its sentence.
    assert [r["row_id"] for r in rows] == [f"e{e}" for e in frame["episode_id"]]
    wanted = [explain(r, lv, d, "zh") for r, lv, d in zip(frame["rule"], frame["level"], frame["detail"])]
    assert [r["explanation"] for r in rows] == wanted
    assert all(r["explanation"] for r in rows)
    # A block of the list is explained as it is sent: the same sentences.
    assert [r["explanation"] for r in _risk_rows(period, ZH, 5, 15)] == wanted[5:15]
    # Each row has an id of its own, as text (the grid's getRowId reads it).
    assert table.getRowId == "params.data.row_id"
    assert len({r["row_id"] for r in rows}) == len(rows)
    assert all(isinstance(r["row_id"], str) for r in rows)
    assert "触发说明（触发值与阈值）" in [col["headerName"] for col in table.columnDefs]
    # The spec's thresholds, written out: 资产负债率 ≥ 50% yellow, ≥ 70% orange.
    for row in (r for r in rows if r["rule_text"] == "资产负债率偏高"):
        threshold = {"黄色": "（黄色阈值 ≥ 50%）", "橙色": "（橙色阈值 ≥ 70%）"}[row["level_text"]]
        assert row["explanation"].startswith("负债总额 ") and row["explanation"].endswith(threshold)
    # In English.
    assert [r["explanation"] for r in _risk_rows(period, EN)] == [
        explain(r, lv, d, "en") for r, lv, d in zip(frame["rule"], frame["level"], frame["detail"])]


def test_the_rule_and_level_choices_are_v2_and_ordered(demo_admin, period):
    tree = risk.layout(period=period)
    rules = {o["value"]: o["label"] for o in find(tree, "risk-rule").options}
    assert rules["deficit_12m"] == "收不抵支" and rules["net_assets_negative"] == "资不抵债"
    assert rules["cash_forecast"] == "现金支付能力预警" and "deficit_ytd" not in rules
    assert [o["value"] for o in find(tree, "risk-level").options] == ["red", "orange", "yellow"]


def test_a_cash_forecast_shows_its_projected_month(demo_engine, demo_admin):
    code, month = forecast_firing(demo_engine)
    frame = risk.changes_frame(demo_engine, month, ["cash_forecast"], [], [], None, [])
    row = frame[frame["hospital_code"] == code].iloc[0]
    projected = row["detail"]["projected_period"]
    assert len(projected) == 7 and projected > month  # a month ahead of the firing
    assert row["projected_period"] == projected
    assert row["metric_text"].endswith(f"，预计 {projected} 降至1个月以下")
    assert f"预计 {projected} 降至 1个月以下" in row["explanation"]


def test_the_risk_download_has_the_cli_json_columns_and_the_explanation(demo_engine, demo_admin, period):
    payload = risk.download("csv", risk.PAGE.read({"period": period}))
    raw = base64.b64decode(payload["content"])
    assert raw.decode("utf-8-sig").splitlines()[1].startswith("# 数据截至")
    got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", skiprows=2, keep_default_na=False,
                      dtype={"hospital_code": str, "adcode": str, "projected_period": str})
    assert list(got.columns) == ["hospital_code", "hospital_name", "adcode", "rule", "level", "value",
                                 "first_period", "last_period", "status", "projected_period", "explanation"]
    used, frame = risk_api.risks_frame(demo_engine, period)
    document = risk_api.risks_document(used, frame)["risks"]
    assert len(got) == len(document) > 0
    for key in ("hospital_code", "hospital_name", "adcode", "rule", "level", "first_period", "last_period",
                "status"):
        assert got[key].tolist() == [item[key] for item in document], key
    values = pd.to_numeric(got["value"].replace("", None))
    assert values.tolist() == pytest.approx([item["value"] for item in document], nan_ok=True)
    assert got["projected_period"].tolist() == [item.get("projected_period") or "" for item in document]
    assert got["explanation"].tolist() == [
        explain(r, lv, d, "zh") for r, lv, d in zip(frame["rule"], frame["level"], frame["detail"])]

    xlsx = risk.download("xlsx", risk.PAGE.read({"period": period, "rule": "debt_ratio_high"}))
    sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(xlsx["content"]))).active
    header = [cell.value for cell in sheet[4]]
    assert header == ["机构代码", "医院", "行政区划代码", "规则代码", "等级", "触发值", "首次出现", "最近出现",
                      "状态", "预计降至1个月以下的月份", "触发说明（触发值与阈值）"]
    rules = {sheet.cell(row=r, column=4).value for r in range(5, sheet.max_row + 1)}
    assert rules == {"debt_ratio_high"}


def test_the_hospital_profile_explains_its_risks(demo_engine, demo_admin):
    code, _month = forecast_firing(demo_engine)
    grid = hospital.risk_history(code)
    register = risk_api.register(demo_engine, hospital=code)
    assert len(grid.rowData) == len(register) > 0
    wanted = {explain(r, lv, d, "zh") for r, lv, d in zip(register["rule"], register["level"], register["detail"])}
    assert {r["explanation"] for r in grid.rowData} == wanted
    # Open episodes first, the most severe first.
    order = [(r["pill"] == "open", {"红色": 3, "橙色": 2, "黄色": 1}.get(r["level_text"], 0)) for r in grid.rowData]
    assert order == sorted(order, reverse=True)
    assert any("，预计 20" in r["explanation"] and r["rule"] == "现金支付能力预警" for r in grid.rowData)


# ----------------------------------------------------------------------------------------- in a browser
def _cells(browser, grid: str, css: str) -> dict[int, str]:
    """The texts of the rendered cells matching *css* in *grid*, by row index (the grid renders the rows in
    view only, and recycles their elements: the index, not the element's place, says which row it is)."""
    pairs = browser.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0] + ' .ag-row'))"
        ".filter(r => r.querySelector(arguments[1]))"
        ".map(r => [Number(r.getAttribute('row-index')), r.querySelector(arguments[1]).textContent]);",
        f"#{grid}", css)
    return {int(i): text for i, text in pairs}


@pytest.mark.browser
def test_the_risk_page_shows_the_explanations_in_a_browser(dashboard_url, browser, demo_engine, screenshot):
    from selenium.webdriver.common.by import By
    from test_pages_browser import full_page_screenshot, settled, severe_console_errors, wait_until

    period = reporting.latest_period(demo_engine)
    _, frame = risk_api.risks_frame(demo_engine, period)
    serious = frame[frame["level"].isin(["red", "orange"])]
    wanted = [explain(r, lv, d, "zh") for r, lv, d in zip(serious["rule"], serious["level"], serious["detail"])]
    assert wanted
    browser.get(f"{dashboard_url}/risk?period={period}&risk_level=red,orange")
    cell = wait_until(browser, lambda b: [e for e in b.find_elements(By.CSS_SELECTOR, "#risk-grid .opsmon-explanation")
                                          if e.text])[0]
    settled(browser)
    assert cell.is_displayed()
    shown = _cells(browser, "risk-grid", ".opsmon-explanation")
    assert len(shown) >= min(5, len(wanted))
    assert all(text == wanted[i] for i, text in shown.items())  # the rows in the CLI's order, each explained
    assert shown[0] == wanted[0]  # the first row too (rows once shared the id "undefined": it was left blank)
    assert cell.text in wanted
    assert severe_console_errors(browser) == []
    full_page_screenshot(browser, screenshot, "risk-explanations")


@pytest.mark.browser
def test_the_hospital_profile_shows_the_explanations_in_a_browser(dashboard_url, browser, demo_engine, screenshot):
    from selenium.webdriver.common.by import By
    from test_pages_browser import full_page_screenshot, settled, severe_console_errors, wait_until

    code, _month = forecast_firing(demo_engine)
    register = risk_api.register(demo_engine, hospital=code)
    wanted = {explain(r, lv, d, "zh") for r, lv, d in zip(register["rule"], register["level"], register["detail"])}
    browser.get(f"{dashboard_url}/hospital/{code}?period={reporting.latest_period(demo_engine)}")
    wait_until(browser, lambda b: [e for e in b.find_elements(By.CSS_SELECTOR,
                                                              "#hospital-risk-grid .opsmon-explanation") if e.text])
    settled(browser)
    shown = set(_cells(browser, "hospital-risk-grid", ".opsmon-explanation").values())
    assert shown and shown <= wanted
    assert any("，预计 20" in text for text in shown)  # the cash forecast names its month
    assert severe_console_errors(browser) == []
    browser.execute_script("document.getElementById('hospital-risk-grid').scrollIntoView()")
    full_page_screenshot(browser, screenshot, "hospital-profile-risks")


@pytest.mark.browser
def test_the_rankings_grid_marks_approximate_regions_in_a_browser(dashboard_url, browser, demo_engine, screenshot):
    from opsmon.indicators import query
    from test_pages_browser import settled, wait_css

    period = reporting.latest_period(demo_engine)
    api = query(demo_engine, SHARE, "prefecture", period)
    wanted = {name: "近似" if flag else "" for name, flag in zip(api["name"], api["approx"])}
    assert "近似" in wanted.values()  # the demo's v1 senders (~15 %) are spread over the province
    browser.get(f"{dashboard_url}/rankings?indicator={SHARE}&level=prefecture&period={period}")
    wait_css(browser, "#rankings-grid .ag-row")
    settled(browser)
    names = _cells(browser, "rankings-grid", "[col-id=name]")
    marks = _cells(browser, "rankings-grid", "[col-id=approx_text]")
    assert len(names) == len(marks) == len(api)
    assert {names[i]: marks[i] for i in names} == wanted
    screenshot("rankings-approx")
