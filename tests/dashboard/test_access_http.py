"""Access control through crafted HTTP requests, as an attacker would send them.

A real ``opsmon serve`` on the demo database; sessions signed in through the
sign-in form with the demo accounts; callbacks called by POSTing to
``/_dash-update-component`` with whatever inputs an attacker likes (another
region's or hospital's code). The assertions read the raw response bodies: no
out-of-scope hospital code or name may appear anywhere in them.
"""

from __future__ import annotations

import base64
import io
import json
import re

import pandas as pd
import pytest
import requests
import sqlalchemy as sa

from conftest import page_csrf_token, post_login

from opsmon.indicators import reporting

PASSWORDS = {"demo-admin": "opsmon-admin-demo", "demo-leader": "opsmon-leader-demo",
             "demo-analyst": "opsmon-analyst-demo", "demo-supervisor": "opsmon-supervisor-demo",
             "demo-hospital": "opsmon-hospital-demo"}
USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")


def session_for(base: str, username: str) -> requests.Session:
    """A requests session signed in through the form."""
    s = requests.Session()
    r = post_login(s, base, username, PASSWORDS[username])
    assert r.status_code == 302, r.text
    return s


class Callbacks:
    """Build ``/_dash-update-component`` bodies from the app's own dependency list."""

    def __init__(self, base: str, session: requests.Session):
        self.base, self.session = base, session
        deps = session.get(f"{base}/_dash-dependencies")
        assert deps.status_code == 200
        self.deps = deps.json()

    def spec(self, output_id: str) -> dict:
        found = [d for d in self.deps if f"{output_id}." in d["output"]]
        assert found, f"no callback writes {output_id}"
        return found[0]

    def call(self, output_id: str, values: dict[str, object], changed: str | None = None) -> requests.Response:
        """POST the callback writing *output_id*; *values* maps 'id.property' to an input or state value.

        *changed* is the input that fired (default: the first).
        """
        dep = self.spec(output_id)
        outs = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
        outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in outs]

        def items(kind: str) -> list[dict]:
            return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                    for i in dep[kind]]

        body = {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": items("inputs"), "state": items("state"),
                "changedPropIds": [changed] if changed else [f"{i['id']}.{i['property']}" for i in dep["inputs"]][:1]}
        return self.session.post(f"{self.base}/_dash-update-component", json=body)


@pytest.fixture(scope="module")
def registry(demo_engine) -> pd.DataFrame:
    with demo_engine.connect() as conn:
        return pd.read_sql_query(sa.text(
            "SELECT h.hospital_code, h.name, a.ancestor_adcode AS prefecture FROM hospitals h "
            "JOIN region_ancestors a ON a.adcode = h.adcode JOIN regions r ON r.adcode = a.ancestor_adcode "
            "WHERE r.level = 'prefecture' OR (r.level = 'county' AND r.parent_adcode = '220000')"), conn)


@pytest.fixture(scope="module")
def period(demo_engine) -> str:
    return reporting.latest_period(demo_engine)


def own_hospital(demo_engine) -> str:
    with demo_engine.connect() as conn:
        return conn.execute(sa.text("SELECT hospital_code FROM users WHERE username = 'demo-hospital'")).scalar_one()


def body(r: requests.Response) -> str:
    """A response as text with Chinese readable (Dash escapes non-ASCII characters in its JSON)."""
    try:
        return json.dumps(r.json(), ensure_ascii=False)
    except ValueError:
        return r.text


def leaked(text: str, allowed: set[str], registry: pd.DataFrame) -> list[str]:
    """Hospital codes and names in *text* that are not in *allowed*."""
    codes = {c for c in USCC.findall(text) if c in set(registry["hospital_code"])} - allowed
    names = {n for code, n in zip(registry["hospital_code"], registry["name"]) if code not in allowed and n in text}
    return sorted(codes | names)


def ranking(period: str, level: str, **more: object) -> dict[str, object]:
    """The rankings page's inputs: surplus_rate (unless *more* says otherwise) at *level* for *period*, by month."""
    return {"rankings-indicator.value": "surplus_rate", "rankings-level.value": level,
            "rankings-period.value": period, "rankings-span.value": "month", "rankings-view.data": {"lang": "zh"},
            **more}


def ranking_rows(period: str, level: str, **more: object) -> dict[str, object]:
    """The rankings grid's request for its first 1 000 rows of :func:`ranking`'s view."""
    return {**ranking(period, level, **more), "rankings-grid.getRowsRequest": {"startRow": 0, "endRow": 1000}}


