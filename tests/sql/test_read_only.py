"""No read path writes or runs DDL.

Every read API the pages, the API's GETs and the documents use is run through the read-only engine
(:mod:`opsmon.sql.reader`: the role ``opsmon_reader``, read-only transactions) on a database whose data
and settings are newer than its derived tables' build — exactly when a lazy refresh would have rebuilt
them. Each read must succeed, execute no writing statement, and leave the build as it was: readers see
the previous complete build until the write side refreshes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from opsmon import config, derived
from opsmon import disposal as disp
from opsmon.access import audit, locks, tokens, users
from opsmon.demo.evaluation import seed_round
from opsmon.documents import bulletin, evaluation_report
from opsmon.evaluation import results, rounds
from opsmon.indicators import CATALOGUE, export, programme, query, reporting, risk, series, targets, trends
from opsmon.ingest import api as ingest
from opsmon.sql import db, reader
from tests.conftest import DEMO_TODAY, PROVINCE, make_account, writable_demo

PERIOD = "2026-05"  # the demo's last month (its reference date is 2026-06-23)
WRITING = re.compile(r"\b(INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s|ALTER\s|DROP\s|TRUNCATE\s|"
                     r"GRANT\s|REFRESH\s|VACUUM|ANALYZE\s|COPY\s+\w+\s+FROM)", re.IGNORECASE)


def _state(engine: sa.Engine) -> list[tuple]:
    """What a refresh would change: the builds' keys and times, the data version, the disposal records."""
    with engine.connect() as conn:
        return [*conn.execute(sa.text("SELECT name, source_key, refreshed_at FROM indicator_state ORDER BY name")),
                *conn.execute(sa.text("SELECT version FROM data_state")),
                *conn.execute(sa.text("SELECT count(*), max(updated_at) FROM risk_disposals"))]


@pytest.fixture(scope="module")
def stale(databases, template_db, tmp_path_factory) -> Iterator[dict[str, Any]]:
    url = writable_demo(databases, template_db, tmp_path_factory, "read_only")
    writer = db.create_engine(url, poolclass=sa.NullPool)
    year = seed_round(writer, seed=5, today=DEMO_TODAY)
    admin = make_account(writer, "ro-admin", "admin", PROVINCE)
    derived.refresh(writer)
    # Newer than the build: a new due day, a threshold, and a data version no build has seen.
    with writer.begin() as conn:
        conn.execute(sa.text("UPDATE settings SET value = '12' WHERE key = 'due_day'"))
        conn.execute(sa.text("INSERT INTO risk_thresholds (rule, level, threshold) "
                             "VALUES ('debt_ratio_high', 'yellow', 0.55)"))
        conn.execute(sa.text("UPDATE data_state SET version = version + 1, changed_at = now()"))
    with writer.connect() as conn:
        hospital = conn.execute(sa.text("SELECT min(hospital_code) FROM hospitals")).scalar_one()
        prefecture = conn.execute(sa.text(
            "SELECT min(adcode) FROM regions WHERE parent_adcode = :p"), {"p": PROVINCE}).scalar_one()
        submission = conn.execute(sa.text("SELECT max(submission_id) FROM submissions")).scalar_one()
        disposal_id = conn.execute(sa.text("SELECT min(disposal_id) FROM risk_disposals")).scalar()
        unit = conn.execute(sa.text("SELECT min(unit_code) FROM evaluation_units WHERE year = :y"),
                            {"y": year}).scalar()
    settings = config.Settings(database_url=url, data_dir=tmp_path_factory.mktemp("ro"), province=PROVINCE,
                               secret_key=None, production=False)
    read = reader.engine(writer, settings)
    yield dict(writer=writer, reader=read, year=year, admin=admin, hospital=hospital, prefecture=prefecture,
               submission=submission, disposal_id=disposal_id, unit=unit)
    writer.dispose()


ALL = [ind.id for ind in CATALOGUE]

