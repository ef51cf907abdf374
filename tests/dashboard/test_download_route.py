"""The streamed download route ``/download/rankings.<csv|xlsx>`` on a real ``opsmon serve`` of the demo.

Signed in through the sign-in form with the demo accounts, as a browser is: the file equals what the
indicator API's exporter writes for the same selection (and the page's own buttons send); a
supervisor gets its prefecture's rows only whatever the query string names; a hospital user, a
leader and a request without a session get no file; a bad parameter is a 400 that names it; every
download is in the audit log.
"""

from __future__ import annotations

import base64
import io
import re
from urllib.parse import unquote

import openpyxl
import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from conftest import find, post_login, signed_in

from opsmon.dashboard import exports
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import rankings
from opsmon.indicators import IDS, export, query, reporting

PASSWORDS = {"demo-admin": "opsmon-admin-demo", "demo-leader": "opsmon-leader-demo",
             "demo-analyst": "opsmon-analyst-demo", "demo-supervisor": "opsmon-supervisor-demo",
             "demo-hospital": "opsmon-hospital-demo"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ROUTE = "/download/rankings"


def session_for(base: str, username: str) -> requests.Session:
    s = requests.Session()
    assert post_login(s, base, username, PASSWORDS[username]).status_code == 302
    return s


def attachment_name(response: requests.Response) -> str:
    """The file name of a ``Content-Disposition: attachment`` (its UTF-8 form when given)."""
    header = response.headers["Content-Disposition"]
    assert header.startswith("attachment")
    utf8 = re.search(r"filename\*=UTF-8''([^;]+)", header)
    return unquote(utf8.group(1)) if utf8 else re.search(r'filename="?([^";]+)', header).group(1)


def cells(content: bytes) -> list[tuple]:
    """Every row of the workbook's only sheet, as values."""
    return list(openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True))


def table(content: bytes) -> pd.DataFrame:
    """A CSV download's table (after its two ``#`` lines)."""
    return pd.read_csv(io.BytesIO(content), encoding="utf-8-sig", skiprows=exports.PREAMBLE_LINES,
                       dtype={"code": str, "parent_code": str})


@pytest.fixture(scope="module")
def period(demo_engine) -> str:
    return reporting.latest_period(demo_engine)


@pytest.fixture(scope="module")
def app(demo_engine):
    return create_app(demo_engine)


@pytest.fixture(scope="module")
def prefecture_of(demo_engine) -> dict[str, str]:
    """Each hospital's and each county's prefecture-level unit (梅河口市 is its own)."""
    with demo_engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT code, a.ancestor_adcode FROM (SELECT hospital_code AS code, adcode FROM hospitals "
            "UNION ALL SELECT adcode, adcode FROM regions) units JOIN region_ancestors a USING (adcode) "
            "JOIN regions r ON r.adcode = a.ancestor_adcode "
            "WHERE r.level = 'prefecture' OR (r.level = 'county' AND r.parent_adcode = '220000')")).all()
    return {code.strip(): prefecture for code, prefecture in rows}


# --------------------------------------------------------------------------------------- the content
def test_the_file_is_the_exporters_for_the_selection(dashboard_server, app, demo_engine, period):
    selection = {"indicator": "medical_service_revenue_share", "level": "hospital", "period": period,
                 "span": "quarter", "tier": "二级", "pilot": "0"}
    s = session_for(dashboard_server, "demo-analyst")
    got_csv = s.get(f"{dashboard_server}{ROUTE}.csv", params=selection)
    got_xlsx = s.get(f"{dashboard_server}{ROUTE}.xlsx", params=selection)
    assert got_csv.status_code == 200 and got_csv.headers["Content-Type"].startswith("text/csv")
    assert got_xlsx.status_code == 200 and got_xlsx.headers["Content-Type"] == XLSX
    assert got_csv.headers["Cache-Control"] == "no-store"

    with signed_in(app, demo_engine, "demo-analyst"):
        values = rankings.PAGE.read(selection)
        # The page's own buttons (dcc.Download) for the same selection: the same file, under the same name.
        button_csv, button_xlsx = rankings.download("csv", values), rankings.download("xlsx", values)
        # And the indicator API's exporter on the same query.
        frame, title, _name, as_of = rankings.export_selection(values, "csv")
        exporter = export.export_table(frame, "csv", title=title, as_of=as_of, language="zh",
                                       preamble=exports.preamble(title, as_of))
    assert got_csv.content == base64.b64decode(button_csv["content"]) == exporter
    assert attachment_name(got_csv) == button_csv["filename"] and attachment_name(got_xlsx) == button_xlsx["filename"]
    assert cells(got_xlsx.content) == cells(base64.b64decode(button_xlsx["content"]))

    # The rows are the query's (an analyst of the province sees every hospital), in ranking order.
    api = query(demo_engine, "medical_service_revenue_share", "hospital", period, span="quarter",
                filters={"tier": ["二级"], "is_pilot": False})
    got = table(got_csv.content)
    assert sorted(got["code"]) == sorted(api["code"]) and len(got) > 0
    assert got.set_index("code")["value"].to_dict() == pytest.approx(
        api.set_index("code")["value"].to_dict(), nan_ok=True)
    ranked = got["value"].dropna().tolist()
    assert ranked == sorted(ranked, reverse=True)  # higher is better for this share: highest first
    sheet = cells(got_xlsx.content)
    assert "医院级别=二级" in sheet[0][0] and sheet[1][0].startswith("数据截至")
    assert sheet[3][:3] == ("层级", "代码", "名称") and len(sheet) == 4 + len(api)