def risk_rows(period: str) -> dict[str, object]:
    """The risk list's request for its first 1 000 rows of *period*."""
    return {"risk-period.value": period, "risk-view.data": {"lang": "zh"},
            "risk-grid.getRowsRequest": {"startRow": 0, "endRow": 1000}}


# --------------------------------------------------------------------------- no session
def test_without_a_session_nothing_is_served(dashboard_server):
    page = requests.get(f"{dashboard_server}/rankings?level=hospital", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    assert requests.get(f"{dashboard_server}/_dash-layout").status_code == 401
    assert requests.get(f"{dashboard_server}/_dash-dependencies").status_code == 401
    # dash-auth's public-route shortcut (a callback claiming pathname=/login) must not open callbacks.
    body = {"output": "navbar.children", "outputs": {"id": "navbar", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/login"},
                       {"id": "url", "property": "search", "value": ""}], "changedPropIds": ["url.pathname"]}
    assert requests.post(f"{dashboard_server}/_dash-update-component", json=body).status_code == 401
    assert requests.get(f"{dashboard_server}/healthz").text == "ok"


def test_a_wrong_password_is_refused_and_logged(dashboard_server, demo_engine):
    r = post_login(requests.Session(), dashboard_server, "demo-leader", "guess-guess-1")
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    with demo_engine.connect() as conn:
        logged = conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'signin.failure' "
                                      "AND username = 'demo-leader'")).scalar_one()
    assert logged >= 1


def test_logout_ends_the_session_even_for_a_copied_cookie(dashboard_server):
    s = session_for(dashboard_server, "demo-leader")
    assert s.get(f"{dashboard_server}/_dash-layout").status_code == 200
    copied = dict(s.cookies)
    token = page_csrf_token(s, dashboard_server)
    assert s.post(f"{dashboard_server}/logout", data={"csrf_token": token}, allow_redirects=False).status_code == 302
    assert s.get(f"{dashboard_server}/_dash-layout").status_code == 401
    assert requests.get(f"{dashboard_server}/_dash-layout", cookies=copied).status_code == 401


def test_the_session_cookie_is_http_only_and_same_site(dashboard_server):
    r = post_login(requests.Session(), dashboard_server, "demo-leader", PASSWORDS["demo-leader"])
    cookie = r.headers["Set-Cookie"]
    assert "opsmon_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; over HTTPS the cookie is marked Secure


# --------------------------------------------------------------------------- the hospital user
def test_a_hospital_user_sees_only_its_own_hospital(dashboard_server, demo_engine, registry, period):
    own = own_hospital(demo_engine)
    s = session_for(dashboard_server, "demo-hospital")
    cb = Callbacks(dashboard_server, s)
    # The region pages' callbacks are refused like the pages themselves (a 403, whatever the inputs).
    region_pages = [
        cb.call("rankings-chart", ranking(period, "hospital")),
        cb.call("rankings-chart", ranking(period, "county", **{"rankings-region.value": "220100"})),
        cb.call("rankings-grid", ranking_rows(period, "hospital")),
        cb.call("overview-kpis", {"overview-period.value": period, "overview-indicator.value": "surplus_rate",
                                  "overview-view.data": {"lang": "zh", "region": "220100"}}),
        cb.call("risk-kpis", {"risk-period.value": period, "risk-view.data": {"lang": "zh"}}),
        cb.call("risk-grid", risk_rows(period)),
        cb.call("risk-region", {"risk-region.search_value": "长春", "risk-view.data": {"lang": "zh"}}),
        cb.call("submissions-kpis", {"submissions-period.value": period, "submissions-view.data": {"lang": "zh"}}),
    ]
    assert [r.status_code for r in region_pages] == [403] * len(region_pages)
    responses = [*region_pages, cb.call("hospital-search", {"hospital-search.search_value": "医院", "url.search": ""})]
    other = registry[registry["hospital_code"] != own].iloc[0]["hospital_code"]
    responses.append(cb.call("hospital-kpis", {"hospital-period.value": period, "hospital-span.value": "month",
                                               "hospital-view.data": {"code": other, "lang": "zh", "tier": "三级"}}))
    responses.append(cb.call("_pages_content", {"_pages_location.pathname": f"/hospital/{other}",
                                                "_pages_location.search": ""}))
    for r in responses:
        assert r.status_code in (200, 204, 403), r.text[:300]
        assert leaked(body(r), {own}, registry) == []
    # Its own hospital does appear where it should — without a peer median (that would be others' data).
    mine = cb.call("hospital-kpis", {"hospital-period.value": period, "hospital-span.value": "month",
                                     "hospital-view.data": {"code": own, "lang": "zh", "tier": "三级"}})
    assert mine.status_code == 200
    assert "本账号仅可查看本院数据" in body(mine) and "中位数" not in body(mine)


