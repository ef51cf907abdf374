"""Signal quality of the risk rules on the demo province: precision and recall against the
generator's planted ground truth, the February noise ratio, and the shares of hospitals at each level.

    python -m bench signals               # via the suite (bench/run.py): 300 hospitals × 36 months
    python -m bench.signals               # the same, alone
    python -m bench.signals --quick       # 120 hospitals × 26 months (a smoke test of the script)
    python -m bench.signals --no-write    # print only; leave bench/RESULTS.md and goals.json alone

A throwaway database on DATABASE_URL's server (else the machine's) is filled with the demo
province through the real ingest path (``opsmon.demo.load.load_demo``), pinned to the reference
day :data:`TODAY` (so the figures do not depend on when the script runs), and the risk register is
refreshed as of the end of that day. The planted truth is the generator's ``DemoData.planted``
for the same arguments (the generator is deterministic; the loader's "now" is rebuilt the
way it builds it).

**Definitions.**

- *Planted case*: a row of ``DemoData.planted`` — a hospital, a rule expected to fire, the
  level expected at worst, and the months (first–last period) in which the story makes the rule
  true. It is **detected** when the register has an episode of that rule for that hospital whose
  months (first_period–last_period) overlap the planted months; **at level** when such an episode
  reached (``max_level``) at least the planted level.
- *Recall* of a rule: detected planted cases ÷ planted cases of the rule.
- *Precision* of a rule: the hospitals the rule fired for (an episode at any level, anywhere in
  the history) that were planted for that rule ÷ all hospitals it fired for. It is measured only
  for the rules the generator plants exhaustively (``opsmon.demo.planted.EXHAUSTIVE``: outside
  the planted hospitals their condition is false by construction); for the others (debt ratio,
  liquidity, the medical surplus, the 3-month deficit streak, late reports) every hospital may be
  a true firing, so the table gives the number of hospitals only. Two of them are checked
  against the story they should tell: *liquidity_low* should fire for a minority, nearly all
  indebted (a debt ratio of 60 % or more in some reported month) or in a planted chronic
  deficit; *deficit_streak* fires (yellow) for healthy hospitals whose January–March ran in
  deficit, but should reach orange only with a 12-month deficit, i.e. for planted ones.
- *Open orange/red risk in a month p*: an episode that is new or persisting in p
  (``risk.changes``) whose level at p is orange or red. The *share* in p is the reporting
  hospitals of p (a current monthly revision for p) with such a risk ÷ the reporting hospitals.
  The *February noise ratio* is February's share ÷ the mean share over the 12 months of the
  last full calendar year of the history (goal ≤ 1.3, spec/indicators.md "noise budget").
- *Level shares*: each hospital's highest level among its open risks (latest closed month), or
  among its open risks in any month of that year; ÷ all hospitals of the registry.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import RESULTS, machine, record_goals, throwaway_database, write_section
from opsmon import config, periods
from opsmon.demo.generate import default_now, generate
from opsmon.demo.planted import EXHAUSTIVE
from opsmon.indicators import risk

PROVINCE = "220000"
TODAY = date(2026, 11, 23)  # the reference day: the history ends 2026-10, the latest closed month
SCALES = {"full": (300, 36), "quick": (120, 26)}
NOISE_GOAL = 1.3
LEVELS = ("yellow", "orange", "red")
RANK = {"": 0, "yellow": 1, "orange": 2, "red": 3}
# The v1 rule ids, while a register built by the v1 rules is measured (before the v2 rules land).
LEGACY = {"deficit_ytd": "deficit_12m", "long_term_debt_rising": "long_term_debt",
          "construction_debt_increase": "construction_loans_increase"}
RULE_ORDER = ("deficit_12m", "deficit_streak", "medical_deficit", "debt_ratio_high", "net_assets_negative",
              "long_term_debt", "salary_arrears", "construction_loans_increase", "liquidity_low", "cash_short",
              "cash_forecast", "receivable_days_high", "supplier_payable_days_high", "report_missing")


def as_of() -> datetime:
    """The end of the reference day, local time: the register's as-of."""
    return datetime.combine(TODAY, time(23, 59), tzinfo=periods.LOCAL_TZ)


