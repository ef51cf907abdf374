"""An adversarial review of /api/v1: what a token may not read, change or learn, whatever the request.

The first group are the problems the review found (each failed before its fix in opsmon/api); the rest pin
security properties no other test covered."""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import urllib.parse
from collections.abc import Iterator

import pytest
import requests
import sqlalchemy as sa

from opsmon.access import audit
from tests.api.conftest import (
    hospitals_in,
    make_caller,
    month_csv,
    month_row,
    more_other_revenue,
    prefectures,
    revisions,
)
from tests.conftest import DEMO_TODAY
from tests.dashboard.conftest import post_login, serve

CSV = {"Content-Type": "text/csv"}
PROBLEM = "application/problem+json"


def raw_get(base_url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """GET *path* exactly as written (requests and urllib3 would remove its dot segments): status, type, body."""
    parts = urllib.parse.urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.getheader("Content-Type", ""), answer.read().decode("utf-8", "replace")
    finally:
        conn.close()


def cursor_parts(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def make_cursor(raw_json: str) -> str:
    return base64.urlsafe_b64encode(raw_json.encode()).decode().rstrip("=")


def assert_problem(got: requests.Response, status: int, code: str) -> None:
    assert got.status_code == status, got.text[:300]
    assert got.headers["Content-Type"].startswith(PROBLEM)
    assert got.json()["type"] == f"urn:opsmon:problem:{code}"


# --- problems the review found (fixed) ---------------------------------------------------------------


def test_a_token_sent_in_the_query_string_is_never_written_to_the_audit_log(api_url, api_engine):
    """A client that puts its token in the URL (a common mistake) must not leave the secret in the audit log,
    which administrators read: bearer.audit_call logs the raw query string."""
    caller = make_caller(api_engine, "review-token-in-query", "analyst", "220000")
    assert caller.http.get(f"{api_url}/api/v1/catalogue", params={"access_token": caller.token}).status_code == 200
    refused = caller.http.get(f"{api_url}/api/v1/hospitals", params={"token": caller.token})
    assert_problem(refused, 400, "invalid_parameters")
    assert caller.token not in refused.text
    entries = audit.search(api_engine, action="api.call", username="review-token-in-query")
    assert len(entries) == 2  # both calls are audited …
    assert audit.search(api_engine, text=caller.token).empty  # … without the token


def test_a_forged_cursor_is_a_400_problem_not_a_server_error(api_url, api_engine):
    """A cursor is the client's to send back: any cursor it can forge is a 400 (v1._offset: an offset that is
    not a finite integer in the range PostgreSQL's OFFSET takes gives a 500 today)."""
    caller = make_caller(api_engine, "review-cursor", "analyst", "220000")
    first = caller.http.get(f"{api_url}/api/v1/hospitals", params={"limit": 2}).json()["next_cursor"]
    fingerprint = cursor_parts(first)["f"]
    infinite = make_cursor('{"o": 1e999, "f": "' + fingerprint + '"}')  # json.loads reads inf; int(inf) raises
    assert_problem(caller.http.get(f"{api_url}/api/v1/hospitals", params={"limit": 2, "cursor": infinite}),
                   400, "invalid_parameters")

    for name in ("a.csv", "b.csv"):  # two logged (rejected) files: a second page of the submissions log
        caller.http.post(f"{api_url}/api/v1/submissions", params={"file_name": name}, data=b"a,b\n1,2\n", headers=CSV)
    page = caller.http.get(f"{api_url}/api/v1/submissions", params={"limit": 1}).json()
    assert page["next_cursor"]
    beyond = make_cursor(json.dumps({"o": 10**30, "f": cursor_parts(page["next_cursor"])["f"]}))
    assert_problem(caller.http.get(f"{api_url}/api/v1/submissions", params={"limit": 1, "cursor": beyond}),
                   400, "invalid_parameters")


@pytest.mark.parametrize("where", ["file_name", "Idempotency-Key"])
def test_a_nul_character_in_a_name_is_a_400_problem_not_a_server_error(api_url, api_engine, where):
    """PostgreSQL text cannot hold NUL: a file_name or Idempotency-Key carrying one is a 500 today
    (schemas.SubmitArgs.file_name and idempotency.once take it as it comes)."""
    own = hospitals_in(api_engine, prefectures(api_engine)[-1])[0]
    hospital = make_caller(api_engine, "review-nul", "hospital", own)
    before = revisions(api_engine, own)
    content = month_csv(more_other_revenue(month_row(api_engine, own), 17))
    params = {"file_name": "快报\x00.csv"} if where == "file_name" else {}
    headers = {**CSV, **({"Idempotency-Key": "hrp\x00001"} if where != "file_name" else {})}
    got = hospital.http.post(f"{api_url}/api/v1/submissions", params=params, data=content, headers=headers)
    assert_problem(got, 400, "invalid_parameters")
    assert revisions(api_engine, own) == before


@pytest.fixture(scope="module")
def limited_url(api_db_url, tmp_path_factory) -> Iterator[str]:
    """A server of its own with a rate limit a test reaches: 3 calls a minute."""
    with serve(api_db_url, tmp_path_factory.mktemp("review-limited"), ready_path="/healthz",
               OPSMON_TODAY=DEMO_TODAY.isoformat(), OPSMON_API_RATE_LIMIT="3 per minute") as url:
        yield url


def test_made_up_tokens_do_not_escape_the_rate_limit(limited_url):
    """The limit is per token for a working token and per address otherwise — but bearer.rate_key buckets
    by the token *sent*, before it is checked: a new made-up token per request is never limited (each costs a
    database write and an audit entry). An anonymous caller is limited after 3 calls; so must this one be."""
    without = [requests.get(f"{limited_url}/api/v1/catalogue").status_code for _ in range(4)]
    assert without == [401, 401, 401, 429]
    made_up = [requests.get(f"{limited_url}/api/v1/catalogue",
                            headers={"Authorization": f"Bearer opsmon_{secrets.token_urlsafe(32)}"}).status_code
               for _ in range(4)]
    assert 429 in made_up, made_up


def test_a_rate_limited_call_is_audited_as_its_tokens(limited_url, api_engine):
    """Every call, refused ones included, names the token's id and label in the audit log; a 429 is answered
    before bearer.authenticate runs, so today it is logged as anonymous."""
    caller = make_caller(api_engine, "review-limited", "analyst", "220000", label="限流审计")
    answers = [caller.http.get(f"{limited_url}/api/v1/catalogue").status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    details = audit.search(api_engine, action="api.call", username="review-limited")["details"]
    assert details.str.contains('"status": 429').any(), details.tolist()
    assert details.str.contains("限流审计").all()


# --- security properties pinned (these pass) -----------------------------------------------------------


def test_the_dashboard_session_is_no_api_credential_and_a_token_opens_no_dashboard_route(api_url, api_engine):
    caller = make_caller(api_engine, "review-two-doors", "analyst", "220000")
    browser = requests.Session()
    assert post_login(browser, api_url, "review-two-doors", "test-password-1").status_code == 302
    assert browser.get(f"{api_url}/_dash-layout").status_code == 200  # signed in to the dashboard …
    for path in ("/api/v1/catalogue", "/api/v1/hospitals", "/api/v1/submissions"):
        got = browser.get(api_url + path)  # … which opens no API route
        assert_problem(got, 401, "unauthorized")
    posted = browser.post(f"{api_url}/api/v1/submissions", data=b"a,b\n1,2\n", headers=CSV)
    assert_problem(posted, 401, "unauthorized")

    # A token is no dashboard session: no layout, no callback, no page.
    assert caller.http.get(f"{api_url}/_dash-layout").status_code == 401
    callback = caller.http.post(f"{api_url}/_dash-update-component",
                                json={"output": "x.children", "inputs": [], "changedPropIds": []})
    assert callback.status_code == 401
    page = caller.http.get(f"{api_url}/rankings", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")


def test_an_idempotency_key_is_the_users_own(api_url, api_engine):
    """Another user sending the same key and body gets an answer of their own, never the first user's
    (which may quote the first hospital's stored figures in its warnings)."""
    first, second = hospitals_in(api_engine, prefectures(api_engine)[-1])[:2]
    one = make_caller(api_engine, "review-key-one", "hospital", first)
    other = make_caller(api_engine, "review-key-other", "hospital", second)
    before = revisions(api_engine, first)
    content = month_csv(more_other_revenue(month_row(api_engine, first), 23))
    keyed = {**CSV, "Idempotency-Key": "review-shared-key"}

    mine = one.http.post(f"{api_url}/api/v1/submissions", data=content, headers=keyed)
    assert mine.status_code == 200 and mine.json()["status"] == "accepted"
    theirs = other.http.post(f"{api_url}/api/v1/submissions", data=content, headers=keyed)
    assert_problem(theirs, 422, "rejected")
    assert "Idempotent-Replayed" not in theirs.headers
    assert "out_of_scope" in {e["code"] for e in theirs.json()["errors"]}
    again = one.http.post(f"{api_url}/api/v1/submissions", data=content, headers=keyed)
    assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == mine.json()
    assert revisions(api_engine, first) == before + 1


def _registry_row(engine: sa.Engine, hospital: str) -> dict[str, object]:
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT hospital_code, name, adcode, level, category, affiliation, authority, is_pilot, "
            "is_budget_managed, budget_authority FROM hospitals WHERE hospital_code = :h"), {"h": hospital}
        ).mappings().one()
    return {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}


def _hospital_name(engine: sa.Engine, hospital: str) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT name FROM hospitals WHERE hospital_code = :h"), {"h": hospital}).scalar()


@pytest.mark.parametrize("role", ["hospital", "analyst"])
def test_only_an_administrator_may_change_the_registry(api_url, api_engine, role):
    """A well-formed registry file renaming the caller's own hospital, as CSV-like JSON rows, with and without
    ?kind=registry: refused as a kind the role may not send, and nothing changes."""
    prefecture = prefectures(api_engine)[-1]
    own = hospitals_in(api_engine, prefecture)[0]
    caller = make_caller(api_engine, f"review-registry-{role}", role, own if role == "hospital" else prefecture)
    name = _hospital_name(api_engine, own)
    row = {**_registry_row(api_engine, own), "name": "改名医院（测试）"}
    for params in ({"kind": "registry"}, {}, {"kind": "registry", "dry_run": "true"}):
        got = caller.http.post(f"{api_url}/api/v1/submissions", params=params, json={"rows": [row]})
        assert_problem(got, 422, "rejected")
        assert got.json()["kind"] == "registry"
        assert "kind_not_permitted" in {e["code"] for e in got.json()["errors"]}
    assert _hospital_name(api_engine, own) == name


def test_a_region_outside_a_hospital_users_scope_is_as_absent_as_one_that_does_not_exist(api_url, api_engine):
    """A hospital user may name the regions its hospital lies in; any other is 404, word for word the answer
    for a code no region has — on every route that takes a region."""
    mine, theirs = prefectures(api_engine)[:2]
    own = hospitals_in(api_engine, mine)[0]
    hospital = make_caller(api_engine, "review-region-probe", "hospital", own)
    with api_engine.connect() as conn:
        counties = conn.execute(sa.text(
            "SELECT DISTINCT CAST(h.adcode AS text) FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
            "WHERE a.ancestor_adcode = :p AND h.adcode <> (SELECT adcode FROM hospitals WHERE hospital_code = :h)"),
            {"p": mine, "h": own}).scalars().all()
    hidden = [theirs, *counties[:1]]  # another prefecture; a county of its own prefecture with other hospitals
    for route, extra in (("hospitals", {}), ("risks", {}), ("indicators", {"level": "hospital"})):
        inside = hospital.http.get(f"{api_url}/api/v1/{route}", params={"region": mine, **extra})
        assert inside.status_code == 200
        assert {i.get("hospital_code", i.get("code")) for i in inside.json()["items"]} <= {own}
        absent = hospital.http.get(f"{api_url}/api/v1/{route}", params={"region": "229900", **extra})
        assert_problem(absent, 404, "not_found")
        for region in hidden:
            got = hospital.http.get(f"{api_url}/api/v1/{route}", params={"region": region, **extra})
            assert_problem(got, 404, "not_found")
            assert got.json()["detail"].replace(region, "?") == absent.json()["detail"].replace("229900", "?")
            assert set(got.headers) - {"Date", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"} == \
                set(absent.headers) - {"Date", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"}


@pytest.mark.parametrize("path", [
    "/api/v1/../_dash-layout",
    "/api/../_dash-layout",
    "/api/v1/docs/../../../_dash-layout",
    "/api/v1/%2e%2e/%2e%2e/_dash-layout",
    "/api/v1/docs/..%2F..%2Fbearer.py",
    "/api/v1/docs/..%2F..%2F..%2Faccess%2Ftokens.py",
    "/api/v1/docs/swagger-editor-bundle.js",
    "/api/v1/docs/oauth2-redirect.html",
    "/api/v1/docs/swagger-ui-bundle.js.map",
])
def test_an_api_path_never_reaches_the_dashboard_or_another_file(api_url, api_engine, path):
    """The dashboard's session gate lets every /api/ path through to the API: one no API route serves must be
    a 404 problem — never a dashboard answer (with or without a token), never a file outside the list."""
    caller = make_caller(api_engine, "review-paths", "analyst", "220000")
    for headers in ({}, {"Authorization": f"Bearer {caller.token}"}):
        status, media_type, text = raw_get(api_url, path, headers)
        assert status == 404, (path, status, text[:200])
        assert media_type.startswith(PROBLEM)
        assert "_dash" not in text and "import" not in text


def test_a_dry_run_naming_another_hospital_quotes_none_of_its_stored_figures(api_url, api_engine):
    """Own row and another hospital's in one file, both 1000× their stored month: the own row is compared
    with its history (a unit-slip warning), the other's never — no warning, nothing of what is stored."""
    own, other = hospitals_in(api_engine, prefectures(api_engine)[-1])[2:4]
    hospital = make_caller(api_engine, "review-dry-mixed", "hospital", own)

    def scaled(code: str) -> dict[str, object]:
        row = month_row(api_engine, code)
        return {k: (v * 1000 if hasattr(v, "as_tuple") else v) for k, v in row.items()}

    before = revisions(api_engine, other)
    got = hospital.http.post(f"{api_url}/api/v1/submissions", params={"dry_run": "true", "kind": "monthly"},
                             data=month_csv(scaled(own), scaled(other)), headers=CSV)
    assert_problem(got, 422, "rejected")
    problems = got.json()["errors"] + got.json()["warnings"]
    rows = {p["row"] for p in problems if p["code"] == "out_of_scope"}
    assert len(rows) == 1
    (other_row,) = rows
    assert any(p["row"] != other_row for p in got.json()["warnings"])  # history was read: for its own row
    assert not [p for p in problems if p["row"] == other_row and p["code"] != "out_of_scope"]
    stored = month_row(api_engine, other)
    for field in ("total_revenue", "medical_revenue", "total_expense", "total_assets", "cash"):
        value = stored[field]
        if value:
            assert f"{float(value):,.2f}" not in got.text and str(value) not in got.text
    assert revisions(api_engine, other) == before
