"""Ingest throughput beside a bare PostgreSQL COPY of the same rows.

    python -m bench.ingest            # both scales: a province (300 hospitals: one month, a 3-year
                                      # history) and the nation (12 000: one month, a 5-year history)
    python -m bench.ingest --quick    # 300-hospital month and 1-year history; 12 000-row month,
                                      # 1-year history of 2 000 hospitals

Uses DATABASE_URL, else the machine's server (postgresql://postgres@127.0.0.1:5432/postgres); a
throwaway database is created there for each scale and dropped afterwards. The registry (300 or
12 000 hospitals with valid USCCs spread over 吉林's counties: the number of rows is what
differs between the scales) is loaded through ingest. Monthly files are UTF-8 CSVs
with the template's Chinese headers, values random but valid (every accounting identity holds,
months move a few per cent), loaded through ``ingest_bytes`` exactly as an upload is: parse,
validate (plausibility against the history already stored), store. The history is loaded as
one file per month, oldest first — files stay under the 20 MB upload limit.

The baseline is ``COPY`` of the same rows (canonical CSV) into an unindexed table with the same
column types on the same server, one transaction per file. The ratio ingest / COPY is the
figure; the goal is ≤ 3×. Prints a markdown table with a breakdown of where ingest's time goes
and replaces the ingest section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import RESULTS, machine, record_goals, throwaway_database, write_section
from opsmon.ingest import api, store, uscc
from opsmon.ingest.fields import MONTHLY_V2, by_code, value_columns
from opsmon.sql import migrate

PROVINCE = "220000"
GOAL = 3.0
TODAY = date(2026, 11, 15)  # periods end 2026-10: fixed, so runs compare

# Where ingest's time goes: wall time of each step, summed over files.
PHASES: dict[str, float] = defaultdict(float)


def _timed(name: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            PHASES[name] += time.perf_counter() - started
    return wrapper


def instrument() -> None:
    """Time the steps of ``ingest_bytes`` in place (the code under measurement is unchanged)."""
    api.parse = _timed("parse", api.parse)
    api.build_context = _timed("context queries", api.build_context)
    api.validate = _timed("validate", api.validate)
    store.store_values = _timed("store", store.store_values)
    store.store_registry = _timed("store", store.store_registry)


# ---------------------------------------------------------------------------------------------
def counties(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT adcode FROM regions WHERE level = 'county' ORDER BY adcode"))
                    .scalars())


def registry_csv(codes: list[str], adcodes: list[str]) -> bytes:
    rows = pd.DataFrame({
        "hospital_code": codes,
        "name": [f"测试医院{i:05d}（演示）" for i in range(len(codes))],
        "adcode": adcodes,
        "level": np.where(np.arange(len(codes)) % 5 == 0, "三级甲等", "二级甲等"),
        "category": "综合医院", "affiliation": "县属", "authority": "卫生健康委",
        "is_pilot": "否", "is_budget_managed": "否", "alliance_lead_code": "",
    })
    rows.columns = [by_code("registry")[c].header for c in rows.columns]
    return rows.to_csv(index=False).encode("utf-8-sig")


def hospitals(engine: Engine, n: int) -> list[str]:
    """*n* valid USCCs over the province's counties, registered through ingest."""
    county = counties(engine)
    adcodes = [county[i % len(county)] for i in range(n)]
    codes = [uscc.make(a, f"{40000000 + i:08d}") for i, a in enumerate(adcodes)]
    result = api.ingest_bytes(registry_csv(codes, adcodes), "机构名录.csv", engine=engine, username="bench",
                              max_bytes=10**9)
    if result.status != "accepted":
        raise SystemExit(f"registry rejected: {result.errors[:3]}")
    return codes


