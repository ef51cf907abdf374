"""The write side of the derived tables: an upload refreshes them, the worker follows every notified change."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from opsmon import derived
from opsmon.indicators import aggregate
from opsmon.cli import cli
from opsmon.sql import db
from tests.conftest import writable_demo


@pytest.fixture
def built(databases, template_db, tmp_path_factory):
    url = writable_demo(databases, template_db, tmp_path_factory, "derived")
    engine = db.create_engine(url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def _bump(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE data_state SET version = version + 1, changed_at = now()"))


def _wait_until_fresh(engine: sa.Engine, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not derived.status(engine).pending:
            return True
        time.sleep(0.2)
    return False


def test_a_loaded_demo_is_built_and_its_status_says_so(built):
    status = derived.status(built)
    assert not status.pending and status.built_at is not None
    with built.connect() as conn:
        newest = conn.execute(sa.text(
            "SELECT max(coalesce(finished_at, received_at)) FROM submissions WHERE status = 'accepted'")).scalar()
    assert status.data_as_of == newest


def test_the_worker_refreshes_when_notified_not_only_on_its_interval(built):
    stop = derived.start_worker_thread(built, interval=600)  # only a notification can wake it in time
    try:
        time.sleep(1.0)  # it refreshes once on start, then listens
        _bump(built)
        assert derived.status(built).pending
        assert _wait_until_fresh(built), "the worker did not refresh after the data_state notification"
        with built.begin() as conn:  # a settings change notifies too (migration 0016's trigger)
            conn.execute(sa.text("UPDATE settings SET value = '12' WHERE key = 'due_day'"))
        assert _wait_until_fresh(built), "the worker did not refresh after a settings change"
    finally:
        stop.set()


def test_after_upload_refreshes_a_small_change_and_leaves_a_full_rebuild_to_the_worker(built):
    assert not derived.after_upload(built, accepted=False)
    _bump(built)  # a version move no submission explains: only a full rebuild is right
    assert not derived.small_change(built)
    assert not derived.after_upload(built, accepted=True)
    assert derived.status(built).pending
    # A new revision of one hospital's month: the incremental refresh, done before the upload answers.
    derived.refresh(built)
    with built.begin() as conn:
        code = conn.execute(sa.text("SELECT min(hospital_code) FROM hospitals")).scalar_one()
        sid = conn.execute(sa.text(
            "INSERT INTO submissions (kind, username, file_name, sha256, size_bytes, received_at, status) "
            "VALUES ('monthly', 'test', 'one.csv', repeat('0', 64), 1, now(), 'accepted') "
            "RETURNING submission_id")).scalar_one()
        period = conn.execute(sa.text("SELECT max(period) FROM monthly_values WHERE hospital_code = :h"),
                              {"h": code}).scalar_one()
        keys = {"sid": sid, "h": code, "p": period}
        conn.execute(sa.text("UPDATE monthly_values SET is_current = false "
                             "WHERE hospital_code = :h AND period = :p AND is_current"), keys)
        conn.execute(sa.text(
            "INSERT INTO monthly_values SELECT (jsonb_populate_record(NULL::monthly_values, to_jsonb(m) "
            "|| jsonb_build_object('revision', m.revision + 1, 'submission_id', :sid, 'is_current', true))).* "
            "FROM monthly_values m WHERE hospital_code = :h AND period = :p "
            "AND revision = (SELECT max(revision) FROM monthly_values WHERE hospital_code = :h AND period = :p)"),
            keys)
        conn.execute(sa.text("UPDATE data_state SET version = version + 1, changed_at = now()"))
    assert derived.small_change(built)
    # While another session rebuilds, the upload does not queue behind it: the worker takes it.
    with built.connect() as other:
        other.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": aggregate.LOCK_KEY})
        assert derived.refresh_running(built)
        assert not derived.after_upload(built, accepted=True)
        assert derived.status(built).pending
        other.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": aggregate.LOCK_KEY})
    assert not derived.refresh_running(built)
    assert derived.after_upload(built, accepted=True)
    assert not derived.status(built).pending


def test_the_refresh_and_worker_commands(built):
    env = {"DATABASE_URL": built.url.render_as_string(hide_password=False)}
    _bump(built)
    assert CliRunner().invoke(cli, ["worker", "--once"], env=env, catch_exceptions=False).exit_code == 0
    assert not derived.status(built).pending
    result = CliRunner().invoke(cli, ["refresh"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "nothing to do" in result.output
    result = CliRunner().invoke(cli, ["refresh", "--force"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "full rebuild" in result.output