def test_a_hospital_user_cannot_export(dashboard_server, period):
    s = session_for(dashboard_server, "demo-hospital")
    r = Callbacks(dashboard_server, s).call(
        "rankings-download", ranking(period, "hospital", **{"rankings-csv.n_clicks": 1}))
    assert r.status_code == 403 and "content" not in r.text


# --------------------------------------------------------------------------- the prefecture supervisor
def test_a_supervisor_sees_only_its_prefecture_anywhere(dashboard_server, registry, period):
    allowed = set(registry.loc[registry["prefecture"] == "220100", "hospital_code"])
    s = session_for(dashboard_server, "demo-supervisor")
    cb = Callbacks(dashboard_server, s)
    view = {"lang": "zh"}
    responses = [
        cb.call("rankings-chart", ranking(period, "hospital", **{"rankings-region.value": "220200"})),
        cb.call("rankings-grid", ranking_rows(period, "hospital", **{"rankings-region.value": "220200"})),
        cb.call("rankings-grid", ranking_rows(period, "hospital", **{"rankings-search.value": "医院"})),
        cb.call("rankings-grid", ranking_rows(period, "hospital")),
        cb.call("overview-kpis", {"overview-period.value": period, "overview-indicator.value": "surplus_rate",
                                  "overview-view.data": {"lang": "zh", "region": "220000"}}),
        cb.call("risk-kpis", {"risk-period.value": period, "risk-view.data": view}),
        cb.call("risk-grid", {**risk_rows(period), "risk-region.value": "220200"}),
        cb.call("risk-grid", risk_rows(period)),
    ]
    for r in responses:
        assert r.status_code in (200, 204), r.text[:300]
        assert leaked(body(r), allowed, registry) == []
    own_rows = body(responses[3])
    assert any(code in own_rows for code in allowed)
    assert any(name in own_rows for name in registry.loc[registry["hospital_code"].isin(allowed), "name"])
    # Its export holds its own hospitals only, and is in the audit log.
    r = cb.call("rankings-download", ranking(period, "hospital", **{"rankings-csv.n_clicks": 1}))
    assert r.status_code == 200
    payload = r.json()["response"]["rankings-download"]["data"]
    table = pd.read_csv(io.BytesIO(base64.b64decode(payload["content"])), skiprows=2, dtype={"code": str})
    assert len(table) > 0 and set(table["code"]) <= allowed


def test_exports_are_audited_with_their_row_counts(dashboard_server, demo_engine, period):
    s = session_for(dashboard_server, "demo-analyst")
    r = Callbacks(dashboard_server, s).call(
        "rankings-download", ranking(period, "county", **{"rankings-xlsx.n_clicks": 1,
                                                          "rankings-indicator.value": "debt_ratio"}),
        changed="rankings-xlsx.n_clicks")
    assert r.status_code == 200
    with demo_engine.connect() as conn:
        entry = conn.execute(sa.text("SELECT object, details FROM audit_log WHERE action = 'export' "
                                     "AND username = 'demo-analyst' ORDER BY audit_id DESC LIMIT 1")).one()
    assert entry.object.endswith(".xlsx") and entry.details["rows"] == 60


def test_a_leader_may_view_but_not_export(dashboard_server, period):
    s = session_for(dashboard_server, "demo-leader")
    cb = Callbacks(dashboard_server, s)
    args = ranking(period, "county")
    assert cb.call("rankings-chart", args).status_code == 200
    assert cb.call("rankings-download", {**args, "rankings-csv.n_clicks": 1}).status_code == 403


def test_the_layout_of_a_page_the_role_may_not_open_says_so(dashboard_server):
    s = session_for(dashboard_server, "demo-hospital")
    body = json.dumps(s.get(f"{dashboard_server}/_dash-layout").json(), ensure_ascii=False)
    assert "user-name" in body  # the navbar shows who is signed in
    for label in ("排名", "趋势", "风险"):  # pages a hospital user may not open are not offered
        assert f'"children": "{label}"' not in body