def test_all_indicators_from_the_pages_link(dashboard_server, app, demo_engine, period):
    with signed_in(app, demo_engine, "demo-analyst"):
        link = find(rankings.layout(level="county", period=period), "rankings-xlsx-all")
        assert link.href == rankings.download_href(rankings.PAGE.read({"level": "county", "period": period}))
        long_href, wide_href = rankings.update_download_href("debt_ratio", "county", period, "ytd", "220100", None,
                                                             None, None, None, "", {"lang": "en"})
        assert long_href.endswith("lang=en") and wide_href.endswith("layout=wide&lang=en")
    assert link.href.startswith(f"{ROUTE}.xlsx?") and "indicator=all" in link.href and "level=county" in link.href
    got = session_for(dashboard_server, "demo-analyst").get(dashboard_server + link.href)
    assert got.status_code == 200 and got.headers["Content-Type"] == XLSX
    assert "全部指标" in attachment_name(got) and attachment_name(got).endswith(".xlsx")
    sheet = cells(got.content)
    headers = list(sheet[3])
    rows = [dict(zip(headers, r)) for r in sheet[4:]]
    api = query(demo_engine, None, "county", period)
    assert len(rows) == len(api) == 60 * len(IDS)
    # By indicator in catalogue order, each one's counties together.
    order = [r["指标代码"] for r in rows]
    assert [i for n, i in enumerate(order) if n == 0 or order[n - 1] != i] == list(IDS)
    wb = openpyxl.load_workbook(io.BytesIO(got.content)).active
    value = headers.index("数值") + 1
    surplus = next(n for n, r in enumerate(rows) if r["指标代码"] == "surplus_rate" and r["数值"] is not None)
    assert wb.cell(row=5 + surplus, column=value).number_format == "0.0%"


# --------------------------------------------------------------------------------------- who gets what
def test_a_supervisor_gets_its_prefecture_whatever_the_query_says(dashboard_server, period, prefecture_of):
    s = session_for(dashboard_server, "demo-supervisor")  # 长春市 (220100)
    base = {"indicator": "surplus_rate", "level": "hospital", "period": period}
    own = s.get(f"{dashboard_server}{ROUTE}.csv", params=base)
    assert own.status_code == 200
    mine = table(own.content)
    assert len(mine) > 0 and {prefecture_of[c] for c in mine["code"]} == {"220100"}
    crafted = [
        {**base, "region": "220200"},  # another prefecture: the empty table the page shows
        {**base, "scope": "220000", "region": "220000"},  # a scope is not a parameter; the province is
        {**base, "indicator": "all", "level": "county", "scope": "220000", "user": "demo-admin"},
    ]
    for params in crafted:
        for fmt in ("csv", "xlsx"):
            r = s.get(f"{dashboard_server}{ROUTE}.{fmt}", params=params)
            assert r.status_code == 200, (params, r.text[:200])
            codes = (table(r.content)["code"].tolist() if fmt == "csv" else
                     [row[1] for row in cells(r.content)[4:]])
            assert {prefecture_of[str(c)] for c in codes} <= {"220100"}, params
    assert table(s.get(f"{dashboard_server}{ROUTE}.csv", params=crafted[0]).content).empty


def test_a_hospital_user_and_a_leader_get_no_file(dashboard_server, period, demo_engine):
    params = {"indicator": "surplus_rate", "level": "hospital", "period": period}
    for user in ("demo-hospital", "demo-leader"):  # the hospital may not open the page; the leader may not export
        r = session_for(dashboard_server, user).get(f"{dashboard_server}{ROUTE}.xlsx", params=params)
        assert r.status_code == 403 and r.json() == {"error": "forbidden"}
        assert "Content-Disposition" not in r.headers
    with demo_engine.connect() as conn:
        refused = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'access.denied' AND object = :o "
            "AND username IN ('demo-hospital', 'demo-leader')"), {"o": f"{ROUTE}.xlsx"}).scalar_one()
    assert refused >= 2