def load(engine: Engine, work: Path, hospitals: int, months: int) -> pd.DataFrame:
    """Load the demo into *engine* through ingest; return its planted truth."""
    from opsmon.demo.load import load_demo

    settings = config.Settings(database_url=None, data_dir=work, province=PROVINCE, secret_key=None,
                               production=False)
    outcome = load_demo(engine, settings, n_hospitals=hospitals, months=months, today=TODAY,
                        progress=lambda msg: print(f"# {msg}", file=sys.stderr, flush=True))
    if outcome.rejected:
        raise SystemExit(f"{outcome.rejected} demo files rejected")
    with engine.connect() as conn:
        counties = pd.read_sql_query(sa.text(
            "SELECT adcode, name, geo_parent_adcode AS prefecture_adcode "
            "FROM regions WHERE level = 'county' ORDER BY adcode"), conn)
    end = periods.last_month(TODAY)
    # As load_demo builds it: the default "now", bounded by the end of the reference day.
    now = min(default_now(end), pd.Timestamp(TODAY) + pd.Timedelta(hours=23, minutes=59))
    return generate(counties, end_period=end, months=months, n_hospitals=hospitals, now=now).planted


def episodes(engine: Engine) -> pd.DataFrame:
    """The register's episodes (v1 rule ids mapped to their v2 successors)."""
    frame = risk.register(engine, as_of=as_of())
    frame["rule"] = frame["rule"].replace(LEGACY)
    frame["last_period"] = frame["last_period"].fillna(frame["first_period"])
    return frame


def open_risks(engine: Engine, period: str) -> pd.DataFrame:
    """hospital_code, rule, level of the risks open (new or persisting) in *period*."""
    frame = risk.changes(engine, period, as_of=as_of())
    frame = frame[frame["status"].isin(["new", "persisting"])]
    return frame.assign(rule=frame["rule"].replace(LEGACY))[["hospital_code", "rule", "level"]]


