"""Which month a view opens on (spec: "Periods: the month being collected and the latest closed month").

Every page without a period in its URL opens on the latest closed month, its reporting rate beside it;
报送 and the upload page open on the collecting month and say that collection is in progress (已报 n /
应报 m, 截止 date). The clock is set per test (OPSMON_TODAY); the demo (tests/conftest.py) holds the 14
months ending 2026-05.
"""

from __future__ import annotations

import pytest
import requests
import sqlalchemy as sa
from conftest import find, make_user, post_login, signed_in

from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import hospital, overview, rankings, risk, submissions, trends, upload
from opsmon.indicators import query

PROVINCE = "220000"


@pytest.fixture(scope="module")
def app(demo_engine):
    return create_app(demo_engine)


@pytest.fixture
def admin(app, demo_engine):
    with signed_in(app, demo_engine, "demo-admin"):
        yield


def counts(engine, period: str, level: str = "province", code: str = PROVINCE) -> tuple[int, int]:
    """(reporting, expected) of *code* for *period*, from the indicator API."""
    frame = query(engine, ["hospitals_reporting", "hospitals_expected"], level, period)
    values = frame[frame["code"] == code].set_index("indicator")["value"]
    return int(values["hospitals_reporting"]), int(values["hospitals_expected"])


def a_hospital(engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT hospital_code FROM hospitals ORDER BY hospital_code LIMIT 1")).scalar_one()


# ----------------------------------------------------------------------------------------- the latest closed month
def test_pages_open_on_the_latest_closed_month_with_its_reporting_rate(admin, demo_engine, monkeypatch):
    # 2026-06-05: May is due on 2026-06-10, still being collected; April is the latest closed month.
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-05")
    n, m = counts(demo_engine, "2026-04")
    assert m > 0
    closed = f"2026年4月（已截止）：已报 {n:,} / 应报 {m:,}，报送率 {n / m:.1%}"
    for page, prefix in ((overview, "overview"), (rankings, "rankings"), (risk, "risk"), (trends, "trends")):
        tree = page.layout()
        assert find(tree, f"{prefix}-period").value == "2026-04", prefix
        assert find(tree, f"{prefix}-period-closed").children == closed, prefix
    # The newer month with data stays one choice away.
    assert "2026-05" in [o["value"] for o in find(overview.layout(), "overview-period").options]
    code = a_hospital(demo_engine)
    tree = hospital.layout(code=code)
    assert find(tree, "hospital-period").value == "2026-04"
    own = counts(demo_engine, "2026-04", "hospital", code)[0]
    assert find(tree, "hospital-period-closed").children == ("2026年4月：本院已报送" if own else "2026年4月：本院未报送")


def test_a_period_in_the_url_wins(admin, monkeypatch):
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-05")
    assert find(overview.layout(period="2026-02"), "overview-period").value == "2026-02"


def test_a_database_whose_data_stop_earlier_opens_on_its_newest_month(admin, monkeypatch):
    # 2027-03-01: 2027-01 is the latest closed month, but the demo stops at 2026-05.
    monkeypatch.setenv("OPSMON_TODAY", "2027-03-01")
    assert find(rankings.layout(), "rankings-period").value == "2026-05"


def test_the_status_follows_the_chosen_month(admin, demo_engine, monkeypatch):
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-05")
    n, m = counts(demo_engine, "2026-03")
    line = find(rankings.PAGE.status({"period": "2026-03"}), "rankings-period-closed")
    assert line.children == f"2026年3月（已截止）：已报 {n:,} / 应报 {m:,}，报送率 {n / m:.1%}"
    # In English, and for a region chosen on the page (长春市).
    n, m = counts(demo_engine, "2026-03", "prefecture", "220100")
    from opsmon.dashboard.strings import using_language

    with using_language("en"):
        line = find(rankings.PAGE.status({"period": "2026-03", "region": "220100"}), "rankings-period-closed")
    assert line.children == f"Mar 2026 (closed): {n:,} of {m:,} reported, reporting rate {n / m:.1%}"


# ----------------------------------------------------------------------------------------- the collecting month
def test_submissions_open_on_the_collecting_month_and_say_collection_is_in_progress(admin, demo_engine, monkeypatch):
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-05")  # May is being collected, due 2026-06-10
    n, m = counts(demo_engine, "2026-05")
    tree = submissions.layout()
    assert find(tree, "submissions-period").value == "2026-05"
    assert find(tree, "submissions-period-collecting").children == \
        f"2026年5月数据正在收集：已报 {n:,} / 应报 {m:,}，截止 2026-06-10"
    # A closed month chosen there shows its rate instead.
    assert find(submissions.PAGE.status({"period": "2026-04"}), "submissions-period-collecting") is None


def test_the_collecting_month_is_offered_before_anyone_reports_it(admin, demo_engine, monkeypatch):
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-23")  # May closed on the 10th; June is being collected
    m = counts(demo_engine, "2026-05")[1]  # June's hospitals: the demo opens and closes none after May
    tree = submissions.layout()
    dropdown = find(tree, "submissions-period")
    assert dropdown.value == "2026-06" and dropdown.options[0]["value"] == "2026-06"
    assert find(tree, "submissions-period-collecting").children == \
        f"2026年6月数据正在收集：已报 0 / 应报 {m:,}，截止 2026-07-10"
    # The other pages open on May.
    assert find(overview.layout(), "overview-period").value == "2026-05"


def test_the_upload_page_shows_the_collecting_month(app, demo_engine, monkeypatch):
    monkeypatch.setenv("OPSMON_TODAY", "2026-06-05")
    n, m = counts(demo_engine, "2026-05")
    with signed_in(app, demo_engine, "demo-admin"):
        assert find(upload.layout(), "upload-period-collecting").children == \
            f"2026年5月数据正在收集：已报 {n:,} / 应报 {m:,}，截止 2026-06-10"
    code = a_hospital(demo_engine)
    make_user(demo_engine, "months-clerk", "hospital", code)
    own = counts(demo_engine, "2026-05", "hospital", code)[0]
    with signed_in(app, demo_engine, "months-clerk"):  # a hospital's clerk: its own hospital, 1 expected
        assert find(upload.layout(), "upload-period-collecting").children == \
            f"2026年5月数据正在收集：已报 {own} / 应报 1，截止 2026-06-10"


# ----------------------------------------------------------------------------------------- the hospital page
def test_cards_say_not_reported_when_the_month_has_no_report(admin, demo_engine):
    frame = query(demo_engine, "hospitals_reporting", "hospital", "2026-05")
    missing = frame.loc[frame["value"] == 0, "code"]
    reported = frame.loc[frame["value"] == 1, "code"]
    assert len(missing) and len(reported), "the demo has hospitals that did and did not report 2026-05"
    tier = hospital.registry(missing.iloc[0])["tier"]
    cards = hospital.kpi_cards(demo_engine, missing.iloc[0], tier, "2026-05", "month")
    assert [sub_line(col) for col in cards.children] == [["未报送", None]] * len(hospital.KEY_IDS)
    # A hospital that reported keeps the tier median beside its values.
    tier = hospital.registry(reported.iloc[0])["tier"]
    cards = hospital.kpi_cards(demo_engine, reported.iloc[0], tier, "2026-05", "month")
    assert all("中位数" in sub_line(col)[0] for col in cards.children)


def sub_line(col) -> list:
    """The line under a KPI card's value (components.kpi: Col > Card > CardBody > [label, value, sub])."""
    return col.children.children.children[2].children


# ----------------------------------------------------------------------------------------- landing
def test_a_hospital_user_lands_on_its_own_hospital(dashboard_server, demo_engine):
    with demo_engine.connect() as conn:
        code = conn.execute(sa.text("SELECT hospital_code FROM users WHERE username = 'demo-hospital'")).scalar_one()
    s = requests.Session()
    assert post_login(s, dashboard_server, "demo-hospital", "opsmon-hospital-demo").status_code == 302
    for path, target in (("/", f"/hospital/{code}"), ("/?lang=en", f"/hospital/{code}?lang=en")):
        r = s.get(dashboard_server + path, allow_redirects=False)
        assert r.status_code == 302 and r.headers["Location"].endswith(target), (path, r.headers.get("Location"))
    # Everyone else stays on the overview.
    s = requests.Session()
    post_login(s, dashboard_server, "demo-admin", "opsmon-admin-demo")
    assert s.get(dashboard_server + "/", allow_redirects=False).status_code == 200


def test_the_brand_links_a_hospital_user_home(app, demo_engine):
    from opsmon.dashboard import shell

    code = a_hospital(demo_engine)
    make_user(demo_engine, "brand-clerk", "hospital", code)
    with signed_in(app, demo_engine, "brand-clerk"):
        brand = shell.navbar("/").children[0]
    assert brand.href == f"/hospital/{code}"
