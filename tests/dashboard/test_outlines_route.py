"""The maps' outlines by URL: ``/outlines/<kind>/<adcode>.geojson`` on a real ``opsmon serve`` of the demo.

A map's figure names its boundaries by URL instead of carrying them (plotly.js fetches the URL);
the route serves the boundaries the map draws, cached by the browser under a URL that carries their
digest, and answers anything else with 404 — behind the sign-in like every route.
"""

from __future__ import annotations

import pytest
import requests

from conftest import post_login, signed_in

from opsmon import geo
from opsmon.dashboard.app import create_app
from opsmon.dashboard.pages import overview
from opsmon.indicators import reporting

PROVINCE = "220000"


@pytest.fixture(scope="module")
def leader(dashboard_server) -> requests.Session:
    s = requests.Session()
    assert post_login(s, dashboard_server, "demo-leader", "opsmon-leader-demo").status_code == 302
    return s


@pytest.fixture(scope="module")
def province_map(demo_engine) -> dict:
    """The overview's map figure of the province at its latest month, as the callback returns it."""
    app = create_app(demo_engine)
    with signed_in(app, demo_engine, "demo-leader"):
        outputs = overview.update(reporting.latest_period(demo_engine), "reporting_rate")
    return outputs[1].to_plotly_json()


def jilin_units() -> set[str]:
    """What a map of 吉林 draws, from the shipped region list: its prefecture-level units and the
    county-level units it runs directly (梅河口市, 公主岭市)."""
    regions = geo.load_regions(PROVINCE)
    return set(regions.loc[regions["parent_adcode"] == PROVINCE, "adcode"])


def test_the_figure_names_its_outlines_by_url_and_the_url_serves_them(province_map, dashboard_server, leader):
    urls = {trace["geojson"] for trace in province_map["data"]}
    assert len(urls) == 1, "every trace of the map reads the same outlines"
    url = urls.pop()
    assert isinstance(url, str) and url.startswith(f"/outlines/units/{PROVINCE}.geojson?v=")
    r = leader.get(dashboard_server + url)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/geo+json")
    served = {f["properties"]["adcode"] for f in r.json()["features"]}
    assert served == jilin_units()
    assert set(province_map["data"][0]["locations"]) <= served


def test_the_digested_url_is_cached_for_good_and_the_bare_one_revalidates(province_map, dashboard_server, leader):
    url = province_map["data"][0]["geojson"]
    fresh = leader.get(dashboard_server + url)
    assert "immutable" in fresh.headers["Cache-Control"] and "max-age=31536000" in fresh.headers["Cache-Control"]
    bare = leader.get(dashboard_server + url.split("?")[0])
    assert bare.headers["Cache-Control"] == "private, no-cache" and bare.content == fresh.content
    again = leader.get(dashboard_server + url.split("?")[0], headers={"If-None-Match": fresh.headers["ETag"]})
    assert again.status_code == 304 and not again.content


def test_a_prefectures_counties(dashboard_server, leader):
    r = leader.get(f"{dashboard_server}/outlines/prefecture/220100.geojson")
    counties = geo.load_regions(PROVINCE)
    inside = set(counties.loc[(counties["level"] == "county") & (counties["geo_parent_adcode"] == "220100"),
                              "adcode"])
    assert r.status_code == 200 and {f["properties"]["adcode"] for f in r.json()["features"]} == inside


@pytest.mark.parametrize("path", [
    "/outlines/planet/220000.geojson",  # no such kind
    "/outlines/units/22000.geojson",  # not six digits
    "/outlines/units/2200a0.geojson",
    "/outlines/units/990000.geojson",  # no such province: nothing to draw
    "/outlines/prefecture/229900.geojson",
])
def test_anything_else_is_not_found(dashboard_server, leader, path):
    r = leader.get(dashboard_server + path)
    assert r.status_code == 404 and "features" not in r.text


def test_a_path_in_the_code_never_reaches_the_files(dashboard_server, leader):
    # An encoded slash splits the code: the route does not match, and the app's page shell answers.
    r = leader.get(f"{dashboard_server}/outlines/units/..%2F..%2F220000.geojson")
    assert not r.headers["Content-Type"].startswith("application/geo+json") and '"features"' not in r.text


def test_without_a_session_the_route_sends_the_sign_in_page(dashboard_server):
    r = requests.get(f"{dashboard_server}/outlines/units/{PROVINCE}.geojson", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=%2Foutlines%2F")
