"""The page specification (opsmon/dashboard/page.py): URL ⇄ controls, the request's language, permissions.

Plain functions against the demo province: what every page gets from its ``PAGE`` declaration.
"""

from __future__ import annotations

import dash
import pytest
from conftest import find, make_user, signed_in

from opsmon.dashboard import url_query
from opsmon.dashboard.app import PAGES, create_app
from opsmon.dashboard.pages import hospital, overview, rankings, risk, targets, trends
from opsmon.dashboard.strings import current_language, t
from opsmon.indicators import get, reporting

PROVINCE = "220000"


@pytest.fixture(scope="module")
def app(demo_engine):
    return create_app(demo_engine)


@pytest.fixture
def admin(app, demo_engine):
    with signed_in(app, demo_engine, "demo-admin"):
        yield


@pytest.fixture(scope="module")
def period(demo_engine) -> str:
    return reporting.latest_period(demo_engine)


def test_every_page_is_registered_with_its_permission_and_title(app):
    registry = {entry["module"]: entry for entry in dash.page_registry.values()}
    assert [page.prefix for page in PAGES] == ["overview", "rankings", "trends", "risk", "disposal", "evaluation",
                                                "bulletin", "targets", "submissions", "upload", "hospital", "admin",
                                                "account"]
    for page in PAGES:
        entry = registry[page.module]
        assert entry["permission"] == page.permission and entry["name"] == page.name_key
        assert entry["title"].endswith(t("app.title"))
    assert registry[overview.PAGE.module]["title"] == t("app.title")  # the home page: the app's title alone
    assert registry[hospital.PAGE.module]["path_template"] == "/hospital/<code>"
    assert registry[rankings.PAGE.module]["title"] == f"排名 · {t('app.title')}"


def test_controls_read_from_the_url_and_write_back_without_their_defaults(admin, period):
    values = rankings.PAGE.read({"indicator": "debt_ratio", "period": period, "tier": "三级,四级", "pilot": "1",
                                 "span": "decade", "level": "nowhere"})
    assert values == {"indicator": "debt_ratio", "level": "hospital", "period": period, "span": "month",
                      "region": None, "tier": ["三级"], "category": [], "affiliation": [], "authority": [],
                      "pilot": "1"}
    # The span's default (month) is left out of the URL; the period stays (a link names its month).
    assert url_query.search(rankings.PAGE.params(values)) == f"?indicator=debt_ratio&level=hospital&period={period}" \
        "&tier=%E4%B8%89%E7%BA%A7&pilot=1"
    assert targets.PAGE.params(targets.PAGE.read({})) == {"period": period, "region": None}  # the province: left out
    assert trends.PAGE.params({"months": 24, "span": "ytd"}) == {"months": None, "span": "ytd"}
    # A control whose component id is not its key.
    assert risk.PAGE.control_id("risk_level") == "risk-level"
    # The overview's region comes from its view store, after the controls.
    assert list(overview.PAGE.params({"period": period, "indicator": "surplus_rate"}, {"region": "220100"})) == [
        "period", "indicator", "region"]


def test_a_layout_renders_in_the_urls_language_and_keeps_it_for_its_callbacks(admin, period):
    page = rankings.layout(lang="en", period=period)
    assert find(page, "rankings-view").data == {"lang": "en"}
    assert "Rankings" in str(page) and "排名" not in str(find(page, "rankings-level"))
    assert find(rankings.layout(period=period), "rankings-view").data == {"lang": "zh"}
    assert current_language() == "zh"  # nothing leaks out of a request's rendering

    english = rankings.update("surplus_rate", "county", period, "month", None, [], [], [], [], "",
                              {"lang": "en"})
    assert english[4] == "Ranking table (60)"  # the table's title, in the page's language
    assert english[3].startswith(get("surplus_rate").en)
    chinese = rankings.update("surplus_rate", "county", period, "month", None, [], [], [], [], "", {"lang": "zh"})
    assert chinese[4] == "排名明细（60）" and chinese[3].startswith(get("surplus_rate").zh)
    assert current_language() == "zh"


def test_the_upload_page_stays_chinese(app, demo_engine):
    from opsmon.dashboard.pages import upload

    with signed_in(app, demo_engine, "demo-admin"):
        assert find(upload.layout(lang="en"), "upload-confirm").children == "确认提交"


def test_a_page_the_role_may_not_open_renders_the_refusal_only(app, demo_engine):
    make_user(demo_engine, "page-clerk", "hospital", hospital_code(demo_engine))
    with signed_in(app, demo_engine, "page-clerk"):
        page = rankings.layout(lang="en")
        assert find(page, "not-permitted") is not None and find(page, "rankings-view") is None
        assert "Not permitted" in str(page)  # in the URL's language
        assert not rankings.PAGE.may_open() and hospital.PAGE.may_open()


def hospital_code(engine) -> str:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT hospital_code FROM hospitals ORDER BY hospital_code LIMIT 1")).scalar_one()


def test_units_the_province_runs_directly_are_marked(admin, demo_engine, period):
    from opsmon.dashboard.pages import submissions

    frame, _, _, _ = overview.map_frame(demo_engine, PROVINCE, period, "reporting_rate")
    labels = dict(zip(frame["code"], frame["label"]))
    assert labels["220581"] == "梅河口市（省直管）" and labels["220100"] == "长春市"
    rates = submissions.update(period, None, {"lang": "en"})[2].rowData
    assert {r["code"]: r["label"] for r in rates}["220581"] == "梅河口市（Province-administered）"
    counts = risk.update(period, [], [], [], None, [], {"lang": "zh"})[1]
    assert "梅河口市（省直管）" in list(counts.data[0].text) + list(counts.data[-1].text)
