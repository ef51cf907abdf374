"""Indicator refresh beside its COPY floor, and query latencies, at province and national size.

    python -m bench.indicators            # province (300 hospitals × 36 months) and national (12 000 × 60)
    python -m bench.indicators --quick    # province only
    python -m bench.indicators --national-url URL  # national scale on a loaded national demo
    python -m bench.indicators --no-write # print only; leave bench/RESULTS.md alone

Each scale runs in a throwaway database on DATABASE_URL's server (else the machine's
server). The data are made with plain SQL — random but valid rows (the accounting
identities hold), a few months missing — not through ingest: this measures the
indicator layer only. The national set puts its 12 000 hospitals in 吉林's 60 counties
(one province's regions are loaded); the work per hospital-month is what a national
roll-up does, the region tree is smaller. ``--national-url`` measures the national scale on a
database loaded with ``opsmon demo --scale national --no-serve`` instead (the demo's 12 000
hospitals over every province's counties, through ingest): the real tree and realistic values
(far fewer risk firings than the synthetic rows, of which half run a deficit). It stores one
new revision of one hospital-month there per repeat, as an upload would.

The figures: a full refresh of the materialised aggregates and the risk register,
beside its physical floor measured on the same database (issue 19): its inputs read
once and its derived rows written once, with ``COPY`` (:func:`copy_floor_ms`) — goal
≤ 3× the floor, and ≤ 60 s nationally; one sequential scan of ``monthly_values`` is
shown too (``count(*)`` and a sum over every row, warm cache); the refresh after one
hospital's new revision; the dashboard's reads through the read-only role while the aggregates
are rebuilt (do they wait, and is every answer a complete build's — items 1 and 2), and how that
role treats a statement past its timeout and a write; and the median and slowest of several runs of typical
``query`` calls (goal: under 50 ms province, under 200 ms national).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import psycopg.errors
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import RESULTS, machine, percentile, record_goals, throwaway_database, timed, write_section
from opsmon import config, periods
from opsmon.indicators import aggregate, query, reporting, risk, series, targets
from opsmon.indicators.export import export_table, progress_table
from opsmon.ingest import uscc
from opsmon.sql import db, migrate, reader

PROVINCE = "220000"
SCALES = {"province": (300, 36), "national": (12_000, 60)}
FLOOR_GOAL = 3.0  # issue 19: a full refresh within 3× its COPY floor …
NATIONAL_REFRESH_GOAL_S = 60  # … and within a minute nationally
# What a full refresh reads, and what it writes.
INPUTS = ("hospitals", "submissions", "monthly_values", "progress_values")
DERIVED = ("ind_month", "ind_span", "ind_region", "risk_firings", "risk_register")
QUERY_GOAL_MS = {"province": 50, "national": 200}
SCAN_SQL = "SELECT count(*), sum(total_revenue), sum(total_liabilities) FROM monthly_values"
# A new revision of one hospital's latest month, as an upload stores it (the values unchanged).
REVISE_SQL = (
    "CREATE TEMP TABLE revised ON COMMIT DROP AS SELECT * FROM monthly_values "
    "WHERE hospital_code = :h AND period = :p AND is_current",
    "UPDATE monthly_values SET is_current = false WHERE hospital_code = :h AND period = :p AND is_current",
    "UPDATE revised SET revision = revision + 1, submission_id = (SELECT max(submission_id) FROM submissions)",
    "INSERT INTO monthly_values SELECT * FROM revised",
    "UPDATE data_state SET version = version + 1",
)
SYNTHETIC_MONTHS_SQL = """
INSERT INTO monthly_values
SELECT hospital_code, period, 1, :sid, true,
       r, 0.8 * r, 0.3 * r, 0.5 * r, 0.2 * r, 0.1 * r, 0.1 * r, 0.05 * r, 0.15 * r, 0.05 * r,
       e, 0.7 * e, 0.2 * e, 0.1 * e, 0.3 * e, NULL, NULL, NULL, 0.01 * e,
       a, 0.4 * a, 0.1 * a, l, 0.5 * l, 0.2 * l, CASE WHEN random() < 0.05 THEN 0.05 * l ELSE 0 END,
       CASE WHEN random() < 0.03 THEN 1000 ELSE 0 END,
       (r / 200)::int, (r / 5000)::int, (r / 700)::int, 300, 120, 250, now()
