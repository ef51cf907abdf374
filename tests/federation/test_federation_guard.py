"""The collision guard and the error paths of federation, on the test server (real PostgreSQL).

The guard's triggers fire only for rows applied by logical replication; a superuser
session with ``session_replication_role = replica`` runs them exactly as the apply worker
does, so they are tested here without a second server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsmon import federation, geo
from opsmon.cli import cli
from opsmon.ingest import uscc
from opsmon.sql import db, migrate

JILIN_RANGE = federation.id_range("220000")[0]


@pytest.fixture(scope="module")
def national_template(databases) -> str:
    name = databases.create()
    engine = db.create_engine(databases.url_for(name), poolclass=sa.NullPool)
    migrate.upgrade(engine, geo.NATION)
    engine.dispose()
    return name


@pytest.fixture
def nation(databases, national_template) -> Iterator[sa.Engine]:
    name = databases.create(template=national_template)
    engine = db.create_engine(databases.url_for(name), poolclass=sa.NullPool)
    yield engine
    engine.dispose()
    databases.drop(name)


def applied(engine, sql: str, **params):
    """Run *sql* as the apply worker does (replica role: the federation triggers fire)."""
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        return conn.execute(sa.text(sql), params)


def hospital(code: str, adcode: str) -> dict:
    return {"code": code, "adcode": adcode}


HOSPITAL = ("INSERT INTO hospitals (hospital_code, name, adcode, level, category, affiliation, authority) "
            "VALUES (:code, '测试医院', :adcode, '二级甲等', '综合医院', '县属', '卫生健康委')")
SUBMISSION = ("INSERT INTO submissions (submission_id, kind, username, file_name, sha256, size_bytes, status) "
              "VALUES (:id, 'monthly', 'u', 'f.csv', repeat('0', 64), 1, :status)")
A = uscc.make("220102", "41234567")


def subscribed(engine, province: str = "220000", name: str = "jilin") -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO federation_sources (name, province) VALUES (:n, :p)"),
                     {"n": name, "p": province})


def test_rows_of_a_province_without_a_subscription_are_refused(nation):
    with pytest.raises(sa.exc.DBAPIError, match="no subscription is for 220000"):
        applied(nation, HOSPITAL, **hospital(A, "220102"))
    with pytest.raises(sa.exc.DBAPIError, match="no subscription is for 220000"):
        applied(nation, SUBMISSION, id=JILIN_RANGE + 1, status="processing")


def test_submission_ids_outside_every_province_range_are_refused(nation):
    subscribed(nation)
    with pytest.raises(sa.exc.DBAPIError, match="no subscription"):
        applied(nation, SUBMISSION, id=7, status="processing")  # a province that never ran publish


def test_a_hospital_already_registered_by_another_province_is_refused(nation):
    subscribed(nation)
    applied(nation, HOSPITAL, **hospital(A, "220102"))
    with pytest.raises(sa.exc.DBAPIError, match="already registered under 220000"):
        applied(nation, HOSPITAL, **hospital(A, "220102"))


def test_a_hospital_in_a_county_the_nation_does_not_know_is_refused(nation):
    """The apply worker does not check foreign keys: the guard checks the county itself."""
    subscribed(nation)
    with pytest.raises(sa.exc.DBAPIError, match="not a county of the national regions"):
        applied(nation, HOSPITAL, **hospital(uscc.make("220100", "41234567"), "220100"))  # 长春市 is a prefecture


PROGRESS = ("INSERT INTO progress_values (hospital_code, period, revision, submission_id, is_current, ops_committee, "
            "ops_department, chief_accountant, ops_platform_status, pilot_projects_year, optimized_processes, "
            "caliber_mapping, risk_register, internal_control_review) VALUES (:code, '2026-09-01', 1, :id, true, "
            "true, true, true, 'built', 1, 2, 'done', true, true)")


def test_an_applied_transaction_bumps_the_data_version_once_and_queues_the_hospitals_of_its_values(nation):
    subscribed(nation)
    applied(nation, HOSPITAL, **hospital(A, "220102"))
    with nation.begin() as conn:
        conn.execute(sa.text("INSERT INTO indicator_state (name, source_key, watermark) VALUES ('aggregates', 'k', 5)"))
        before = conn.execute(sa.text("SELECT version FROM data_state")).scalar_one()
    with nation.begin() as conn:  # one applied transaction: a file and its values
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        conn.execute(sa.text(SUBMISSION), {"id": JILIN_RANGE + 1, "status": "accepted"})
        conn.execute(sa.text(PROGRESS), {"code": A, "id": JILIN_RANGE + 1})
    with nation.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM data_state")).scalar_one() == before + 1
        queued = conn.execute(sa.text("SELECT version, CAST(hospital_code AS text) FROM federation_changes")).all()
        assert [tuple(r) for r in queued] == [(before + 1, A)]
        # The watermark stands (a data version there): the next refresh rebuilds that hospital only.
        assert conn.execute(sa.text("SELECT watermark FROM indicator_state")).scalar() == 5
        assert conn.execute(sa.text("SELECT last_arrival FROM federation_sources")).scalar() is not None
    applied(nation, SUBMISSION, id=JILIN_RANGE + 2, status="rejected")  # a file without values queues nothing
    with nation.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM data_state")).scalar_one() == before + 2
        assert conn.execute(sa.text("SELECT count(*) FROM federation_changes")).scalar_one() == 1


def test_local_writes_fire_none_of_it(nation):
    """The triggers are ENABLE REPLICA: ingest's own writes (origin role) never see them."""
    with nation.begin() as conn:
        before = conn.execute(sa.text("SELECT version FROM data_state")).scalar_one()
        conn.execute(sa.text(SUBMISSION), {"id": 7, "status": "processing"})
        assert conn.execute(sa.text("SELECT version FROM data_state")).scalar_one() == before


