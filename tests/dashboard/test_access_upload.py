"""Uploads obey the uploader's role and scope: the upload page's server side, as plain functions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from conftest import make_user, signed_in
from test_upload import GBK_MONTH, A, B, registry_csv

from opsmon.dashboard import data
from opsmon.dashboard.app import create_app
from opsmon.ingest.api import ingest_bytes


@pytest.fixture
def app(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSMON_DATA_DIR", str(tmp_path / "data"))
    assert ingest_bytes(registry_csv(), "机构名录.csv", engine=engine).status == "accepted"
    return create_app(engine)


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM monthly_values")).scalar_one()


def test_a_hospital_user_cannot_send_another_hospitals_row(app, engine):
    # The fixture file holds A's row (3) and B's row (4); the user belongs to A.
    with signed_in(app, engine, make_user(engine, "clerk-a", "hospital", A)):
        result = data.upload(engine, GBK_MONTH.read_bytes(), "3月快报.csv")
    assert result.status == "rejected"
    assert [(e.row, e.code, e.value) for e in result.errors] == [(4, "out_of_scope", B)]
    assert stored(engine) == 0  # A's own row is not stored either: the file is rejected whole
    with engine.connect() as conn:
        entry = conn.execute(sa.text("SELECT username, object, details FROM audit_log WHERE action = 'upload'")).one()
    assert entry.username == "clerk-a" and entry.object == str(result.submission_id)
    assert entry.details["status"] == "rejected"


def test_a_hospital_user_may_not_send_a_registry(app, engine):
    with signed_in(app, engine, make_user(engine, "clerk-a", "hospital", A)):
        result = data.upload(engine, registry_csv(), "机构名录.csv")
    assert result.status == "rejected" and [e.code for e in result.errors] == ["kind_not_permitted"]
    assert "不能上报机构名录" in result.errors[0].message_zh


def test_a_county_analyst_may_send_its_own_countys_hospitals_only(app, engine):
    # A is in 南关区 220102, B in 宽城区 220103.
    with signed_in(app, engine, make_user(engine, "nanguan", "analyst", "220102")):
        result = data.upload(engine, GBK_MONTH.read_bytes(), "3月快报.csv")
    assert [(e.row, e.code) for e in result.errors] == [(4, "out_of_scope")]
    with signed_in(app, engine, make_user(engine, "changchun", "analyst", "220100")):
        assert data.upload(engine, GBK_MONTH.read_bytes(), "3月快报.csv").status == "accepted"
    assert stored(engine) == 2


@pytest.mark.parametrize("role, unit", [("leader", "220000"), ("supervisor", "220100")])
def test_roles_without_upload_rights_are_refused(app, engine, role, unit):
    with signed_in(app, engine, make_user(engine, f"u-{role}", role, unit)), pytest.raises(PermissionError):
        data.upload(engine, GBK_MONTH.read_bytes(), "3月快报.csv")
    assert stored(engine) == 0


def test_without_a_signed_in_user_nothing_is_read(app, engine):
    with app.server.test_request_context("/"), pytest.raises(PermissionError):
        data.query(engine, "surplus_rate", "province", "2025-03")
    with signed_in(app, engine, make_user(engine)), pytest.raises(TypeError, match="signed-in user"):
        data.query(engine, "surplus_rate", "province", "2025-03", scope="220000")


def test_the_upload_page_offers_only_the_kinds_the_role_may_send(app, engine):
    from opsmon.dashboard.pages import upload

    with signed_in(app, engine, make_user(engine, "clerk-a", "hospital", A)):
        clerk_page = str(upload.layout())
    with signed_in(app, engine, make_user(engine)):
        admin_page = str(upload.layout())
    # The kind choices and the template buttons.
    assert "'value': 'registry'" not in clerk_page and "'kind': 'registry'" not in clerk_page
    assert "'value': 'monthly'" in clerk_page and "'kind': 'progress'" in clerk_page
    assert "'value': 'registry'" in admin_page and "'kind': 'registry'" in admin_page
