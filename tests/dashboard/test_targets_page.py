"""The targets page and the hospital checklist on the hand-checkable fixture province (as of 2025-01):
overdue unmet targets shown as 逾期未达标, stale progress counted beside the programme table and listed
by name, the 运营管理部门 / 内部控制评价 columns, and a non-percentage target (the 医护比)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import find, make_user, signed_in

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indicators"))
import province_fixture as fx  # noqa: E402  (the indicator tests' fixture province)

from opsmon.dashboard.app import create_app  # noqa: E402
from opsmon.dashboard.pages import hospital, targets  # noqa: E402

ZH = {"lang": "zh"}
EN = {"lang": "en"}


@pytest.fixture
def fixture_app(engine) -> Iterator[object]:
    fx.load(engine)
    app = create_app(engine)
    make_user(engine)
    with signed_in(app, engine, "test-admin"):
        yield engine


def texts(component) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if component is None:
        return []
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [s for child in component for s in texts(child)]
    return texts(getattr(component, "children", None))


def target_id(engine, indicator: str, tier: str | None = None) -> int:
    return fx.execute(engine, "SELECT target_id FROM targets WHERE indicator = :i AND tier IS NOT DISTINCT FROM :t",
                      i=indicator, t=tier).scalar_one()


def test_an_overdue_unmet_target_is_shown_as_overdue(fixture_app):
    engine = fixture_app
    cards, _fig, regions_grid, _programme = targets.update("2025-01", "220000", ZH)
    # 吉林's committee target for 三级 hospitals, due 2022-12: 1 of 3 (A's report is stale, F's too).
    card = find(cards, f"target-card-{target_id(engine, 'ops_committee_share', '三级')}")
    assert card.children == "33.3%"
    words = texts(cards)
    assert "成立运营管理委员会医院占比 ≥ 100%（2022年12月）" in words
    assert "已逾期 25 个月：达标前一直显示" in words
    assert words.count("逾期未达标") >= 2  # the 三级 and the 二级 committee targets
    # The yearly pilot target says it is yearly.
    assert "开展业财融合试点医院占比 ≥ 100%（每年，本期 2025年12月）" in words
    # The table by region keeps the overdue ones too, with their verdict.
    overdue = [r for r in regions_grid.rowData if r["pill"] == "missed"]
    assert overdue and all(r["verdict"] == "逾期未达标" for r in overdue)
    assert {r["region"] for r in overdue} >= {"220100"}


def test_a_target_in_another_unit_is_formatted_in_its_unit(fixture_app):
    engine = fixture_app
    cards, fig, regions_grid, _ = targets.update("2025-01", "220200", ZH)
    # 吉林市's 医护比 target: D and E have 40 nurses and 20 doctors → 2.00, not "200.0%".
    card = find(cards, f"target-card-{target_id(engine, 'nurse_doctor_ratio')}")
    assert card.children == "2.00"
    assert "医护比（每名医师对应护士数） ≥ 2.00（2025年12月）" in texts(cards)
    assert any(getattr(trace, "yaxis", None) == "y2" for trace in fig.data)  # its own axis
    by_province = targets.update("2025-01", "220000", ZH)[2]
    nurse = [r for r in by_province.rowData if r["target_text"].startswith("医护比")]
    assert [r["region"] for r in nurse] == ["220200"] and nurse[0]["fmt"] == ",.2f"


def test_the_programme_table_counts_stale_and_missing_progress(fixture_app):
    _, _, _, grid = targets.update("2025-01", "220000", ZH)
    rows = {r["code"]: r for r in grid.rowData}
    assert len(rows) == 11  # ten units and the total
    # 长春市: A stale (B, C current); 吉林市: D and E without a report; 梅河口市: F stale.
    assert (rows["220100"]["outdated"], rows["220200"]["outdated"], rows["220581"]["outdated"]) == (1, 2, 1)
    total = rows["220000"]
    assert total["outdated"] == 4 and total["outdated__n"] == "进展未更新 2 家，未报送 2 家（共 6 家）"
    # 二级+: A and F are stale — in the denominator (5), not the numerator (B, C).
    assert total["ops_committee_share"] == pytest.approx(2 / 5)
    assert total["ops_committee_share__n"] == "2/5（其中进展未更新 2 家，计入分母）"
    # The two fields no indicator reports: 运营管理部门 (二级+; B and C say 是) and 内部控制评价 (all say 否).
    assert total["ops_department_share"] == pytest.approx(2 / 5) and total["ops_department_share__n"] == "2/5"
    assert total["internal_control_review_share"] == 0 and total["internal_control_review_share__n"] == "0/6"
    headers = [col["headerName"] for col in grid.columnDefs]
    assert {"进展未报/未更新", "设立运营管理部门医院占比", "开展内部控制评价医院占比"} <= set(headers)


def test_the_stale_hospitals_are_listed_by_name_beside_the_table(fixture_app):
    note = targets.update_stale("2025-01", "220000", ZH)
    words = texts(note)
    assert words[0] == "进展未更新（最近报告超过两个季度）2 家 · 未报送进展 2 家：计入分母，不计入分子"
    name = {k: f"测试医院{fx.CODE[k][-4:]}（演示）" for k in "ADEF"}
    assert words[1:] == [f"{name['A']}：最近一次进展报告 2024年6月，进展未更新",
                         f"{name['F']}：最近一次进展报告 2024年3月，进展未更新",
                         f"{name['D']}：未报送进展", f"{name['E']}：未报送进展"]
    # In 2024-12 A's report is six months old and still counts: F alone is stale.
    assert texts(targets.update_stale("2024-12", "220000", ZH))[0].startswith("进展未更新（最近报告超过两个季度）1 家")
    english = texts(targets.update_stale("2025-01", "220100", EN))
    assert english[0].startswith("Stale progress (latest report over two quarters old): 1")
    assert targets.update_stale(None, "220000", ZH) is None


def test_the_hospital_checklist_says_when_progress_is_stale(fixture_app):
    engine = fixture_app
    a = hospital.programme_status(engine, fx.CODE["A"], "2025-01")
    assert find(a, "hospital-progress-note").children == (
        "进展未更新：最近一次进展报告为 2024年6月，已超过两个季度，各项按“未完成”计。")
    assert "设立运营管理部门医院占比" in texts(a) and "开展内部控制评价医院占比" in texts(a)
    d = hospital.programme_status(engine, fx.CODE["D"], "2025-01")
    assert find(d, "hospital-progress-note").children.startswith("该院尚未报送运营管理建设进展")
    fresh = hospital.programme_status(engine, fx.CODE["A"], "2024-12")  # six months old: counts
    assert find(fresh, "hospital-progress-note") is None
    # One list item per line: the mark, the label (and a 近似 badge where the value is approximate).
    lines = {texts(li)[1]: texts(li) for li in fresh.children[0].children}
    marks = {label: words[0] for label, words in lines.items()}
    # A's report has no campaign column (the fixture's reports are v1): its process target is 近似.
    assert lines["业务流程优化达标医院占比"][2:] == ["近似"]
    assert all(len(words) == 2 for label, words in lines.items() if label != "业务流程优化达标医院占比")
    assert marks["设立运营管理部门医院占比"] == "✓" and marks["开展内部控制评价医院占比"] == "✗"


@pytest.mark.browser
def test_the_targets_page_shows_the_stale_count_in_a_browser(dashboard_url, browser, demo_engine, screenshot):
    from selenium.webdriver.common.by import By
    from test_pages_browser import full_page_screenshot, settled, severe_console_errors, wait_until

    from opsmon.indicators import programme, reporting

    period = reporting.latest_period(demo_engine)
    outdated = programme.outdated(demo_engine, period)
    stale, missing = int(outdated["stale"].sum()), int(outdated["missing"].sum())
    browser.get(f"{dashboard_url}/targets?period={period}")
    note = wait_until(browser, lambda b: [e for e in b.find_elements(By.CSS_SELECTOR, "#targets-programme-stale")
                                          if e.text.startswith("进展未更新")])[0]
    assert note.text.startswith(f"进展未更新（最近报告超过两个季度）{stale} 家 · 未报送进展 {missing} 家")
    wait_until(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "#targets-programme-grid .ag-row"))
    settled(browser)
    headers = browser.execute_script(
        "return Array.from(document.querySelectorAll('#targets-programme-grid .ag-header-cell-text'))"
        ".map(e => e.textContent);")
    assert "进展未报/未更新" in headers
    assert severe_console_errors(browser) == []
    # Open the list of the hospitals by name: one line per stale or missing hospital.
    names = browser.execute_script(
        "var d = document.querySelector('#targets-programme-stale details'); if (d) { d.open = true; }"
        "return Array.from(document.querySelectorAll('#targets-programme-stale li')).map(e => e.textContent);")
    assert len(names) == stale + missing
    assert all(n.startswith(name) for n, name in zip(names, outdated["name"]))
    full_page_screenshot(browser, screenshot, "targets-stale-progress")
