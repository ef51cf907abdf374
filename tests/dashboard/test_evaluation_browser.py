"""The acceptance round of 评价 in a real browser: a county, its prefecture and a designated hospital score
themselves (one with an evidence PDF) and submit; the prefecture reviews the county (one item adjusted with a
reason) and submits; the province draws the sample (a seed that samples the county), checks the county item by
item (one item differing from the self score) and submits; then publishes. The database (evaluation_events) and
the audit log are checked after each step; another county's supervisor sees neither the county's row nor its
sheet before publication.

On a writable demo of its own served by ``opsmon serve`` on the demo's day (2026-06-23); the commission sheet is
loaded with the library, the hospital sheet through the CLI (``opsmon scoresheet default`` → a new version →
``opsmon scoresheet load``).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import docx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import serve, sign_in
from selenium.webdriver.common.by import By
from test_disposal_browser import click, tiny_pdf
from test_evaluation_page import YEAR, open_round
from test_pages_browser import full_page_screenshot, settled, wait_css, wait_until

from opsmon.access import audit
from opsmon.access.users import get_user
from opsmon.evaluation import results, rounds, sheets
from opsmon.sql import db
from tests.conftest import DEMO_TODAY, writable_demo

pytestmark = pytest.mark.browser
PASSWORD = "test-password-1"
RATE = 0.3


@pytest.fixture(scope="module")
def db_url(databases, template_db, tmp_path_factory) -> str:
    return writable_demo(databases, template_db, tmp_path_factory, "evaluation-browser", seed=9)


@pytest.fixture(scope="module")
def engine(db_url):
    eng = db.create_engine(db_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


def cli(db_url: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "opsmon.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "DATABASE_URL": db_url}, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def who(db_url, engine, tmp_path_factory) -> dict[str, str]:
    """The sheets loaded (the hospital's through the CLI, as a new version), round 2026 opened, the users made."""
    folder = tmp_path_factory.mktemp("evaluation-sheets")
    sheets.store(engine, sheets.default("commission"), username="test")
    path = folder / "hospital.yaml"
    cli(db_url, "scoresheet", "default", "--kind", "hospital", "-o", str(path))
    path.write_text(path.read_text(encoding="utf-8").replace('version: "2026"', 'version: "2026.1"'),
                    encoding="utf-8")
    assert "hospital 2026.1, 11 items" in cli(db_url, "scoresheet", "load", str(path))
    found = open_round(engine)
    assert rounds.get_round(engine, YEAR).hospital_sheet == sheets.find(engine, "hospital", "2026.1")
    return found


@pytest.fixture(scope="module")
def server(db_url, who, tmp_path_factory):
    with serve(db_url, tmp_path_factory.mktemp("evaluation-serve"), OPSMON_TODAY=DEMO_TODAY.isoformat()) as url:
        yield url


def seed_sampling(engine, unit: str) -> int:
    """A seed whose sample (draw_sample's rule: per stratum ceil(rate × n), numpy's generator) holds *unit*."""
    with engine.connect() as conn:
        units = pd.read_sql_query(sa.text("SELECT unit_code, stratum FROM evaluation_units WHERE year = :y "
                                          "ORDER BY stratum, unit_code"), conn, params={"y": YEAR})
    for seed in range(1, 500):
        rng, chosen = np.random.default_rng(seed), []
        for _, group in units.groupby("stratum", sort=True):
            chosen += list(rng.choice(group["unit_code"].to_numpy(), size=max(1, math.ceil(RATE * len(group))),
                                      replace=False))
        if unit in chosen:
            return seed
    raise AssertionError(f"no seed samples {unit}")


def events(engine, unit: str, stage: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT action, item_code, CAST(score AS float8), reason, username FROM evaluation_events "
            "WHERE year = :y AND unit_code = :c AND stage = :s ORDER BY event_id"),
            {"y": YEAR, "c": unit, "s": stage})]


def proposals(engine, unit: str) -> list[tuple[str, float]]:
    """(item, the score to enter): the data's proposal where there is one, else the item's maximum."""
    _u, items = results.sheet(engine, get_user(engine, "eval-province"), YEAR, unit)
    return [(r["item_code"], r["max_score"] if pd.isna(r["proposed"]) else r["proposed"])
            for r in items.to_dict("records")]


def open_sheet(browser, server: str, unit: str) -> None:
    browser.get(f"{server}/evaluation?round={YEAR}&unit={unit}")
    wait_css(browser, "#evaluation-sheet-head")
    settled(browser)