def test_without_a_session_the_route_sends_the_sign_in_page(dashboard_server, period):
    r = requests.get(f"{dashboard_server}{ROUTE}.xlsx", params={"indicator": "all", "period": period},
                     allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=%2Fdownload%2Frankings.xlsx")
    assert "Content-Disposition" not in r.headers


@pytest.mark.parametrize("params, parameter", [
    ({"level": "planet"}, "level"),
    ({"indicator": "no_such_indicator"}, "indicator"),
    ({"period": "1999-01"}, "period"),
    ({"period": "2025-13"}, "period"),
    ({"span": "decade"}, "span"),
    ({"region": "999999"}, "region"),
    ({"tier": "三级,五级"}, "tier"),
    ({"pilot": "maybe"}, "pilot"),
    ({"lang": "fr"}, "lang"),
    ({"layout": "pivot"}, "layout"),
    ({"level": ["county", "planet"]}, "level"),  # every value of a repeated key is checked
])
def test_a_bad_parameter_is_a_400_that_names_it(dashboard_server, params, parameter):
    r = session_for(dashboard_server, "demo-analyst").get(f"{dashboard_server}{ROUTE}.xlsx", params=params)
    assert r.status_code == 400 and "Content-Disposition" not in r.headers
    answer = r.json()
    assert answer["error"] == "bad_parameter" and answer["parameter"] == parameter
    assert answer["message"].startswith("下载参数无效：" + parameter)


def test_the_wide_layout_is_an_excel_sheet_only(dashboard_server, period):
    r = session_for(dashboard_server, "demo-analyst").get(
        f"{dashboard_server}{ROUTE}.csv", params={"indicator": "all", "period": period, "layout": "wide"})
    assert r.status_code == 400 and r.json()["parameter"] == "layout" and "Content-Disposition" not in r.headers


def test_all_indicators_wide_from_the_pages_link(dashboard_server, app, demo_engine, period):
    with signed_in(app, demo_engine, "demo-analyst"):
        link = find(rankings.layout(level="county", period=period), "rankings-xlsx-wide")
    assert link.href.startswith(f"{ROUTE}.xlsx?") and "indicator=all" in link.href and "layout=wide" in link.href
    got = session_for(dashboard_server, "demo-analyst").get(dashboard_server + link.href)
    assert got.status_code == 200 and got.headers["Content-Type"] == XLSX
    assert re.search(r"全部指标.*_宽表\.xlsx$", attachment_name(got))
    sheet = cells(got.content)
    headers = list(sheet[3])
    api = query(demo_engine, None, "county", period)
    assert sorted(r[1] for r in sheet[4:]) == sorted(api["code"].unique())  # each of the 60 counties once
    assert len(headers) == 6 + len(IDS) + 1 and headers[-1] == "近似"
    # Every value of the query, in its county's row and its indicator's column (catalogue order).
    got_values = {(r[1], i): r[6 + n] for r in sheet[4:] for n, i in enumerate(IDS)}
    for rec in api.itertuples():
        assert got_values[(rec.code, rec.indicator)] == (pytest.approx(rec.value) if pd.notna(rec.value) else None)


def test_an_unknown_format_is_a_400(dashboard_server):
    r = session_for(dashboard_server, "demo-analyst").get(f"{dashboard_server}{ROUTE}.json", params={"lang": "en"})
    assert r.status_code == 400
    assert r.json()["parameter"] == "format" and r.json()["message"] == "Invalid download parameter: format=json"


def test_a_download_is_audited_with_its_rows(dashboard_server, demo_engine, period):
    s = session_for(dashboard_server, "demo-analyst")
    r = s.get(f"{dashboard_server}{ROUTE}.xlsx", params={"indicator": "all", "level": "prefecture",
                                                           "period": period})
    assert r.status_code == 200
    with demo_engine.connect() as conn:
        entry = conn.execute(sa.text("SELECT object, details FROM audit_log WHERE action = 'export' "
                                     "AND username = 'demo-analyst' ORDER BY audit_id DESC LIMIT 1")).one()
    assert entry.object == attachment_name(r)
    assert entry.details["rows"] == len(cells(r.content)) - 4 == 10 * len(IDS)  # 9 prefectures and 梅河口市


# --------------------------------------------------------------------------------------- in a browser
@pytest.mark.browser
def test_the_link_downloads_every_indicator_in_a_browser(browser, dashboard_url, demo_engine, period, tmp_path):
    """A person clicks 全部指标 Excel after changing the span: the file is saved under its Chinese name, for
    the span now shown (the link follows the controls), the page stays."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    browser.get(f"{dashboard_url}/rankings?level=prefecture&period={period}")
    wait = WebDriverWait(browser, 45, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#rankings-grid .ag-row"))
    browser.find_element(By.XPATH, "//*[@id='rankings-span']//label[normalize-space()='本年累计']").click()
    wait.until(lambda b: "span=ytd" in (b.find_element(By.ID, "rankings-xlsx-all").get_attribute("href") or ""))
    browser.find_element(By.ID, "rankings-xlsx-all").click()
    files = wait.until(lambda b: [p for p in tmp_path.glob("*.xlsx")])
    assert "全部指标" in files[0].name and "/rankings" in browser.current_url
    rows = list(openpyxl.load_workbook(files[0]).active.iter_rows(values_only=True))
    assert "累计" in rows[0][0]  # the title names the span chosen (本年累计)
    assert len(rows) - 4 == len(query(demo_engine, None, "prefecture", period, span="ytd"))
