"""``opsmon demo``: generate the synthetic province once and load it through the ingest path.

The files are written to ``$OPSMON_DATA_DIR/demo/`` in the real submission
formats and loaded exactly as a hospital's upload would be, backdated to when
each would have arrived. A second run finds the demo in the database and reuses
it; ``reset`` empties the database first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as clock_time

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import config, derived, geo
from opsmon.demo.accounts import DemoAccount, accounts_table, ensure_demo_accounts
from opsmon.demo.files import write_files
from opsmon.demo.generate import default_now, generate, generate_national
from opsmon.ingest import ingest_path
from opsmon.periods import LOCAL_TZ, last_month
from opsmon.sql import migrate

DEMO_USER = "demo-loader"


class DemoError(RuntimeError):
    """The demo cannot be loaded into this database."""


@dataclass(frozen=True)
class DemoOutcome:
    """What :func:`load_demo` did."""

    reused: bool
    hospitals: int
    files: int
    rejected: int
    seconds: float
    accounts: tuple[DemoAccount, ...] = ()

    @property
    def summary(self) -> str:
        """One line for the terminal."""
        verb = "reused the demo province already in the database" if self.reused else "loaded the demo province"
        rejected = f", {self.rejected} rejected" if self.rejected else ""
        text = f"{verb}: {self.hospitals} hospitals, {self.files} files{rejected} ({self.seconds:.1f} s)"
        return text + ("\n" + accounts_table(list(self.accounts)) if self.accounts else "")


def _scalar(engine: Engine, sql: str):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar()


def load_demo(
    engine: Engine,
    settings: config.Settings,
    *,
    seed: int = 2025,
    n_hospitals: int = 300,
    months: int = 36,
    reset: bool = False,
    end_period: str | None = None,
    today: date | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> DemoOutcome:
    """Make sure the database holds the demo province; generate and load it if not.

    *today* is the demo's reference date (default: today in China): the history ends the
    month before it (unless *end_period* says otherwise), and nothing arrives after the
    end of that day, so a demo — and a test built on one — can be pinned to a date. On
    the 2nd of a month the month being collected has almost no reports; on the 23rd
    every punctual hospital has reported.
    """
    started = time.perf_counter()
    if reset:
        migrate.drop_all(engine)
    migrate.upgrade(engine, settings.province)
    state = _scalar(engine, "SELECT value FROM settings WHERE key = 'demo'")
    if state is not None:
        hospitals = _scalar(engine, "SELECT count(*) FROM hospitals")
        return DemoOutcome(True, hospitals, state.get("files", 0), 0, time.perf_counter() - started,
                           tuple(ensure_demo_accounts(engine)))
    if _scalar(engine, "SELECT count(*) FROM hospitals"):
        raise DemoError("this database already holds hospitals that are not the demo's; "
                        "use an empty database (or --reset, which deletes everything)")

    with engine.connect() as conn:
        counties = pd.read_sql_query(sa.text(
            "SELECT adcode, name, geo_parent_adcode AS prefecture_adcode "
            "FROM regions WHERE level = 'county' ORDER BY adcode"), conn)
    end_period = end_period or last_month(today)
    progress(f"generating {n_hospitals} hospitals × {months} months ending {end_period} (seed {seed})")
    # Nothing may arrive after the reference day: on the real present that is now, and a pinned
    # day is taken as it stood at its close.
    present = (pd.Timestamp.now(tz=LOCAL_TZ).tz_localize(None) if today is None
               else pd.Timestamp(today) + pd.Timedelta(hours=23, minutes=59))
    now = min(default_now(end_period), present)
    # A national instance (OPSMON_PROVINCE=100000) gets every province, each generated like the demo province.
    make = generate_national if settings.province == geo.NATION else generate
    data = make(counties, end_period=end_period, months=months, n_hospitals=n_hospitals, seed=seed, now=now)
    out_dir = settings.data_dir / "demo" / f"seed{seed}"
    files = write_files(data, out_dir)
    progress(f"wrote {len(files)} files to {out_dir}; loading them through the ingest path")

    rejected = 0
    for i, demo_file in enumerate(files, 1):
        received = pd.Timestamp(demo_file.received_at)
        if received.tzinfo is None:
            received = received.tz_localize(LOCAL_TZ)
        result = ingest_path(demo_file.path, engine=engine, kind=demo_file.kind, username=DEMO_USER,
                             received_at=received.to_pydatetime(), today=today)
        if result.status == "rejected":
            rejected += 1
            first = result.errors[0]
            progress(f"  rejected {demo_file.path.name}: row {first.row} {first.column} "
                     f"[{first.code}] {first.message_en}")
        if i % 50 == 0 or i == len(files):
            progress(f"  {i}/{len(files)} files")

    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO settings (key, value) VALUES ('demo', CAST(:v AS jsonb))"), {
            "v": json.dumps({"seed": seed, "hospitals": n_hospitals, "months": months,
                             "end_period": end_period, "today": today.isoformat() if today else None,
                             "files": len(files), "rejected": rejected}),
        })
    # Statistics for the tables just filled: a bulk load outruns autovacuum (or runs where it is off),
    # and the refresh and every query plan on them (nationally, a plan for "a few hundred hospitals"
    # ran 12 000 hospitals' lookups once per region).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    # Build the derived tables now: readers never build them. A pinned demo's register is as of its
    # reference date (what periods.now() gives a server run with OPSMON_TODAY set to it).
    derived.refresh(engine, as_of=datetime.combine(today, clock_time(), tzinfo=LOCAL_TZ) if today else None)
    hospitals = _scalar(engine, "SELECT count(*) FROM hospitals")
    return DemoOutcome(False, hospitals, len(files), rejected, time.perf_counter() - started,
                       tuple(ensure_demo_accounts(engine)))