def enter(browser, item: str, score: float, *, reason: str | None = None) -> None:
    """Type an item's score (and reason), press its Save, wait for the row to say it is saved."""
    row = f"#evaluation-row-{item}"
    field = wait_css(browser, f"{row} .evaluation-score-input")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", field)
    field.clear()
    field.send_keys(f"{score:g}")
    if reason:
        wait_css(browser, f"{row} .evaluation-reason").send_keys(reason)
    click(browser, f"{row} .evaluation-save")
    wait_until(browser, lambda b: "已保存" in b.find_element(By.CSS_SELECTOR, row).text
               or b.find_elements(By.CSS_SELECTOR, "#evaluation-alert.alert-danger"))
    assert not browser.find_elements(By.CSS_SELECTOR, "#evaluation-alert.alert-danger"), \
        browser.find_element(By.ID, "evaluation-alert").text


def submit(browser, stage: str) -> None:
    click(browser, f".evaluation-submit-{stage}")
    wait_css(browser, ".modal.show #evaluation-confirm")
    settled(browser)
    browser.find_element(By.ID, "evaluation-confirm").click()
    alert = wait_css(browser, "#evaluation-alert")
    assert "alert-success" in alert.get_attribute("class"), alert.text
    settled(browser)


def admin_step(browser, button: str) -> None:
    click(browser, button)
    wait_css(browser, ".modal.show #evaluation-confirm")
    settled(browser)
    browser.find_element(By.ID, "evaluation-confirm").click()
    alert = wait_css(browser, "#evaluation-admin-alert")
    assert "alert-success" in alert.get_attribute("class"), alert.text
    settled(browser)


def self_assess(browser, engine, server, username: str, unit: str, pdf=None, *, via_grid: bool = False) -> None:
    sign_in(browser, server, username, PASSWORD)
    if via_grid:  # the row opens the sheet, its code goes into the URL
        browser.get(f"{server}/evaluation")
        click(browser, f"#evaluation-grid .ag-row[row-id='{unit}'] .ag-cell")
        wait_css(browser, "#evaluation-sheet-head")
        assert f"unit={unit}" in browser.current_url and f"round={YEAR}" in browser.current_url
        settled(browser)
    else:
        open_sheet(browser, server, unit)
    items = proposals(engine, unit)
    if pdf is not None:
        first = items[0][0]
        browser.find_element(By.CSS_SELECTOR, f"#evaluation-row-{first} input[type=file]").send_keys(str(pdf))
        wait_until(browser, lambda b: pdf.name in b.find_element(By.CSS_SELECTOR, f"#evaluation-row-{first}").text)
    for item, score in items:
        enter(browser, item, score)
    submit(browser, "self")
    assert wait_css(browser, "#evaluation-unit-state").text == "已提交"
    done = events(engine, unit, "self")
    assert [e[0] for e in done].count("score") == len(items) and done[-1][0] == "submit"
    assert {e[4] for e in done} == {username}


