"""Two provinces replicate to a nation: three real PostgreSQL servers (embedded pgserver instances).

吉林 (220000) and 辽宁 (210000) each run their own opsmon database on a server with
wal_level = logical, loaded with a small demo through ingest; a national instance
(100000) on a third server subscribes to both. The national indicators must equal the
provinces' own, then a revision stored in 吉林 must reach the nation. The harness is
``bench.federation``'s, which times the same steps.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from bench import federation as bench_federation
from bench.federation import (JILIN, LIAONING, built, conninfo, counts, create_database, load_provinces,
                              revised_month, three_servers, visits_at, wait_for)
from opsmon import derived, federation, geo, indicators
from opsmon.indicators import reporting
from opsmon.ingest import api
from opsmon.sql import db, migrate
from tests.conftest import DEMO_TODAY

SMALL = bench_federation.SIZES["quick"]  # enough for the 12-month risk rules


@pytest.fixture(scope="module")
def servers() -> Iterator[dict]:
    with three_servers() as started:
        yield started


@pytest.fixture(scope="module")
def pinned_clock() -> Iterator[None]:
    """Every instance's clock at the demo's reference date: the provinces' registers (built by their
    demo loads as of that day) and the nation's (built by its worker) judge the same months due."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())
        yield


@pytest.fixture(scope="module")
def federated(servers, tmp_path_factory, pinned_clock) -> Iterator[dict]:
    """Both provinces loaded through ingest and published; the nation subscribed to both and caught up."""
    urls = {name: create_database(servers[name]) for name in servers}
    load_provinces(urls, {name: tmp_path_factory.mktemp(name) for name in ("jilin", "liaoning")}, DEMO_TODAY,
                   **SMALL)
    engines = {name: db.create_engine(urls[name], poolclass=sa.NullPool) for name in servers}
    for name, adcode in (("jilin", JILIN), ("liaoning", LIAONING)):
        published = federation.publish(engines[name])
        assert published.province == adcode and published.created and published.renumbered > 0
    nation = engines["nation"]
    migrate.upgrade(nation, geo.NATION)
    # The national instance's `opsmon worker`: it builds the derived tables as replicated rows arrive.
    stop = derived.start_worker_thread(nation, interval=600)
    for name in ("jilin", "liaoning"):
        federation.subscribe(nation, name, conninfo(servers[name]))
    caught_up(engines, "jilin", JILIN)
    caught_up(engines, "liaoning", LIAONING)
    built(nation)
    yield engines
    stop.set()
    for engine in engines.values():
        engine.dispose()


def caught_up(engines: dict, name: str, province: str) -> None:
    """Wait until the nation holds exactly the province's rows, streaming."""
    bench_federation.caught_up(engines["nation"], engines[name], name, province)