READS: dict[str, Callable[[sa.Engine, dict[str, Any]], Any]] = {
    "query, every indicator by county": lambda e, s: query(e, ALL, "county", PERIOD, span="ytd"),
    "query, hospitals of a tier in a prefecture": lambda e, s: query(
        e, ALL, "hospital", PERIOD, region=s["prefecture"], filters={"tier": "三级"}),
    "query, scoped to a hospital": lambda e, s: query(e, ALL, "hospital", PERIOD, scope=s["hospital"]),
    "series": lambda e, s: series(e, "surplus_rate", s["hospital"], "2025-06", PERIOD),
    "targets.evaluate": lambda e, s: targets.evaluate(e),
    "targets.evaluate_children": lambda e, s: targets.evaluate_children(e),
    "risk.changes": lambda e, s: risk.changes(e, PERIOD),
    "risk.register": lambda e, s: risk.register(e, open_only=True),
    "risk.risks_frame": lambda e, s: risk.risks_frame(e, PERIOD),
    "trends.yoy": lambda e, s: trends.yoy(e, "surplus_rate", PROVINCE, "2025-06", PERIOD),
    "trends.forecast_year_end": lambda e, s: trends.forecast_year_end(e, "surplus_rate", PROVINCE, PERIOD),
    "trends.flag_anomalies": lambda e, s: trends.flag_anomalies(e, "surplus_rate", PROVINCE, "2025-06", PERIOD),
    "programme.status": lambda e, s: programme.status(e, PERIOD),
    "programme.outdated": lambda e, s: programme.outdated(e, PERIOD),
    "programme.unit_counts": lambda e, s: programme.unit_counts(e, PERIOD),
    "export.progress_table_xlsx": lambda e, s: export.progress_table_xlsx(e, PERIOD),
    "reporting": lambda e, s: (reporting.root_code(e), reporting.latest_period(e), reporting.data_as_of(e),
                               reporting.children_summary(e, PROVINCE, PERIOD)),
    "derived.status": lambda e, s: derived.status(e),
    "disposal.list_disposals": lambda e, s: disp.list_disposals(e, scope=PROVINCE),
    "disposal.todo_counts": lambda e, s: disp.todo_counts(e, scope=PROVINCE, role_disposal="supervise"),
    "disposal.figures": lambda e, s: disp.figures.by_region(e, scope=PROVINCE),
    "disposal.timeline": lambda e, s: disp.timeline(e, s["disposal_id"], scope=PROVINCE),
    "ingest.list_submissions": lambda e, s: ingest.list_submissions(e, scope=PROVINCE),
    "ingest.get_submission": lambda e, s: ingest.get_submission(e, s["submission"], scope=PROVINCE),
    "ingest.list_revisions": lambda e, s: ingest.list_revisions(e, s["hospital"]),
    "access reads": lambda e, s: (audit.search(e), users.list_users(e), locks.list_locks(e), tokens.list_tokens(e)),
    "evaluation.units": lambda e, s: results.units(e, s["admin"], s["year"]),
    "evaluation.sheet": lambda e, s: results.sheet(e, s["admin"], s["year"], s["unit"]),
    "evaluation.final_scores": lambda e, s: results.final_scores(e, s["admin"], s["year"]),
    "evaluation.rounds": lambda e, s: rounds.rounds(e),
    "evaluation report": lambda e, s: evaluation_report.provincial(e, s["admin"], s["year"]),
    "bulletin": lambda e, s: bulletin.build(e, PERIOD, scope=PROVINCE),
}


@pytest.mark.parametrize("name", list(READS))
def test_a_read_on_stale_data_reads_the_last_build_and_writes_nothing(stale, name):
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    before = _state(stale["writer"])
    sa.event.listen(stale["reader"], "before_cursor_execute", record)
    try:
        READS[name](stale["reader"], stale)
    finally:
        sa.event.remove(stale["reader"], "before_cursor_execute", record)
    assert statements, "the read ran no statement through the read-only engine"
    assert [s for s in statements if WRITING.search(s)] == []
    assert _state(stale["writer"]) == before  # the build is as it was: readers never refresh
    assert derived.status(stale["writer"]).pending  # …and the newer data still wait for the write side


def test_the_read_only_engine_refuses_writes_and_ddl(stale):
    read = stale["reader"]
    for statement in ("UPDATE data_state SET version = version + 1", "CREATE TABLE intruder (x int)",
                      "CREATE TEMPORARY TABLE scratch (x int)"):
        with read.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
            conn.execute(sa.text(statement))


def test_the_reader_role_may_not_write_even_in_a_read_write_transaction(stale):
    with stale["reader"].connect() as conn:
        assert conn.execute(sa.text("SELECT current_user")).scalar_one() == reader.ROLE
    with stale["reader"].connect() as conn:
        conn.execute(sa.text("SET TRANSACTION READ WRITE"))  # the first statement of its transaction
        with pytest.raises(sa.exc.DBAPIError, match="permission denied"):
            conn.execute(sa.text("UPDATE data_state SET version = version + 1"))


def test_a_read_past_the_statement_timeout_is_cut_off_and_recognised(stale, tmp_path):
    settings = config.Settings(database_url=None, data_dir=tmp_path, province=PROVINCE, secret_key=None,
                               production=False, statement_timeout_ms=200)
    slow = reader.engine(stale["writer"], settings)
    with slow.connect() as conn, pytest.raises(sa.exc.OperationalError) as cut:
        conn.execute(sa.text("SELECT pg_sleep(2)"))
    assert reader.timed_out(cut.value)
    with slow.connect() as conn:
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "200ms"


def test_sessions_of_both_sides_run_without_jit_and_the_reader_keeps_its_own_settings(stale):
    """JIT compiling costs a national ranking a third of its time (opsmon.sql.db.SESSION_OPTIONS)."""
    for side in ("writer", "reader"):
        with stale[side].connect() as conn:
            assert conn.execute(sa.text("SHOW jit")).scalar_one() == "off", side
    with stale["reader"].connect() as conn:
        assert conn.execute(sa.text("SHOW default_transaction_read_only")).scalar_one() == "on"
        assert conn.execute(sa.text("SHOW statement_timeout")).scalar_one() == "5s"


def test_the_write_side_brings_the_build_up_to_date(stale):
    assert derived.refresh(stale["writer"]).rebuilt
    assert not derived.status(stale["reader"]).pending