def test_a_rejected_file_arrives_without_its_errors(nation):
    subscribed(nation)
    applied(nation, SUBMISSION, id=JILIN_RANGE + 1, status="processing")
    applied(nation, "UPDATE submissions SET status = 'rejected' WHERE submission_id = :id", id=JILIN_RANGE + 1)
    with nation.connect() as conn:
        errors = conn.execute(sa.text("SELECT errors FROM submissions")).scalar_one()
    assert errors == [{"code": "kept_in_province"}]


def test_id_ranges_are_disjoint_and_fit_a_bigint():
    assert federation.id_range("110000") == (11 * 10**12, 12 * 10**12 - 1)
    assert federation.id_range("650000")[1] < 2**63
    assert federation.id_range("210000")[1] < federation.id_range("220000")[0]


def test_publish_needs_logical_wal(engine):
    with engine.connect() as conn:
        level = conn.execute(sa.text("SHOW wal_level")).scalar_one()
    if level == "logical":
        pytest.skip("the test server already has wal_level = logical")
    with pytest.raises(federation.FederationError, match="wal_level = logical"):
        federation.publish(engine)


def test_publish_is_for_a_province(nation):
    with pytest.raises(federation.FederationError, match="for a provincial instance"):
        federation.publish(nation)


def test_national_commands_refuse_a_province(engine):
    with pytest.raises(federation.FederationError, match="is for the national instance"):
        federation.subscribe(engine, "jilin", "host=/nowhere dbname=x")
    with pytest.raises(federation.FederationError, match="is for the national instance"):
        federation.status(engine)


def test_subscribe_checks_the_name_and_the_publisher(nation, engine):
    with pytest.raises(federation.FederationError, match="lower-case letters"):
        federation.subscribe(nation, "Jilin Province", "host=/nowhere")
    subscribed(nation)
    with pytest.raises(federation.FederationError, match="named 'jilin' exists"):
        federation.subscribe(nation, "jilin", "host=/nowhere")
    # A province database that has not published (the test server's 吉林 template).
    url = engine.url.set(drivername="postgresql")
    conninfo = (f"host={url.host} port={url.port or 5432} dbname={url.database} user={url.username}"
                + (f" password={url.password}" if url.password else ""))
    with pytest.raises(federation.FederationError, match="does not publish yet"):
        federation.subscribe(nation, "jilin2", conninfo)
    with pytest.raises(federation.FederationError, match="cannot read the province's database"):
        federation.subscribe(nation, "nowhere", "host=/nonexistent-socket-dir dbname=x user=postgres")
    with nation.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM pg_subscription")).scalar_one() == 0


def test_unsubscribe_of_an_unknown_name(nation):
    with pytest.raises(federation.FederationError, match="no subscription named 'hubei'"):
        federation.unsubscribe(nation, "hubei")


def test_cli_status_and_errors(nation, engine):
    national_url = nation.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["federation", "status"], env={"DATABASE_URL": national_url})
    assert result.exit_code == 0 and "no subscriptions" in result.output
    subscribed(nation)
    result = CliRunner().invoke(cli, ["federation", "status", "--format", "json"], env={"DATABASE_URL": national_url})
    assert result.exit_code == 0
    [row] = json.loads(result.output)["provinces"]
    assert row["name"] == "jilin" and row["province"] == "220000" and row["state"] == "disabled"
    province_url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["federation", "subscribe", "--name", "x", "--conninfo", "host=/x"],
                                env={"DATABASE_URL": province_url})
    assert result.exit_code == 1 and "OPSMON_PROVINCE=100000" in result.output
    result = CliRunner().invoke(cli, ["federation", "publish"], env={"DATABASE_URL": national_url})
    assert result.exit_code == 1 and "provincial instance" in result.output