def month_frame(codes: list[str], period: str, base: pd.DataFrame) -> pd.DataFrame:
    """One valid month per hospital: *base* (per-hospital scale) moved a few per cent."""
    rng = np.random.default_rng(int(period.replace("-", "")))
    n = len(codes)
    s = base["scale"].to_numpy() * rng.uniform(0.96, 1.04, n)

    def money(x: np.ndarray) -> np.ndarray:
        return np.round(x, 2)

    out = money(s * 0.55)
    inp = money(s * 0.45)
    medical = out + inp
    fiscal, other = money(s * 0.10), money(s * 0.03)
    business, admin, other_e = money(s * 0.85), money(s * 0.10), money(s * 0.02)
    assets = money(base["assets"].to_numpy())
    liab = money(assets * 0.45)
    f = {
        "hospital_code": codes, "period": period,
        "total_revenue": money(medical + fiscal + other), "medical_revenue": money(medical),
        "outpatient_revenue": out, "inpatient_revenue": inp,
        "drug_revenue": money(medical * 0.25), "consumables_revenue": money(medical * 0.15),
        "exam_revenue": money(medical * 0.1), "lab_revenue": money(medical * 0.08),
        "fiscal_subsidy_revenue": fiscal, "other_revenue": other,
        "total_expense": money(business + admin + other_e), "business_expense": business,
        "admin_expense": admin, "other_expense": other_e, "personnel_expense": money(s * 0.38),
        "drug_expense": money(s * 0.22), "consumables_expense": money(s * 0.12),
        "depreciation_expense": money(s * 0.05), "energy_expense": money(s * 0.02),
        "total_assets": assets, "current_assets": money(assets * 0.4), "cash": money(assets * 0.1),
        "total_liabilities": liab, "current_liabilities": money(liab * 0.5),
        "long_term_loans": money(liab * 0.2), "construction_debt": money(liab * 0.1), "salary_arrears": 0.0,
        "outpatient_visits": (s / 300).astype(int), "discharges": (s / 9000).astype(int),
        "inpatient_bed_days": (s / 1000).astype(int), "open_beds": base["beds"].to_numpy(),
        "doctors": base["doctors"].to_numpy(), "nurses": (base["doctors"].to_numpy() * 1.3).astype(int),
    }
    return pd.DataFrame(f)


def upload_csv(frame: pd.DataFrame) -> bytes:
    """What a hospital system exports: the template's Chinese headers, UTF-8 with BOM."""
    fields = by_code("monthly")
    return frame.set_axis([fields[c].header for c in frame.columns], axis=1).to_csv(index=False).encode("utf-8-sig")


def canonical_csv(frame: pd.DataFrame) -> bytes:
    """The same rows as COPY reads them: codes, dates, plain numbers."""
    return frame.assign(period=frame["period"] + "-01").to_csv(index=False, header=False).encode()


# The bench's months are v1 reports (the v2 columns are optional): what COPY writes.
V1_VALUES = [c for c in value_columns("monthly") if c not in MONTHLY_V2]


def bare_copy(engine: Engine, content: bytes) -> float:
    """Seconds to COPY *content* into the unindexed baseline table, committed."""
    cols = ", ".join(["hospital_code", "period", *V1_VALUES])
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY bench_copy ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(content)
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def make_copy_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TABLE bench_copy AS SELECT hospital_code, period, "
            f"{', '.join(V1_VALUES)} FROM monthly_values WITH NO DATA"))


def ingest(engine: Engine, content: bytes, name: str) -> tuple[float, api.FileResult]:
    started = time.perf_counter()
    result = api.ingest_bytes(content, name, engine=engine, username="bench", today=TODAY, max_bytes=10**9)
    seconds = time.perf_counter() - started
    if result.status == "rejected":
        raise SystemExit(f"{name} rejected: {[(p.row, p.column, p.code) for p in result.errors[:5]]}")
    return seconds, result


# ---------------------------------------------------------------------------------------------
# scale: (hospitals, history hospitals, history months), full and --quick
SCALES = {
    "province": ((300, 300, 36), (300, 300, 12)),
    "national": ((12_000, 12_000, 60), (12_000, 2_000, 12)),
}


