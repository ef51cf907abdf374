"""The OpenAPI document: generated from the code, valid, complete, and true of every route's answers."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate

from tests.conftest import DEMO_TODAY
from tests.api.conftest import API_MONTH, hospitals_in, make_caller, month_csv, month_row, more_other_revenue, \
    prefectures

# Routes that serve the document itself, not operations of the API.
DOCUMENT_ROUTES = {"/api/v1/openapi.json", "/api/v1/docs", "/api/v1/docs/{name}"}


@pytest.fixture(scope="module")
def spec(api_url) -> dict:
    got = requests.get(f"{api_url}/api/v1/openapi.json")  # no token: the document holds no data
    assert got.status_code == 200
    return got.json()


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    validate(spec)  # raises on an invalid document
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearer"]["description"]}
    assert spec["security"] == [{"bearer": []}]


def test_every_route_is_in_the_document_and_every_operation_is_a_route(spec, api_engine):
    from opsmon.dashboard.app import create_app

    app = create_app(api_engine)
    routes = set()
    for rule in app.server.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        if path.startswith("/api/") and path not in DOCUMENT_ROUTES:
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in spec["paths"].items() for method in item
                  if method in ("get", "post", "put", "patch", "delete")}
    assert routes == documented


def _disposal_with_attachment(api_engine) -> tuple[int, int, int]:
    """An item answered with a PDF (ids of the item and the attachment), and another open one."""
    from opsmon import disposal
    from opsmon.access import users

    frame = disposal.list_disposals(api_engine, scope=None)
    open_items = frame[(frame["state"] == "open") & (frame["affiliation"] != "省属")]
    answered, other = (int(i) for i in open_items["disposal_id"].iloc[:2])
    hospital = frame.set_index("disposal_id").loc[answered, "hospital_code"]
    make_caller(api_engine, "api-doc-province", "admin", "220000")
    make_caller(api_engine, "api-doc-answering", "hospital", hospital)
    province, clerk = users.get_user(api_engine, "api-doc-province"), users.get_user(api_engine, "api-doc-answering")
    disposal.act(api_engine, province, answered, "assign", due_on=DEMO_TODAY + timedelta(days=5), request="说明",
                 note="请说明")
    disposal.act(api_engine, clerk, answered, "respond", cause="c", measures="m",
                 files=[("说明.pdf", b"%PDF-1.4\n%%EOF\n")])
    line = disposal.timeline(api_engine, answered, scope=None)
    attachment = line.iloc[-1]["attachments"][0]["attachment_id"]
    return answered, attachment, other


def _yellow_without_record(api_engine) -> dict:
    with api_engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT CAST(e.hospital_code AS text) AS hospital_code, e.rule FROM risk_register e "
            "JOIN hospitals h USING (hospital_code) WHERE e.resolved_period IS NULL AND e.max_level = 'yellow' "
            "AND h.affiliation <> '省属' AND NOT EXISTS (SELECT 1 FROM risk_disposals d "
            "WHERE d.hospital_code = e.hospital_code AND d.rule = e.rule) ORDER BY 1, 2 LIMIT 1")).mappings().one()
    return dict(row)


def _examples(api_url, api_engine) -> dict[tuple[str, str], tuple[str, dict]]:
    """One real request per documented operation: (caller's name, requests arguments)."""
    prefecture = prefectures(api_engine)[0]
    hospital = hospitals_in(api_engine, prefecture)[0]
    row = more_other_revenue(month_row(api_engine, hospital), 17)
    answered, attachment, other = _disposal_with_attachment(api_engine)
    yellow = _yellow_without_record(api_engine)
    return {
        ("/api/v1/risks", "post"): ("province", dict(json=yellow)),
        ("/api/v1/risks/{disposal_id}", "get"): ("province", dict(url=f"/api/v1/risks/{answered}")),
        ("/api/v1/risks/{disposal_id}/attachments/{attachment_id}", "get"): (
            "province", dict(url=f"/api/v1/risks/{answered}/attachments/{attachment}")),
        ("/api/v1/risks/{disposal_id}/actions", "post"): (
            "province", dict(url=f"/api/v1/risks/{other}/actions", json={"action": "escalate", "note": "督办"})),
        ("/api/v1/submissions", "post"): ("hospital", dict(params={"dry_run": "true"}, data=month_csv(row),
                                                          headers={"Content-Type": "text/csv"})),
        ("/api/v1/submissions", "get"): ("hospital", dict(params={"period": API_MONTH})),
        ("/api/v1/indicators", "get"): ("analyst", dict(params={"level": "county", "period": API_MONTH,
                                                               "region": prefecture, "limit": 50})),
        ("/api/v1/catalogue", "get"): ("analyst", {}),
        ("/api/v1/regions", "get"): ("analyst", dict(params={"region": prefecture})),
        ("/api/v1/hospitals", "get"): ("analyst", dict(params={"region": prefecture, "limit": 3})),
        ("/api/v1/risks", "get"): ("analyst", dict(params={"period": API_MONTH})),
    }, hospital


def _schema_validator(spec: dict, operation: dict, status: str, content_type: str) -> OAS31Validator:
    schema = operation["responses"][status]
    if "$ref" in schema:  # a shared response (components/responses)
        schema = spec["components"]["responses"][schema["$ref"].rsplit("/", 1)[1]]
    media = schema["content"].get(content_type) or next(iter(schema["content"].values()))
    return OAS31Validator({**media["schema"], "components": spec["components"]})


def test_every_operation_answers_as_the_document_says(spec, api_url, api_engine):
    examples, hospital = _examples(api_url, api_engine)
    callers = {"hospital": make_caller(api_engine, "api-doc-hospital", "hospital", hospital),
               "analyst": make_caller(api_engine, "api-doc-analyst", "analyst", "220000"),
               "province": make_caller(api_engine, "api-doc-province", "admin", "220000")}
    operations = {(path, method): op for path, item in spec["paths"].items() for method, op in item.items()
                  if method in ("get", "post", "put", "patch", "delete")}
    assert set(examples) == set(operations), "every documented operation needs an example request here"
    for (path, method), op in operations.items():
        who, kwargs = examples[(path, method)]
        kwargs = dict(kwargs)
        target = api_url + kwargs.pop("url", path)
        got = callers[who].http.request(method, target, **kwargs)
        assert str(got.status_code) in op["responses"], (path, method, got.status_code, got.text[:300])
        assert got.status_code == 200, (path, method, got.text[:300])
        if got.headers["Content-Type"].startswith("application/json"):
            _schema_validator(spec, op, "200", "application/json").validate(got.json())
            body = got.json()
            assert body.get("items", [None]) != [] or path == "/api/v1/submissions", (path, "an empty example")
        else:  # a file
            assert "application/octet-stream" in op["responses"]["200"]["content"] and got.content
        # The same route without a token: 401, documented.
        anonymous = requests.request(method, target, **kwargs)
        assert anonymous.status_code == 401 and "401" in op["responses"]


def test_a_rejected_file_and_an_error_match_their_documented_schemas(spec, api_url, api_engine):
    prefecture = prefectures(api_engine)[0]
    own, other = hospitals_in(api_engine, prefecture)[:2]
    caller = make_caller(api_engine, "api-doc-reject", "hospital", own)
    rejected = caller.http.post(f"{api_url}/api/v1/submissions?dry_run=true",
                                data=month_csv(more_other_revenue(month_row(api_engine, other), 1)),
                                headers={"Content-Type": "text/csv"})
    assert rejected.status_code == 422
    post = spec["paths"]["/api/v1/submissions"]["post"]
    _schema_validator(spec, post, "422", "application/problem+json").validate(rejected.json())
    missing = caller.http.get(f"{api_url}/api/v1/hospitals", params={"region": "229900"})
    assert missing.status_code == 404
    _schema_validator(spec, spec["paths"]["/api/v1/hospitals"]["get"], "404",
                      "application/problem+json").validate(missing.json())


def test_the_docs_page_is_served_from_this_server_alone(api_url):
    page = requests.get(f"{api_url}/api/v1/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    assert not re.search(r"(src|href)=\"(https?:)?//", page.text)  # no CDN, no other host
    for asset in re.findall(r'(?:src|href)="(/api/v1/docs/[^"]+)"', page.text):
        assert requests.get(api_url + asset).status_code == 200, asset
    assert requests.get(f"{api_url}/api/v1/docs/swagger-editor.js").status_code == 404  # a fixed list
    assert requests.get(f"{api_url}/api/v1/docs/..%2f..%2fcore.py").status_code == 404