def derived_tables(engine) -> tuple[int, ...]:
    """The aggregates' table OIDs: a full build swaps in new tables, an incremental refresh keeps them."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT CAST(CAST('ind_month' AS regclass) AS oid), CAST(CAST('ind_span' AS regclass) AS oid), "
            "CAST(CAST('ind_region' AS regclass) AS oid)")).one())


def province_values(engine, region: str, period: str) -> pd.DataFrame:
    frame = indicators.query(engine, None, "province", period, region=region)
    return frame.set_index("indicator")[["numerator", "denominator", "value", "reporting", "expected"]]


def assert_same(national: pd.DataFrame, provincial: pd.DataFrame) -> None:
    assert list(national.index) == list(provincial.index)
    for indicator in national.index:
        for column in national.columns:
            a, b = national.loc[indicator, column], provincial.loc[indicator, column]
            assert (pd.isna(a) and pd.isna(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), \
                (indicator, column, a, b)


def test_the_national_indicators_equal_the_provinces_own(federated):
    nation = federated["nation"]
    period = reporting.latest_period(federated["jilin"])
    assert period == reporting.latest_period(nation)
    for name, province in (("jilin", JILIN), ("liaoning", LIAONING)):
        assert_same(province_values(nation, province, period), province_values(federated[name], province, period))
    # The nation's own row is the two provinces' sums (the other 29 have no hospitals).
    top = indicators.query(nation, ["hospitals_expected", "hospitals_reporting"], "nation", period)
    ours = pd.concat([indicators.query(federated[n], ["hospitals_expected", "hospitals_reporting"], "province",
                                       period) for n in ("jilin", "liaoning")])
    assert (top.set_index("indicator")["numerator"]
            == ours.groupby("indicator")["numerator"].sum().reindex(top["indicator"]).to_numpy()).all()
    # Risks are computed nationally from the same rows: the same register per province.
    for name, province in (("jilin", JILIN), ("liaoning", LIAONING)):
        mine = indicators.risk.register(federated[name])[["hospital_code", "rule", "first_period", "level"]]
        theirs = indicators.risk.register(nation, region=province)[["hospital_code", "rule", "first_period",
                                                                      "level"]]
        key = ["hospital_code", "rule", "first_period"]
        assert mine.sort_values(key).reset_index(drop=True).equals(theirs.sort_values(key).reset_index(drop=True))


def test_a_revision_in_one_province_reaches_the_nation(federated):
    jilin, nation = federated["jilin"], federated["nation"]
    period = reporting.latest_period(jilin)
    with nation.connect() as conn:
        version = conn.execute(sa.text("SELECT version FROM data_state")).scalar_one()
    built_tables = derived_tables(nation)
    code, content, visits = revised_month(jilin, period)
    result = api.ingest_bytes(content, "快报-修订.csv", engine=jilin, kind="monthly", today=DEMO_TODAY)
    assert result.status == "accepted" and result.revisions_created == 1, result.errors
    assert result.submission_id >= federation.id_range(JILIN)[0]
    assert derived.after_upload(jilin, accepted=True)  # the province's upload path refreshes its own tables

    wait_for(lambda: visits_at(nation, code, period) == visits, "the revision to reach the nation")
    wait_for(lambda: counts(nation, JILIN[:2]) == counts(jilin), "the submission's rows")
    with nation.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM data_state")).scalar_one() > version
        revisions = conn.execute(sa.text(
            "SELECT revision, is_current FROM monthly_values WHERE hospital_code = :c "
            "AND period = CAST(:p || '-01' AS date) ORDER BY revision"), {"c": code, "p": period}).all()
    assert [tuple(r) for r in revisions] == [(1, False), (2, True)]
    # The nation's worker, notified by the arrival, refreshes; the nation equals the province again.
    built(nation)
    # … incrementally: that hospital's rows moved in the tables built before (a full build swaps in new ones).
    assert derived_tables(nation) == built_tables
    assert_same(province_values(nation, JILIN, period), province_values(jilin, JILIN, period))
    hospital = indicators.query(nation, None, "hospital", period, region=JILIN).query("code == @code")
    assert_same(hospital.set_index("indicator")[["numerator", "denominator", "value"]],
                indicators.query(jilin, None, "hospital", period).query("code == @code")
                .set_index("indicator")[["numerator", "denominator", "value"]])


def test_status_states_each_provinces_data_as_of(federated):
    frame = federation.status(federated["nation"]).set_index("name")
    assert list(frame.index) == ["liaoning", "jilin"]  # by adcode
    assert set(frame["state"]) == {"streaming"}
    assert frame.loc["jilin", "province"] == JILIN and frame.loc["jilin", "province_name"] == "吉林省"
    assert frame.loc["jilin", "hospitals"] == counts(federated["jilin"])[0]
    assert (frame["errors"] == 0).all()
    assert frame["as_of"].notna().all() and frame["last_arrival"].notna().all()
    with federated["jilin"].connect() as conn:
        latest = conn.execute(sa.text("SELECT max(received_at) FROM submissions")).scalar_one()
    assert frame.loc["jilin", "latest_submission"] == latest


def test_a_province_that_is_down_keeps_its_rows_and_its_as_of_time(federated, servers):
    nation = federated["nation"]
    before = federation.status(nation).set_index("name").loc["liaoning"]
    rows = counts(nation, LIAONING[:2])
    servers["liaoning"].stop()
    try:
        wait_for(lambda: federation.status(nation).set_index("name").loc["liaoning", "state"] == "down",
                 "the nation to notice 辽宁 is down")
        down = federation.status(nation).set_index("name")
        assert down.loc["liaoning", "as_of"] == before["last_arrival"]  # known current only until then
        assert down.loc["jilin", "state"] == "streaming"
        assert counts(nation, LIAONING[:2]) == rows
    finally:
        servers["liaoning"].ensure_postgres_running()
    wait_for(lambda: federation.status(nation).set_index("name").loc["liaoning", "state"] == "streaming",
             "辽宁 to stream again")
