"""GET /api/v1/…: analysts and supervisors pull what their scope holds — and nothing else."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from opsmon import indicators
from tests.api.conftest import API_MONTH, hospitals_in, make_caller, prefectures


@pytest.fixture(scope="module")
def two_prefectures(api_engine):
    found = prefectures(api_engine)
    return found[0], found[1]


def descendants(engine, adcode: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT adcode FROM region_ancestors WHERE ancestor_adcode = :a"),
                                {"a": adcode}).scalars())


def test_a_supervisor_pulls_its_prefectures_indicators_and_gets_404_for_another(api_url, api_engine,
                                                                               two_prefectures):
    mine, theirs = two_prefectures
    supervisor = make_caller(api_engine, "api-pull-supervisor", "supervisor", mine)
    got = supervisor.http.get(f"{api_url}/api/v1/indicators",
                              params={"ids": "deficit_hospital_share,debt_ratio", "level": "county",
                                      "period": API_MONTH})
    assert got.status_code == 200, got.text
    rows = got.json()["items"]
    inside = descendants(api_engine, mine)
    assert rows and {r["code"] for r in rows} <= inside
    assert {r["indicator"] for r in rows} == {"deficit_hospital_share", "debt_ratio"}
    # The same rows as the query API gives (the export JSON's columns, 近似 included).
    expected = indicators.query(api_engine, ["deficit_hospital_share", "debt_ratio"], "county", API_MONTH,
                                scope=mine)
    assert len(rows) == len(expected) and set(rows[0]) == set(indicators.COLUMNS)
    by_key = {(r["code"], r["indicator"]): r["value"] for r in rows}
    for row in expected.itertuples():
        want = None if pd.isna(row.value) else pytest.approx(row.value)
        assert by_key[(row.code, row.indicator)] == want

    hidden = supervisor.http.get(f"{api_url}/api/v1/indicators", params={"region": theirs, "period": API_MONTH})
    absent = supervisor.http.get(f"{api_url}/api/v1/indicators", params={"region": "229900", "period": API_MONTH})
    assert hidden.status_code == absent.status_code == 404
    assert hidden.headers["Content-Type"].startswith("application/problem+json")
    assert hidden.json()["type"] == absent.json()["type"] == "urn:opsmon:problem:not_found"
    # Word for word the answer for a region that does not exist (each names the code asked for).
    assert hidden.json()["detail"].replace(theirs, "?") == absent.json()["detail"].replace("229900", "?")


def test_without_a_region_a_supervisor_still_sees_only_its_prefecture(api_url, api_engine, two_prefectures):
    mine, _ = two_prefectures
    supervisor = make_caller(api_engine, "api-pull-supervisor2", "supervisor", mine)
    rows = supervisor.http.get(f"{api_url}/api/v1/indicators",
                               params={"ids": "debt_ratio", "level": "hospital", "period": API_MONTH}).json()["items"]
    assert {r["code"] for r in rows} == set(hospitals_in(api_engine, mine))
    regions = supervisor.http.get(f"{api_url}/api/v1/regions").json()["items"]
    assert {r["adcode"] for r in regions} == descendants(api_engine, mine)
    hospitals = supervisor.http.get(f"{api_url}/api/v1/hospitals").json()["items"]
    assert {h["hospital_code"] for h in hospitals} >= set(hospitals_in(api_engine, mine))
    assert {h["adcode"] for h in hospitals} <= descendants(api_engine, mine)


def test_a_hospital_token_sees_its_own_hospital_only(api_url, api_engine, two_prefectures):
    own = hospitals_in(api_engine, two_prefectures[0])[0]
    hospital = make_caller(api_engine, "api-pull-hospital", "hospital", own)
    rows = hospital.http.get(f"{api_url}/api/v1/indicators",
                             params={"level": "hospital", "ids": "debt_ratio", "period": API_MONTH}).json()["items"]
    assert [r["code"] for r in rows] == [own]
    assert [h["hospital_code"] for h in hospital.http.get(f"{api_url}/api/v1/hospitals").json()["items"]] == [own]
    region_level = hospital.http.get(f"{api_url}/api/v1/indicators", params={"level": "prefecture"})
    assert region_level.status_code == 403
    assert hospital.http.get(f"{api_url}/api/v1/regions").status_code == 403
    risks = hospital.http.get(f"{api_url}/api/v1/risks", params={"period": API_MONTH}).json()["items"]
    assert {r["hospital_code"] for r in risks} <= {own}


def test_risks_are_the_register_rows_of_risks_list_within_scope(api_url, api_engine, two_prefectures):
    from opsmon.indicators import risk

    mine, theirs = two_prefectures
    analyst = make_caller(api_engine, "api-risk-analyst", "analyst", mine)
    got = analyst.http.get(f"{api_url}/api/v1/risks", params={"period": API_MONTH}).json()
    period, frame = risk.risks_frame(api_engine, API_MONTH, scope=mine)
    assert got["period"] == period == API_MONTH
    assert [{k: v for k, v in r.items() if k != "disposal"} for r in got["items"]] == [
        {**r, "projected_period": r.get("projected_period")} for r in risk.risks_document(period, frame)["risks"]]
    assert analyst.http.get(f"{api_url}/api/v1/risks", params={"region": theirs}).status_code == 404


def test_lists_come_in_pages_that_add_up_to_the_whole(api_url, api_engine):
    analyst = make_caller(api_engine, "api-page-analyst", "analyst", "220000")
    whole = analyst.http.get(f"{api_url}/api/v1/hospitals").json()
    assert whole["next_cursor"] is None and len(whole["items"]) > 5
    pages, cursor = [], None
    while True:
        got = analyst.http.get(f"{api_url}/api/v1/hospitals", params={"limit": 4, **({"cursor": cursor} if cursor else {})})
        assert got.status_code == 200
        pages.append(got.json()["items"])
        cursor = got.json()["next_cursor"]
        if cursor is None:
            break
    assert all(len(p) == 4 for p in pages[:-1]) and 1 <= len(pages[-1]) <= 4
    assert [h for p in pages for h in p] == whole["items"]

    first = analyst.http.get(f"{api_url}/api/v1/hospitals", params={"limit": 4}).json()["next_cursor"]
    elsewhere = analyst.http.get(f"{api_url}/api/v1/regions", params={"cursor": first})
    assert elsewhere.status_code == 400 and elsewhere.json()["type"] == "urn:opsmon:problem:invalid_parameters"
    garbage = analyst.http.get(f"{api_url}/api/v1/hospitals", params={"cursor": "not-a-cursor"})
    assert garbage.status_code == 400


@pytest.mark.parametrize("params, field", [
    ({"period": "2026-13"}, "period"), ({"level": "village"}, "level"), ({"limit": 0}, "limit"),
    ({"ids": "no_such_indicator"}, "ids"), ({"surprise": "1"}, "surprise"),
])
def test_bad_parameters_are_a_400_problem_naming_the_parameter(api_url, api_engine, params, field):
    analyst = make_caller(api_engine, "api-param-analyst", "analyst", "220000")
    got = analyst.http.get(f"{api_url}/api/v1/indicators", params=params)
    assert got.status_code == 400
    problem = got.json()
    assert problem["type"] == "urn:opsmon:problem:invalid_parameters"
    assert field in problem["detail"] and field in {e["field"] for e in problem["errors"]}


def test_the_catalogue_is_the_indicator_catalogue(api_url, api_engine):
    analyst = make_caller(api_engine, "api-cat-analyst", "analyst", "220000")
    items = analyst.http.get(f"{api_url}/api/v1/catalogue").json()["items"]
    assert [i["id"] for i in items] == [e.id for e in indicators.CATALOGUE]
    debt = next(i for i in items if i["id"] == "debt_ratio")
    assert debt["zh"] == indicators.get("debt_ratio").zh and debt["unit"] == indicators.get("debt_ratio").unit
