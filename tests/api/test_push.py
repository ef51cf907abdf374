"""POST /api/v1/submissions: a hospital's system pushes its monthly report, as the upload page would take it."""

from __future__ import annotations

import io
import json

import openpyxl
import pytest

from tests.api.conftest import (API_MONTH, hospitals_in, make_caller, month_csv, month_row, more_other_revenue,
                                prefectures, revisions)

CSV = {"Content-Type": "text/csv"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def two_hospitals(api_engine):
    """Two hospitals of one prefecture: the caller's and another."""
    codes = hospitals_in(api_engine, prefectures(api_engine)[0])
    return codes[0], codes[1]


def test_a_month_pushed_is_accepted_then_unchanged_and_a_retry_with_a_key_is_answered_once(
        api_url, api_engine, two_hospitals):
    own = two_hospitals[0]
    hospital = make_caller(api_engine, "api-push-hospital", "hospital", own)
    before = revisions(api_engine, own)
    content = month_csv(more_other_revenue(month_row(api_engine, own), 100))

    first = hospital.http.post(f"{api_url}/api/v1/submissions?kind=monthly", data=content, headers=CSV)
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"].startswith("application/json")
    answer = first.json()
    assert answer["status"] == "accepted" and answer["revisions_created"] == 1 and answer["rows"] == 1
    assert set(answer) == {"file", "kind", "status", "rows", "revisions_created", "errors", "warnings"}
    assert revisions(api_engine, own) == before + 1

    again = hospital.http.post(f"{api_url}/api/v1/submissions?kind=monthly", data=content, headers=CSV)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    assert revisions(api_engine, own) == before + 1

    changed = month_csv(more_other_revenue(month_row(api_engine, own), 250))
    keyed = {**CSV, "Idempotency-Key": "hrp-2026-05-0001"}
    sent = hospital.http.post(f"{api_url}/api/v1/submissions", data=changed, headers=keyed)
    retried = hospital.http.post(f"{api_url}/api/v1/submissions", data=changed, headers=keyed)
    assert sent.status_code == retried.status_code == 200
    assert sent.json()["status"] == "accepted" and sent.json()["revisions_created"] == 1
    assert retried.json() == sent.json()  # the first answer, not "unchanged"
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert revisions(api_engine, own) == before + 2

    other_body = hospital.http.post(f"{api_url}/api/v1/submissions", data=content, headers=keyed)
    assert other_body.status_code == 422
    assert other_body.json()["type"] == "urn:opsmon:problem:idempotency_key_reused"
    assert revisions(api_engine, own) == before + 2


def test_a_row_of_another_hospital_is_rejected_out_of_scope_and_none_of_its_figures_is_answered(
        api_url, api_engine, two_hospitals):
    own, other = two_hospitals
    hospital = make_caller(api_engine, "api-scope-hospital", "hospital", own)
    theirs = more_other_revenue(month_row(api_engine, other), 7)
    before = revisions(api_engine, other)
    got = hospital.http.post(f"{api_url}/api/v1/submissions?kind=monthly", data=month_csv(theirs), headers=CSV)

    assert got.status_code == 422
    assert got.headers["Content-Type"].startswith("application/problem+json")
    problem = got.json()
    assert problem["type"] == "urn:opsmon:problem:rejected" and problem["status"] == "rejected"
    assert "out_of_scope" in {e["code"] for e in problem["errors"]}
    assert {"row", "column", "message"} <= set(problem["errors"][0])
    # Neither what the file said nor what is stored for the other hospital comes back.
    stored = month_row(api_engine, other)
    for value in (stored["total_revenue"], stored["medical_revenue"], stored["total_assets"], theirs["total_revenue"]):
        assert str(value) not in got.text and f"{float(value):g}" not in got.text
    assert revisions(api_engine, other) == before


def test_a_dry_run_reports_without_storing(api_url, api_engine, two_hospitals):
    own = two_hospitals[0]
    hospital = make_caller(api_engine, "api-dry-hospital", "hospital", own)
    before = revisions(api_engine, own)
    content = month_csv(more_other_revenue(month_row(api_engine, own), 31))
    got = hospital.http.post(f"{api_url}/api/v1/submissions?dry_run=true", data=content, headers=CSV)
    assert got.status_code == 200 and got.json()["status"] == "accepted"
    assert revisions(api_engine, own) == before


def test_json_rows_and_an_xlsx_file_are_taken_like_a_csv(api_url, api_engine, two_hospitals):
    own = two_hospitals[0]
    hospital = make_caller(api_engine, "api-json-hospital", "hospital", own)
    row = more_other_revenue(month_row(api_engine, own), 41)
    as_json = {"rows": [{k: (float(v) if hasattr(v, "as_tuple") else v) for k, v in row.items()}]}
    got = hospital.http.post(f"{api_url}/api/v1/submissions?kind=monthly", data=json.dumps(as_json),
                             headers={"Content-Type": "application/json"})
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "accepted"

    row = more_other_revenue(month_row(api_engine, own), 43)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["月度快报"])  # a title row above the header, as hospitals' exports have
    sheet.append(list(row))
    sheet.append([float(v) if hasattr(v, "as_tuple") else v for v in row.values()])
    buf = io.BytesIO()
    book.save(buf)
    got = hospital.http.post(f"{api_url}/api/v1/submissions?kind=monthly&file_name=快报.xlsx", data=buf.getvalue(),
                             headers={"Content-Type": XLSX})
    assert got.status_code == 200, got.text
    assert got.json()["status"] == "accepted" and got.json()["file"] == "快报.xlsx"