FROM (
    SELECT h.hospital_code, CAST(p AS date) AS period,
           100 * (5000 + floor(random() * 20000)) AS r, 100 * (5000 + floor(random() * 20000)) AS e,
           1000 * (50000 + floor(random() * 50000)) AS a, 1000 * (20000 + floor(random() * 60000)) AS l
    FROM hospitals h
    CROSS JOIN generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month') p
    WHERE random() < 0.97  -- a few months missing
) x
"""
SYNTHETIC_PROGRESS_SQL = """
INSERT INTO progress_values
SELECT h.hospital_code, CAST(p AS date), 1, :sid, true, random() < 0.8, true, random() < 0.6,
       (ARRAY['not_started', 'building', 'built', 'in_use'])[1 + floor(random() * 4)::int],
       floor(random() * 3)::int, floor(random() * 8)::int,
       (ARRAY['not_started', 'in_progress', 'done'])[1 + floor(random() * 3)::int], random() < 0.7, false
FROM hospitals h
CROSS JOIN generate_series(CAST(:first AS date), CAST(:last AS date), interval '3 months') p
"""


def synthetic(engine: Engine, hospitals: int, months: int) -> None:
    """Fill a migrated, empty database with *hospitals* hospitals and *months* months of data."""
    with engine.begin() as conn:
        counties = [r[0] for r in conn.execute(sa.text("SELECT adcode FROM regions WHERE level = 'county'"))]
        rows = [{"c": uscc.make(counties[n % len(counties)], f"BN{n:06d}"), "a": counties[n % len(counties)],
                 "l": ["三级甲等", "二级甲等", "二级", "一级"][n % 4], "p": n % 7 == 0, "b": n % 5 == 0}
                for n in range(hospitals)]
        conn.execute(sa.text(
            "INSERT INTO hospitals (hospital_code, name, adcode, level, category, affiliation, authority, is_pilot, "
            "is_budget_managed) VALUES (:c, '基准医院（演示）', :a, :l, '综合医院', '县属', '卫生健康委', :p, :b)"), rows)
        sid = conn.execute(sa.text(
            "INSERT INTO submissions (kind, username, file_name, sha256, size_bytes, status, received_at) VALUES "
            "('monthly', 'bench', 'bench.csv', repeat('b', 64), 1, 'accepted', now()) RETURNING submission_id"
        )).scalar_one()
        today = date.today().replace(day=1)
        last = date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
        index = last.year * 12 + last.month - 1 - (months - 1)
        first = date(index // 12, index % 12 + 1, 1)
        params = {"sid": sid, "first": first, "last": last}
        conn.execute(sa.text(SYNTHETIC_MONTHS_SQL), params)
        conn.execute(sa.text(SYNTHETIC_PROGRESS_SQL), params)
        conn.execute(sa.text("UPDATE data_state SET version = version + 1"))


def demo_size(engine: Engine) -> tuple[int, int, int]:
    """Hospitals, months and current monthly rows of an already-loaded database."""
    with engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM hospitals), count(DISTINCT period), count(*) "
            "FROM monthly_values WHERE is_current")).one())


def scan_ms(engine: Engine, repeat: int = 3) -> float:
    """Median time of one sequential scan of monthly_values (warm: the first run reads it in)."""
    with engine.connect() as conn:
        conn.execute(sa.text(SCAN_SQL))
        return timed(repeat, lambda: conn.execute(sa.text(SCAN_SQL)).all())[0]


def revise_one(engine: Engine) -> None:
    """Store a new revision of one hospital's latest month and bump the data version."""
    with engine.begin() as conn:
        h, p = conn.execute(sa.text(
            "SELECT hospital_code, max(period) FROM monthly_values GROUP BY hospital_code "
            "ORDER BY hospital_code LIMIT 1")).one()
        # A new accepted file, as ingest logs it: the incremental refresh finds the hospital through it.
        conn.execute(sa.text(
            "INSERT INTO submissions (kind, username, file_name, sha256, size_bytes, status, received_at) VALUES "
            "('monthly', 'bench', 'revision.csv', repeat('c', 64), 1, 'accepted', now())"))
        for statement in REVISE_SQL:
            conn.execute(sa.text(statement), {"h": h, "p": p})