def test_the_round_self_review_check_publish(browser, server, engine, who, screenshot, tmp_path):
    county, prefecture, hospital = who["county"], who["prefecture"], who["hospital"]
    pdf = tmp_path / "运营委员会会议纪要.pdf"
    pdf.write_bytes(tiny_pdf())

    # 1. Self-assessment: the county (opening its sheet from the table, with an evidence PDF), the prefecture,
    #    the designated hospital.
    self_assess(browser, engine, server, who["county_user"], county, pdf, via_grid=True)
    with engine.connect() as conn:
        files = conn.execute(sa.text("SELECT file_name, media_type, username FROM evaluation_evidence "
                                     "WHERE year = :y AND unit_code = :c"), {"y": YEAR, "c": county}).all()
    assert [tuple(f) for f in files] == [(pdf.name, "application/pdf", who["county_user"])]
    self_assess(browser, engine, server, who["prefecture_user"], prefecture)
    self_assess(browser, engine, server, who["hospital_user"], hospital)

    # Another county's supervisor, before publication: neither the county's row nor its sheet.
    sign_in(browser, server, who["other_user"], PASSWORD)
    browser.get(f"{server}/evaluation")
    wait_css(browser, f"#evaluation-grid .ag-row[row-id='{who['other_county']}']")
    settled(browser)
    assert browser.find_elements(By.CSS_SELECTOR, f"#evaluation-grid .ag-row[row-id='{county}']") == []
    browser.get(f"{server}/evaluation?round={YEAR}&unit={county}")
    wait_css(browser, "#evaluation-not-found")
    assert browser.find_elements(By.ID, "evaluation-sheet-head") == []

    # 2. The prefecture reviews its county: one item adjusted with a reason, then submitted.
    item, score = proposals(engine, county)[0]
    adjusted = max(0.0, score - 1)
    sign_in(browser, server, who["prefecture_user"], PASSWORD)
    open_sheet(browser, server, county)
    enter(browser, item, adjusted, reason="会议纪要未体现委员会定期议事")
    submit(browser, "review")
    review = events(engine, county, "review")
    assert review == [("score", item, adjusted, "会议纪要未体现委员会定期议事", who["prefecture_user"]),
                      ("submit", None, None, None, who["prefecture_user"])]
    assert wait_css(browser, "#evaluation-unit-state").text == "已复核"

    # 3. The province draws the sample (a seed that samples the county) and downloads nothing yet.
    seed = seed_sampling(engine, county)
    sign_in(browser, server, who["province"], PASSWORD)
    browser.get(f"{server}/evaluation?round={YEAR}")
    rate = wait_css(browser, "#evaluation-rate")
    rate.clear()
    rate.send_keys(str(RATE))
    wait_css(browser, "#evaluation-seed").send_keys(str(seed))
    admin_step(browser, "#evaluation-draw")
    with engine.connect() as conn:
        sampled = set(conn.execute(sa.text("SELECT unit_code FROM evaluation_units WHERE year = :y AND sampled"),
                                   {"y": YEAR}).scalars())
    assert county in sampled
    assert rounds.get_round(engine, YEAR).sample_seed == seed

    # 4. …checks the county item by item (the first item differs from the self score) and submits.
    open_sheet(browser, server, county)
    checks = proposals(engine, county)
    checks[0] = (checks[0][0], max(0.0, checks[0][1] - 2))
    for code, value in checks:
        enter(browser, code, value)
    submit(browser, "check")
    check = events(engine, county, "check")
    assert [e[0] for e in check].count("score") == len(checks) and check[-1][0] == "submit"
    assert wait_css(browser, "#evaluation-unit-state").text == "已抽查"
    assert wait_css(browser, "#evaluation-total-differing").text == "1"
    assert browser.find_elements(By.CSS_SELECTOR, f"#evaluation-row-{checks[0][0]}.evaluation-differs")

    # 5. …and publishes.
    admin_step(browser, "#evaluation-publish")
    assert rounds.get_round(engine, YEAR).published
    open_sheet(browser, server, county)
    wait_css(browser, "#evaluation-published")
    full_page_screenshot(browser, screenshot, "evaluation")

    # 6. The 全省评价报告 generates from the page: the checked county's final score is in it.
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    click(browser, '#evaluation-reports button[id*=\'"fmt":"docx"\']')
    files = wait_until(browser, lambda b: [f for f in tmp_path.glob("*评价报告.docx")], timeout=60)
    time.sleep(0.5)  # let Chromium finish writing
    report = docx.Document(str(files[0]))
    assert report.paragraphs[0].text == f"吉林省{YEAR}年公立医疗机构经济管理年活动评价报告"
    final = results.units(engine, get_user(engine, who["province"]), YEAR).set_index("unit_code").loc[county]
    scores = next(t for t in report.tables if [c.text for c in t.rows[0].cells][:2] == ["单位", "层级"])
    row = next(r for r in scores.rows if r.cells[0].text == final["name"])
    assert float(row.cells[6].text) == final["final_total"] == sum(v for _, v in checks)

    # The audit log: every step, by whom, from where.
    log = audit.search(engine, action="evaluation.").iloc[::-1]
    log = log[log["action"] != "evaluation.round"]  # opened by the fixture, through the library
    assert log["address"].notna().all()
    submits = log[log["action"] == "evaluation.submit"]
    assert list(zip(submits["object"], submits["username"])) == [
        (f"{YEAR}/{county}", who["county_user"]), (f"{YEAR}/{prefecture}", who["prefecture_user"]),
        (f"{YEAR}/{hospital}", who["hospital_user"]), (f"{YEAR}/{county}", who["prefecture_user"]),
        (f"{YEAR}/{county}", who["province"])]
    assert [d for d in submits["details"]] and list(log.loc[log["action"] == "evaluation.evidence", "username"]) \
        == [who["county_user"]]
    assert list(log.loc[log["action"].isin(["evaluation.sample", "evaluation.publish"]), "action"]) == [
        "evaluation.sample", "evaluation.publish"]
    scores = log[log["action"] == "evaluation.score"]
    assert len(scores) == 11 * 3 + 1 + len(checks)