@pytest.mark.parametrize("body, content_type, code, status", [
    (b"{not json", "application/json", "invalid_parameters", 400),
    (b'{"rows": []}', "application/json", "invalid_parameters", 400),
    (b"a,b\n1,2\n", "text/plain", "unsupported_media_type", 415),
])
def test_a_body_that_is_not_a_file_gets_a_problem_and_stores_nothing(api_url, api_engine, two_hospitals, body,
                                                                     content_type, code, status):
    hospital = make_caller(api_engine, "api-bad-body", "hospital", two_hospitals[0])
    before = revisions(api_engine, two_hospitals[0])
    got = hospital.http.post(f"{api_url}/api/v1/submissions", data=body, headers={"Content-Type": content_type})
    assert got.status_code == status
    assert got.headers["Content-Type"].startswith("application/problem+json")
    assert got.json()["type"] == f"urn:opsmon:problem:{code}" and got.json()["detail"]
    assert revisions(api_engine, two_hospitals[0]) == before


def test_a_body_over_the_size_limit_is_413(api_url, api_engine, two_hospitals):
    from opsmon.ingest.read import MAX_BYTES

    hospital = make_caller(api_engine, "api-big-body", "hospital", two_hospitals[0])
    got = hospital.http.post(f"{api_url}/api/v1/submissions", data=b"x" * (MAX_BYTES + 1), headers=CSV)
    assert got.status_code == 413
    assert got.json()["type"] == "urn:opsmon:problem:too_large"


def test_a_role_that_does_not_upload_gets_403(api_url, api_engine, two_hospitals):
    supervisor = make_caller(api_engine, "api-push-supervisor", "supervisor", prefectures(api_engine)[0])
    content = month_csv(more_other_revenue(month_row(api_engine, two_hospitals[0]), 5))
    got = supervisor.http.post(f"{api_url}/api/v1/submissions", data=content, headers=CSV)
    assert got.status_code == 403
    assert got.json()["type"] == "urn:opsmon:problem:forbidden"


def test_the_submissions_log_lists_the_callers_own_files_by_period_and_status(api_url, api_engine, two_hospitals):
    own = two_hospitals[0]
    hospital = make_caller(api_engine, "api-log-hospital", "hospital", own)
    other = make_caller(api_engine, "api-log-other", "hospital", two_hospitals[1])
    ok = month_csv(more_other_revenue(month_row(api_engine, own), 61))
    assert hospital.http.post(f"{api_url}/api/v1/submissions?file_name=ok.csv", data=ok, headers=CSV).ok
    bad = month_csv(more_other_revenue(month_row(api_engine, two_hospitals[1]), 3))
    hospital.http.post(f"{api_url}/api/v1/submissions?file_name=bad.csv", data=bad, headers=CSV)
    assert other.http.post(f"{api_url}/api/v1/submissions?file_name=theirs.csv",
                           data=month_csv(more_other_revenue(month_row(api_engine, two_hospitals[1]), 9)),
                           headers=CSV).ok

    mine = hospital.http.get(f"{api_url}/api/v1/submissions").json()["items"]
    assert [s["file_name"] for s in mine] == ["bad.csv", "ok.csv"]
    assert {s["username"] for s in mine} == {"api-log-hospital"}
    assert mine[0]["periods"] == [API_MONTH] and mine[0]["status"] == "rejected" and mine[0]["n_errors"] >= 1
    rejected = hospital.http.get(f"{api_url}/api/v1/submissions?status=rejected").json()["items"]
    assert [s["file_name"] for s in rejected] == ["bad.csv"]
    assert hospital.http.get(f"{api_url}/api/v1/submissions?period=2026-01").json()["items"] == []