def copy_floor_ms(engine: Engine) -> tuple[float, float]:
    """A full refresh's physical floor (ms): its inputs read once, its derived rows written once, with COPY.

    (read, write): every row of the input tables copied out (binary, warm cache); the rows
    the last refresh built copied into new tables of the same columns, committed (a refresh
    commits its tables too). The rows to write are fetched beforehand, untimed.
    """
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            rows = {}
            for table in DERIVED:
                with cur.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                    rows[table] = b"".join(bytes(block) for block in copy)
            conn.commit()
            started = time.perf_counter()
            for table in INPUTS:
                with cur.copy(f"COPY {table} TO STDOUT (FORMAT binary)") as copy:
                    for _block in copy:
                        pass
            read = (time.perf_counter() - started) * 1000
            conn.commit()
            started = time.perf_counter()
            for table in DERIVED:
                cur.execute(f"CREATE TABLE bench_floor_{table} (LIKE {table})")
                with cur.copy(f"COPY bench_floor_{table} FROM STDIN (FORMAT binary)") as copy:
                    copy.write(rows[table])
            conn.commit()
            write = (time.perf_counter() - started) * 1000
            for table in DERIVED:
                cur.execute(f"DROP TABLE bench_floor_{table}")
            conn.commit()
        return read, write
    finally:
        raw.close()


def reader_engine(engine: Engine) -> Engine:
    """The dashboard's read side beside *engine*: the ``opsmon_reader`` role, read-only, 5 s statement timeout."""
    settings = config.Settings(database_url=engine.url.render_as_string(hide_password=False), data_dir=Path("."),
                               province=PROVINCE, secret_key=None, production=False)
    return reader.engine(engine, settings)


@dataclass(frozen=True)
class ReadSide:
    """Issue 19's items 1 and 2, measured: the reads during a rebuild (ms), how many of them a complete build
    answered, and how the read side treated a too-long statement (cut off after *cut_ms*) and a write."""

    idle: list[float]
    during: list[float]
    complete: int
    cut_ms: float = 0.0
    refused: bool = False


def reads_during_refresh(engine: Engine, reads: list[Callable[[Engine], pd.DataFrame]]) -> ReadSide:
    """Issue 19, item 1: the dashboard's reads, through the read-only role, while a full rebuild of the aggregates
    runs on the write side — how long they take, and whether each answer is a complete build's.

    The *reads* take turns, first with nothing else running (``idle``), then for as long as the
    rebuild runs (``during``); the rebuild is of the same data, so a complete build answers every
    read exactly as before it (``complete``: how many did). The read side's timeout and write refusal
    are :func:`statement_timeout_ms`'s.
    """
    ro = reader_engine(engine)
    wanted = [read(ro) for read in reads]

    def timed_read(n: int) -> tuple[float, bool]:
        started = time.perf_counter()
        answer = reads[n % len(reads)](ro)
        return (time.perf_counter() - started) * 1000, answer.equals(wanted[n % len(reads)])

    idle = [timed_read(n)[0] for n in range(4 * len(reads))]
    failed: list[BaseException] = []

    def rebuild() -> None:
        try:
            aggregate.refresh(engine, force=True)
        except BaseException as error:  # noqa: BLE001 — reported by the caller
            failed.append(error)

    writer = threading.Thread(target=rebuild, name="bench-rebuild")
    writer.start()
    during, complete = [], 0
    while writer.is_alive():
        ms, same = timed_read(len(during))
        during.append(ms)
        complete += same
    writer.join()
    if failed:
        raise failed[0]
    return ReadSide(idle, during, complete)