def run(engine: Engine, n_hospitals: int, history_hospitals: int, history_months: int) -> list[dict]:
    rows: list[dict] = []
    rng = np.random.default_rng(7)

    def base_for(n: int) -> pd.DataFrame:
        return pd.DataFrame({"scale": rng.uniform(2e6, 8e7, n), "assets": rng.uniform(5e7, 2e9, n),
                             "beds": rng.integers(100, 2000, n), "doctors": rng.integers(30, 900, n)})

    started = time.perf_counter()
    codes = hospitals(engine, n_hospitals)
    print(f"# registry of {len(codes):,} hospitals loaded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    make_copy_table(engine)

    # 1. One national-size month into an empty database.
    base = base_for(len(codes))
    frame = month_frame(codes, "2026-10", base)
    content = upload_csv(frame)
    PHASES.clear()
    seconds, result = ingest(engine, content, "2026-10.csv")
    copy_seconds = bare_copy(engine, canonical_csv(frame))
    rows.append(dict(case=f"one month, {len(frame):,} hospitals (no history)", rows=len(frame), files=1,
                     mb=len(content) / 1e6, ingest=seconds, copy=copy_seconds, phases=dict(PHASES),
                     revisions=result.revisions_created, warnings=len(result.warnings)))

    # 2. The same month again, unchanged: parse + validate + compare, nothing written.
    PHASES.clear()
    seconds, result = ingest(engine, content, "2026-10.csv")
    assert result.status == "unchanged", result.status
    rows.append(dict(case="the same month re-submitted (unchanged)", rows=len(frame), files=1,
                     mb=len(content) / 1e6, ingest=seconds, copy=copy_seconds, phases=dict(PHASES),
                     revisions=0, warnings=len(result.warnings)))

    # 3. A history, one file per month, oldest first, into a fresh set of hospitals' months.
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE bench_copy"))
    hist_codes = codes[:history_hospitals]
    hist_base = base_for(len(hist_codes))
    periods = [str(p) for p in pd.period_range(end="2026-09", periods=history_months, freq="M")]
    PHASES.clear()
    total_ingest = total_copy = 0.0
    total_rows = total_bytes = warnings = 0
    started = time.perf_counter()
    for i, period in enumerate(periods, 1):
        frame = month_frame(hist_codes, period, hist_base)
        content = upload_csv(frame)
        seconds, result = ingest(engine, content, f"{period}.csv")
        total_ingest += seconds
        total_copy += bare_copy(engine, canonical_csv(frame))
        total_rows += len(frame)
        total_bytes += len(content)
        warnings += len(result.warnings)
        if i % 12 == 0 or i == len(periods):
            print(f"#   {i}/{len(periods)} months, {total_rows:,} rows, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr)
    rows.append(dict(case=f"{history_months // 12}-year history: {history_months} monthly files of "
                          f"{len(hist_codes):,} hospitals", rows=total_rows, files=len(periods),
                     mb=total_bytes / 1e6, ingest=total_ingest, copy=total_copy, phases=dict(PHASES),
                     revisions=total_rows, warnings=warnings))
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| scale | case | rows | files | MB | ingest s | rows/s | COPY s | COPY rows/s | ingest / COPY "
             f"(goal ≤ {GOAL:g}×) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['scale']} | {r['case']} | {r['rows']:,} | {r['files']} | {r['mb']:.1f} | {r['ingest']:.2f} | "
                     f"{r['rows'] / r['ingest']:,.0f} | {r['copy']:.2f} | {r['rows'] / r['copy']:,.0f} | "
                     f"**{r['ingest'] / r['copy']:.1f}×** |")
    lines += ["", "Where ingest's time goes (seconds, summed over the files; the rest is the submissions log, "
              "the SHA-256 and transaction overhead):", "",
              "| scale | case | parse | context queries | validate | store | rest |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        p = r["phases"]
        validate = p.get("validate", 0.0)
        rest = r["ingest"] - sum(p.values())
        lines.append(f"| {r['scale']} | {r['case']} | {p.get('parse', 0):.2f} | {p.get('context queries', 0):.2f} | "
                     f"{validate:.2f} | {p.get('store', 0):.2f} | {rest:.2f} |")
    return "\n".join(lines)


def goal(r: dict) -> dict:
    """One case as a line of the summary: ingest / COPY against the goal."""
    ratio = r["ingest"] / r["copy"]
    return {"figure": f"ingest / COPY: {r['case']}", "value": f"{ratio:.1f}× ({r['rows'] / r['ingest']:,.0f} rows/s)",
            "goal": f"≤ {GOAL:g}×", "met": ratio <= GOAL}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1-year histories (2 000 hospitals at national scale)")
    parser.add_argument("--scale", choices=[*SCALES, "both"], default="both")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    instrument()
    rows = []
    for scale, (full, quick) in SCALES.items():
        if args.scale not in (scale, "both"):
            continue
        print(f"# {scale}: {quick if args.quick else full}", file=sys.stderr, flush=True)
        with throwaway_database() as engine:
            migrate.upgrade(engine, PROVINCE)
            about = machine(engine)
            rows += [{**r, "scale": scale} for r in run(engine, *(quick if args.quick else full))]
    text = table(rows)
    print(text)
    if not args.no_write:
        write_section("ingest", f"Ingest (`python -m bench.ingest{' --quick' if args.quick else ''}`)",
                      text, about)
        if not args.quick:
            for scale in {r["scale"] for r in rows}:
                record_goals("ingest", scale, [goal(r) for r in rows if r["scale"] == scale])
        print(f"# wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
