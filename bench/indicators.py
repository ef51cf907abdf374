"""Indicator refresh and query latencies.

    python bench/indicators.py                      # the database DATABASE_URL points to (embedded if unset)
    python bench/indicators.py --synthetic 300 36   # a throwaway database on that server: 300 hospitals, 36 months

Prints one line per operation: the median and the slowest of --repeat runs, in
milliseconds. The synthetic province is made with plain SQL (random but valid
rows: the accounting identities hold), not through ingest: this measures the
indicator layer only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from opsmon.indicators import aggregate, query, risk, series, targets
from opsmon.indicators.export import export_table, progress_table
from opsmon.ingest import uscc
from opsmon.sql import db, migrate

PROVINCE = "220000"
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


def timed(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Median and maximum wall time of *repeat* calls, in milliseconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def run(engine: Engine, repeat: int) -> None:
    """Time the operations on *engine* and print them."""
    with engine.connect() as conn:
        n_hosp = conn.execute(sa.text("SELECT count(*) FROM hospitals")).scalar_one()
        n_rows = conn.execute(sa.text("SELECT count(*) FROM monthly_values WHERE is_current")).scalar_one()
        latest = conn.execute(sa.text("SELECT to_char(max(period), 'YYYY-MM') FROM monthly_values")).scalar()
        first = conn.execute(sa.text("SELECT to_char(min(period), 'YYYY-MM') FROM monthly_values")).scalar()
    print(f"# {n_hosp} hospitals, {n_rows} current monthly rows, {first} … {latest}")
    if latest is None:
        print("no monthly data: load some (or use --synthetic)", file=sys.stderr)
        return
    prefecture = "220100"
    hospital = None
    with engine.connect() as conn:
        hospital = conn.execute(sa.text("SELECT hospital_code FROM monthly_values LIMIT 1")).scalar()
    as_of = datetime.now(timezone.utc)
    ops: list[tuple[str, Callable[[], object]]] = [
        ("refresh aggregates (full rebuild)", lambda: aggregate.refresh(engine, force=True)),
        ("refresh aggregates (nothing changed)", lambda: aggregate.refresh(engine)),
        ("refresh risk register (full)", lambda: risk.refresh_register(engine, as_of=as_of, force=True)),
        ("refresh risk register (nothing changed)", lambda: risk.refresh_register(engine, as_of=as_of)),
        ("query province, all 36 indicators, month", lambda: query(engine, None, "province", latest)),
        ("query prefectures, all indicators, ytd", lambda: query(engine, None, "prefecture", latest, span="ytd")),
        ("query counties, 5 indicators, month",
         lambda: query(engine, ["surplus_rate", "debt_ratio", "reporting_rate", "ops_platform_coverage_tertiary",
                                "medical_revenue_growth"], "county", latest)),
        ("query hospitals, 5 indicators, year",
         lambda: query(engine, ["surplus_rate", "debt_ratio", "cash_months", "deficit_hospitals",
                                "avg_inpatient_cost_growth"], "hospital", latest, span="year")),
        ("query hospitals of a prefecture, tier 三级, scoped",
         lambda: query(engine, None, "hospital", latest, filters={"tier": "三级"}, scope=prefecture)),
        ("series, province, whole history", lambda: series(engine, "surplus_rate", PROVINCE, first, latest)),
        ("series, one hospital, whole history", lambda: series(engine, "debt_ratio", hospital, first, latest)),
        ("risk changes, province, latest month", lambda: risk.changes(engine, latest, as_of=as_of)),
        ("targets evaluate, province", lambda: targets.evaluate(engine, as_of=latest)),
        ("progress table, province", lambda: progress_table(engine, latest)),
        ("export xlsx, counties × all indicators",
         lambda: export_table(query(engine, None, "county", latest), "xlsx")),
    ]
    width = max(len(name) for name, _ in ops)
    print(f"{'operation':<{width}}  {'median ms':>10}  {'max ms':>8}")
    for name, fn in ops:
        median, worst = timed(repeat, fn)
        print(f"{name:<{width}}  {median:>10.1f}  {worst:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", nargs=2, type=int, metavar=("HOSPITALS", "MONTHS"),
                        help="benchmark a throwaway synthetic province on the same server")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the synthetic database")
    args = parser.parse_args()
    url = db.resolve_url()
    if not args.synthetic:
        run(db.get_engine(url), args.repeat)
        return
    admin = sa.create_engine(db.sqlalchemy_url(url), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"opsmon_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    bench_url = make_url(db.sqlalchemy_url(url)).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(bench_url, poolclass=sa.NullPool)
    try:
        migrate.upgrade(engine, PROVINCE)
        started = time.perf_counter()
        synthetic(engine, *args.synthetic)
        print(f"# synthetic data loaded in {time.perf_counter() - started:.1f} s")
        run(engine, args.repeat)
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