def reporting(engine: Engine) -> dict[str, set[str]]:
    """period → the hospitals with a current monthly revision for it."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT to_char(period, 'YYYY-MM'), hospital_code FROM monthly_values "
                                    "WHERE is_current")).all()
    out: dict[str, set[str]] = {}
    for period, code in rows:
        out.setdefault(period, set()).add(code)
    return out


def quality(planted: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """Per rule: planted cases, detected, at level, recall, hospitals fired for, precision."""
    cases = planted[planted["rule"] != ""]
    rows = []
    for rule in RULE_ORDER:
        mine = cases[cases["rule"] == rule]
        eps = found[found["rule"] == rule]
        detected = at_level = 0
        for case in mine.itertuples():
            hit = eps[(eps["hospital_code"] == case.hospital_code) & (eps["first_period"] <= case.last_period)
                      & (eps["last_period"] >= case.first_period)]
            detected += bool(len(hit))
            at_level += bool(len(hit)) and max(RANK[x] for x in hit["max_level"]) >= RANK[case.level]
        fired = set(eps["hospital_code"])
        truth = set(mine["hospital_code"])
        rows.append({
            "rule": rule, "planted": len(mine), "detected": detected, "at level": at_level,
            "recall": detected / len(mine) if len(mine) else None,
            "fired for": len(fired), "of them planted": len(fired & truth),
            "precision": (len(fired & truth) / len(fired) if fired else None) if rule in EXHAUSTIVE else None,
        })
    return pd.DataFrame(rows)


def noise(engine: Engine, year: str, seen: dict[str, set[str]]) -> pd.DataFrame:
    """Per month of *year*: reporting hospitals, those with an open orange/red risk, the share."""
    rows = []
    for month in range(1, 13):
        period = f"{year}-{month:02d}"
        open_ = open_risks(engine, period)
        serious = set(open_.loc[open_["level"].isin(["orange", "red"]), "hospital_code"])
        present = seen.get(period, set())
        rows.append({"period": period, "reporting": len(present), "orange/red": len(serious & present),
                     "share": len(serious & present) / len(present) if present else float("nan")})
    return pd.DataFrame(rows)


def level_shares(engine: Engine, hospitals: list[str], months: list[str]) -> dict[str, float]:
    """Share of *hospitals* whose highest open level over *months* is each level (or none)."""
    best = dict.fromkeys(hospitals, 0)
    for period in months:
        for row in open_risks(engine, period).itertuples():
            if row.hospital_code in best:
                best[row.hospital_code] = max(best[row.hospital_code], RANK[row.level or ""])
    counts = pd.Series(list(best.values())).value_counts()
    ranks = {"none": 0, **{level: RANK[level] for level in LEVELS}}
    return {name: counts.get(rank, 0) / len(hospitals) for name, rank in ranks.items()}


def pct(value: float | None) -> str:
    return "—" if value is None or pd.isna(value) else f"{100 * value:.0f} %"


def stories(engine: Engine, planted: pd.DataFrame, found: pd.DataFrame, hospitals: int) -> list[str]:
    """Sentences on the two non-exhaustive rules checked against their story (see the docstring)."""
    with engine.connect() as conn:
        indebted = {r[0] for r in conn.execute(sa.text(
            "SELECT hospital_code FROM monthly_values WHERE is_current AND total_assets > 0 "
            "GROUP BY hospital_code HAVING max(total_liabilities / total_assets) >= 0.6"))}
    chronic = set(planted.loc[planted["case"] == "chronic_deficit", "hospital_code"])
    liquidity = set(found.loc[found["rule"] == "liquidity_low", "hospital_code"])
    streak = found[found["rule"] == "deficit_streak"]
    orange = set(streak.loc[streak["max_level"].isin(["orange", "red"]), "hospital_code"])
    yellow_only = set(streak["hospital_code"]) - orange
    return [f"liquidity_low (current ratio < 1) fired for {len(liquidity)} of {hospitals} hospitals "
            f"({pct(len(liquidity) / hospitals)}); {len(liquidity & (indebted | chronic))} of them indebted "
            f"(debt ratio ≥ 60 % in some month) or in a planted chronic deficit. deficit_streak reached orange "
            f"for {len(orange)} hospitals, {len(orange & chronic)} of them planted chronic deficits; "
            f"{len(yellow_only)} more had a yellow streak only ({len(yellow_only - chronic)} of them not planted: "
            "a thin margin and a deficit January–March)."]


def report(planted: pd.DataFrame, q: pd.DataFrame, n: pd.DataFrame, shares: dict[str, dict[str, float]],
           seasonal: tuple[int, int], deficit_share: float, hospitals: int, months: int, year: str,
           latest: str, notes: Sequence[str] = ()) -> tuple[str, float]:
    """The markdown section and the February noise ratio."""
    ratio = float(n.loc[n["period"] == f"{year}-02", "share"].iloc[0] / n["share"].mean())
    jan = float(n.loc[n["period"] == f"{year}-01", "share"].iloc[0] / n["share"].mean())
    lines = [f"The demo province ({hospitals} hospitals × {months} months, loaded through ingest, reference day "
             f"{TODAY}, latest closed month {latest}) against the ground truth its generator planted "
             f"({planted.drop_duplicates(['hospital_code', 'case']).shape[0]} stories in "
             f"{planted['hospital_code'].nunique()} hospitals). Definitions: the docstring of `bench/signals.py`; "
             "precision only for the rules planted exhaustively.", "",
             "| rule | planted | detected | at level | recall | fired for (hospitals) | of them planted | precision |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in q.itertuples():
        lines.append(f"| {r.rule} | {r.planted} | {r.detected} | {r._4} | {pct(r.recall)} | {r._6} | {r._7} | "
                     f"{pct(r.precision)} |")
    lines += ["", *notes] if notes else []
    lines += ["", f"**February noise ratio** ({year}): {ratio:.2f} (goal ≤ {NOISE_GOAL}); January: {jan:.2f}. "
              f"Healthy-seasonal planted hospitals with an open orange/red risk in {year}-01/02: "
              f"{seasonal[0]} of {seasonal[1]}.", "",
              "| month | " + " | ".join(p[5:] for p in n["period"]) + " |",
              "|---|" + "---:|" * len(n),
              "| reporting | " + " | ".join(str(v) for v in n["reporting"]) + " |",
              "| open orange/red | " + " | ".join(str(v) for v in n["orange/red"]) + " |",
              "| share | " + " | ".join(pct(v) for v in n["share"]) + " |", "",
              f"Hospitals with a 12-month deficit in {latest} (from the data): {pct(deficit_share)}.", "",
              "| hospitals by their highest open level | none | yellow | orange | red |", "|---|---:|---:|---:|---:|"]
    for name, s in shares.items():
        lines.append(f"| {name} | " + " | ".join(pct(s[k]) for k in ("none", *LEVELS)) + " |")
    return "\n".join(lines), ratio


def deficit_share_12m(engine: Engine, latest: str) -> float:
    """Hospitals whose revenue < expense over the 12 months to *latest* ÷ those with 12 reported months."""
    first = periods.to_period(periods.add_months(periods.to_date(latest), -11))
    with engine.connect() as conn:
        row = conn.execute(sa.text("""