def statement_timeout_ms(engine: Engine) -> tuple[float, bool]:
    """Issue 19, item 2: how long the read side lets a too-long statement run, and whether it refuses a write."""
    ro = reader_engine(engine)
    with ro.connect() as conn:
        limit = conn.execute(sa.text("SHOW statement_timeout")).scalar_one()
    started = time.perf_counter()
    try:
        with ro.connect() as conn:
            conn.execute(sa.text("SELECT pg_sleep(60)"))
        raise AssertionError(f"a 60 s statement ran to its end under statement_timeout = {limit}")
    except sa.exc.OperationalError as error:
        if not reader.timed_out(error):
            raise
    cut = (time.perf_counter() - started) * 1000
    try:
        with ro.connect() as conn:
            conn.execute(sa.text("CREATE TEMP TABLE bench_write_refused (n int)"))
        refused = False
    except sa.exc.DBAPIError as error:
        refused = isinstance(error.orig, (psycopg.errors.ReadOnlySqlTransaction, psycopg.errors.InsufficientPrivilege))
    return cut, refused


def refresh_all(engine: Engine, as_of: datetime, force: bool) -> None:
    aggregate.refresh(engine, force=force)
    risk.refresh_register(engine, as_of=as_of, force=force)


def run(engine: Engine, scale: str, repeat: int) -> tuple[list[tuple[str, float, float, str]], ReadSide]:
    """Time the operations on *engine*: rows of (operation, median ms, max ms, goal / ratio text), and the read
    side's figures (also in the rows) for :func:`goals`."""
    with engine.connect() as conn:
        latest = conn.execute(sa.text("SELECT to_char(max(period), 'YYYY-MM') FROM monthly_values")).scalar()
        first = conn.execute(sa.text("SELECT to_char(min(period), 'YYYY-MM') FROM monthly_values")).scalar()
        hospital = conn.execute(sa.text("SELECT min(hospital_code) FROM monthly_values")).scalar()
        prefecture = conn.execute(sa.text(
            "SELECT a.ancestor_adcode FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
            "JOIN regions r ON r.adcode = a.ancestor_adcode AND r.level = 'prefecture' "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")).scalar()
        root, top = conn.execute(sa.text("SELECT adcode, level FROM regions WHERE parent_adcode IS NULL")).one()
    # The levels below the root: a national instance has provinces between it and the prefectures.
    below = "province" if top == "nation" else "prefecture"
    as_of = datetime.now(timezone.utc)
    refresh_repeat = 1 if scale == "national" else repeat
    scan = scan_ms(engine)
    rows: list[tuple[str, float, float, str]] = [("one sequential scan of monthly_values", scan, scan, "the unit")]

    full = timed(refresh_repeat, lambda: refresh_all(engine, as_of, force=True))
    read, write = copy_floor_ms(engine)
    floor = read + write

    def ratio(ms: float) -> str:
        return f"**{ms / floor:.1f}×** floor, {ms / scan:,.0f}× scan"

    rows.append(("full refresh: aggregates + risk register", *full, f"{ratio(full[0])} (goal {refresh_goal(scale)})"))
    rows.append(("COPY floor: inputs read once + derived rows written once", floor, floor, "the floor"))
    rows.append(("  of which reading the inputs (COPY TO)", read, read, ""))
    rows.append(("  of which writing the derived rows (COPY FROM)", write, write, ""))
    part = timed(refresh_repeat, lambda: aggregate.refresh(engine, force=True))
    rows.append(("  of which aggregates (ind_month, ind_span, ind_region)", *part, ratio(part[0])))
    rows.append(("  of which risk register", full[0] - part[0], full[1] - part[1], ratio(full[0] - part[0])))
    reads = reads_during_refresh(engine, [lambda e: query(e, None, top, latest),
                                          lambda e: query(e, "surplus_rate", "hospital", latest)])
    cut_ms, refused = statement_timeout_ms(engine)
    reads = replace(reads, cut_ms=cut_ms, refused=refused)
    during, idle = reads.during, reads.idle
    rows.append((f"reads during a rebuild of the aggregates, read-only role ({len(during)} reads: {top} overview, "
                 "hospital ranking in turn)", statistics.median(during), max(during),
                 f"p95 {percentile(during, 95):,.0f} ms (idle: median {statistics.median(idle):,.0f}, p95 "
                 f"{percentile(idle, 95):,.0f}); {reads.complete} of {len(during)} answers a complete build's"))
    rows.append(("read side: a 60 s statement cut off after", reads.cut_ms, reads.cut_ms,
                 f"statement_timeout; a write through the read side {'refused' if reads.refused else '**accepted**'}"))

    def after_upload() -> None:
        revise_one(engine)
        started = time.perf_counter()
        refresh_all(engine, as_of, force=False)
        timings.append((time.perf_counter() - started) * 1000)

    timings: list[float] = []
    for _ in range(repeat):  # an incremental refresh is cheap at both scales
        after_upload()
    rows.append(("refresh after one hospital's new revision", statistics.median(timings), max(timings),
                 "goal < 1 s national (issue 7)"))
    rows.append(("refresh when nothing changed", *timed(repeat, lambda: refresh_all(engine, as_of, force=False)),
                 ""))
    goal = f"goal < {QUERY_GOAL_MS[scale]} ms"
    queries: list[tuple[str, Callable[[], object]]] = [
        (f"query: {top}, all indicators, month (overview)", lambda: query(engine, None, top, latest)),
        (f"query: {below}s, all indicators, YTD", lambda: query(engine, None, below, latest, span="ytd")),
        ("query: counties, 5 indicators, month",
         lambda: query(engine, ["surplus_rate", "debt_ratio", "reporting_rate", "ops_platform_coverage_tertiary",
                                "medical_revenue_growth"], "county", latest)),
        ("query: every hospital, 1 indicator, month (ranking)",
         lambda: query(engine, "surplus_rate", "hospital", latest)),
        ("query: every hospital, 5 indicators, 12 months",
         lambda: query(engine, ["surplus_rate", "debt_ratio", "cash_months", "deficit_hospitals",
                                "avg_inpatient_cost_growth"], "hospital", latest, span="year")),
        ("query: 三级 hospitals of a prefecture, scoped",
         lambda: query(engine, None, "hospital", latest, filters={"tier": "三级"}, scope=prefecture)),
        (f"series: {top}, whole history", lambda: series(engine, "surplus_rate", root, first, latest)),
        ("series: one hospital, 36 months",
         lambda: series(engine, "debt_ratio", hospital, periods.add_months(periods.to_date(latest), -35), latest)),
        (f"risk changes, {top}, latest month", lambda: risk.changes(engine, latest)),
        (f"targets with projections, {top}", lambda: targets.evaluate(engine, as_of=latest)),
        (f"进展情况表 (progress table), {top}", lambda: progress_table(engine, latest)),
        ("export XLSX: counties × all indicators", lambda: export_table(query(engine, None, "county", latest),
                                                                        "xlsx")),
        ("export XLSX: counties × all indicators, wide (a column per indicator)",
         lambda: export_table(query(engine, None, "county", latest), "xlsx", layout="wide")),
    ]
    for name, fn in queries:
        median, worst = timed(repeat, fn)
        rows.append((name, median, worst, goal if name.startswith(("query", "series")) else ""))
    return rows, reads


EXPORT_GOAL_S = 5  # issue 19: the counties × all-indicators XLSX, nationally


def refresh_goal(scale: str) -> str:
    """The full refresh's goal at *scale*: within :data:`FLOOR_GOAL` × its floor, and a minute nationally."""
    return f"≤ {FLOOR_GOAL:g}× floor" + (f", ≤ {NATIONAL_REFRESH_GOAL_S} s" if scale == "national" else "")


def goals(scale: str, rows: list[tuple[str, float, float, str]], reads: ReadSide) -> list[dict]:
    """The headline figures for the summary: full refresh / its floor, refresh after an upload, query latency."""
    ms = {name: median for name, median, _worst, _note in rows}
    floor = ms["COPY floor: inputs read once + derived rows written once"]
    full = ms["full refresh: aggregates + risk register"]
    after = ms["refresh after one hospital's new revision"]
    slowest = max((median, name) for name, median, _w, _n in rows if name.startswith(("query", "series")))
    slowest_read, n = max(reads.during), len(reads.during)
    limit = QUERY_GOAL_MS[scale]
    return [
        {"figure": "full refresh (aggregates + risk register) / its COPY floor",
         "value": f"{full / floor:,.1f}× ({full / 1000:,.1f} s; floor {floor / 1000:,.1f} s)",
         "goal": refresh_goal(scale),
         "met": full / floor <= FLOOR_GOAL and (scale != "national" or full <= NATIONAL_REFRESH_GOAL_S * 1000)},
        {"figure": "reads while the aggregates are rebuilt (read-only role): slowest; answers from a complete build",
         "value": f"{slowest_read:,.0f} ms (median {statistics.median(reads.during):,.0f}); {reads.complete} of {n}",
         "goal": "none cut off (< 5 s); all", "met": slowest_read < 5000 and reads.complete == n},
        {"figure": "read side: a too-long statement cut off after; a write", "value":
         f"{reads.cut_ms / 1000:,.1f} s; {'refused' if reads.refused else 'accepted'}", "goal": "5 s; refused",
         "met": reads.cut_ms < 6000 and reads.refused},
        {"figure": "refresh after one hospital's upload", "value": f"{after:,.0f} ms", "goal": "< 1 s (national)",
         "met": after < 1000},
        {"figure": f"slowest indicator query, median ({slowest[1].split(': ', 1)[1]})",
         "value": f"{slowest[0]:,.0f} ms", "goal": f"< {limit} ms", "met": slowest[0] < limit},
        *({"figure": name.replace("export XLSX: ", "XLSX export, ").replace(" (a column per indicator)", ""),
           "value": f"{ms[name] / 1000:,.1f} s", "goal": f"< {EXPORT_GOAL_S} s (national)",
           "met": ms[name] < EXPORT_GOAL_S * 1000}
          for name in ms if name.startswith("export XLSX")),
    ]


def table(scale: str, hospitals: int, months: int, rows_count: int, source: str,
          rows: list[tuple[str, float, float, str]]) -> str:
    lines = [f"### {scale.capitalize()}: {hospitals:,} hospitals × {months} months "
             f"({rows_count:,} monthly rows; {source})", "",
             "| operation | median ms | max ms | goal / ratio |", "|---|---:|---:|---|"]
    lines += [f"| {name} | {median:,.1f} | {worst:,.1f} | {note} |" for name, median, worst, note in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the province scale only")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--national-url", help="a database loaded with opsmon demo --scale national, for the national scale")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    sections, about, figures = [], "", {}
    for scale, (hospitals, months) in SCALES.items():
        if args.quick and scale != "province":
            continue
        if scale == "national" and args.national_url:
            engine = db.get_engine(args.national_url)
            about = machine(engine)
            hospitals, months, count = demo_size(engine)
            source = f"the national demo, loaded through ingest: {reporting.root_code(engine)}"
            measured, read_side = run(engine, scale, args.repeat)
            text = table(scale, hospitals, months, count, source, measured)
            engine.dispose()
        else:
            with throwaway_database() as engine:
                about = machine(engine)
                migrate.upgrade(engine, PROVINCE)
                started = time.perf_counter()
                synthetic(engine, hospitals, months)
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(sa.text("VACUUM ANALYZE"))
                    count = conn.execute(sa.text("SELECT count(*) FROM monthly_values")).scalar_one()
                source = f"synthetic data loaded in {time.perf_counter() - started:.0f} s"
                measured, read_side = run(engine, scale, args.repeat)
            text = table(scale, hospitals, months, count, source, measured)
        print(text + "\n", flush=True)
        sections.append(text)
        figures[scale] = goals(scale, measured, read_side)
    if not args.no_write:
        title = f"Indicators (`python -m bench.indicators{' --quick' if args.quick else ''}`)"
        write_section("indicators", title, "\n\n".join(sections), about)
        if not args.quick:
            for scale, lines in figures.items():
                record_goals("indicators", scale, lines)
        print(f"# wrote {RESULTS}", file=sys.stderr)

if __name__ == "__main__":
    main()