SELECT avg(CASE WHEN r < e THEN 1.0 ELSE 0.0 END) FROM (
    SELECT hospital_code, sum(total_revenue) AS r, sum(total_expense) AS e, count(*) AS n
    FROM monthly_values WHERE is_current AND period BETWEEN :a AND :b GROUP BY hospital_code) x
WHERE n = 12"""), {"a": periods.to_date(first), "b": periods.to_date(latest)}).scalar()
    return float(row or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="120 hospitals × 26 months")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    hospitals, months = SCALES["quick" if args.quick else "full"]
    latest = periods.latest_closed_month(as_of())
    year = str(int(latest[:4]) - 1) if latest[5:] != "12" else latest[:4]
    with throwaway_database() as engine, tempfile.TemporaryDirectory() as work:
        planted = load(engine, Path(work), hospitals, months)
        risk.refresh_register(engine, as_of=as_of(), force=True)
        found = episodes(engine)
        q = quality(planted, found)
        seen = reporting(engine)
        n = noise(engine, year, seen)
        with engine.connect() as conn:
            codes = [r[0] for r in conn.execute(sa.text("SELECT hospital_code FROM hospitals ORDER BY 1"))]
        year_months = [f"{year}-{m:02d}" for m in range(1, 13)]
        shares = {f"latest closed month ({latest})": level_shares(engine, codes, [latest]),
                  f"any month of {year}": level_shares(engine, codes, year_months)}
        seasonal_codes = set(planted.loc[planted["case"] == "healthy_seasonal", "hospital_code"])
        loud = set()
        for period in (f"{year}-01", f"{year}-02"):
            o = open_risks(engine, period)
            loud |= set(o.loc[o["level"].isin(["orange", "red"]), "hospital_code"]) & seasonal_codes
        text, ratio = report(planted, q, n, shares, (len(loud), len(seasonal_codes)),
                             deficit_share_12m(engine, latest), hospitals, months, year, latest,
                             stories(engine, planted, found, len(codes)))
        print(text)
        if not args.no_write:
            flags = " --quick" if args.quick else ""
            write_section("signals", f"Risk signal quality on the demo (`python -m bench.signals{flags}`)", text,
                          machine(engine))
            if not args.quick:
                red = shares[f"latest closed month ({latest})"]["red"]
                record_goals("signals", "province", [
                    {"figure": f"February noise ratio ({year}): open orange/red share in February ÷ its 12-month mean",
                     "goal": f"≤ {NOISE_GOAL}", "met": bool(ratio <= NOISE_GOAL), "value": f"{ratio:.2f}"},
                    {"figure": f"hospitals with an open red risk ({latest})", "goal": "well under a fifth",
                     "met": bool(red < 0.2), "value": pct(red)},
                ])
            print(f"# wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
