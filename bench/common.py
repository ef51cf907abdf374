"""What every benchmark shares: the machine's description, a throwaway database, timing, RESULTS.md."""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from opsmon.sql import db

MACHINE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = Path(__file__).with_name("RESULTS.md")
GOALS = Path(__file__).with_name("goals.json")  # every part's headline figures, for the summary table
HEADER = "# Benchmark results\n\nFigures from the scripts in `bench/`, each section replaced by its script's latest run.\n"


def server_url() -> str:
    """DATABASE_URL, else the machine's PostgreSQL server."""
    return os.environ.get("DATABASE_URL") or MACHINE_URL


@contextmanager
def throwaway_database(url: str | None = None) -> Iterator[Engine]:
    """An engine on a new, empty database of *url*'s server, dropped afterwards."""
    url = db.sqlalchemy_url(url or server_url())
    admin = db.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"opsmon_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = db.create_engine(make_url(url).set(database=name), poolclass=sa.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(login_page: str) -> str:
    """The CSRF token of the sign-in form (the page GET /login answers with); every sign-in POST carries it."""
    found = _CSRF.search(login_page)
    if not found:
        raise SystemExit("the sign-in page has no CSRF token")
    return found.group(1)


def timed(repeat: int, fn: Callable[[], object]) -> tuple[float, float]:
    """Median and maximum wall time of *repeat* calls of *fn*, in milliseconds."""
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs), max(runs)


def percentile(values: list[float], p: float) -> float:
    """The *p*-th percentile (0–100) of *values*, linear between ranks."""
    return float(pd.Series(values).quantile(p / 100))


def machine(engine: Engine) -> str:
    """One line: CPU, cores, RAM, the PostgreSQL server, Python and pandas."""
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        found = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.MULTILINE)
        cpu = found.group(1).strip() if found else cpu
    with open("/proc/meminfo", encoding="utf-8") as f:
        mem_kb = int(re.search(r"^MemTotal:\s*(\d+)", f.read(), re.MULTILINE).group(1))
    with engine.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
    return (f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GB RAM; PostgreSQL {version} on the same "
            f"machine; Python {platform.python_version()}, pandas {pd.__version__}")


def _put_section(key: str, body: str, *, first: bool = False) -> None:
    """Replace the ``<!-- bench:key -->`` section of RESULTS.md with *body*; a new one goes at the
    end, or with *first* right after the header."""
    begin, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    section = f"{begin}\n{body}\n{end}"
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    if begin in current and end in current:
        current = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _m: section, current, flags=re.DOTALL)
    elif first:
        head, _, rest = current.partition("<!-- bench:")
        current = head.rstrip("\n") + "\n\n" + section + "\n\n" + ("<!-- bench:" + rest if rest else "")
    else:
        current = current.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(current, encoding="utf-8")


def write_section(key: str, title: str, text: str, machine_line: str) -> None:
    """Replace (or append) the ``<!-- bench:key -->`` section of RESULTS.md with *title* and *text*.

    *machine_line* is :func:`machine`'s description of where it ran.
    """
    _put_section(key, f"## {title}\n\nRun {time.strftime('%Y-%m-%d')} on: {machine_line}.\n\n{text}")


def record_goals(part: str, scale: str, figures: list[dict]) -> None:
    """Keep *part*'s headline *figures* at *scale* in bench/goals.json and rebuild the summary.

    Each figure: ``{"figure": what, "value": text, "goal": text, "met": bool | None}`` (None:
    reported, no goal). The summary table at the top of RESULTS.md is made from the file,
    so it always shows the latest run of each part and scale, with its date.
    """
    goals = json.loads(GOALS.read_text(encoding="utf-8")) if GOALS.exists() else {}
    goals[f"{part} / {scale}"] = {"run": time.strftime("%Y-%m-%d"), "figures": figures}
    GOALS.write_text(json.dumps(goals, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    write_summary(goals)


def write_summary(goals: dict) -> None:
    """The ``<!-- bench:summary -->`` section, first in RESULTS.md: every goal at both scales, one row each."""
    order = ["ingest", "indicators", "dashboard", "load test"]

    def rank(key: str) -> tuple:
        part, scale = key.split(" / ")
        return (order.index(part) if part in order else len(order), scale != "province", key)

    lines = ["| part | scale | figure | measured | goal | met | run |", "|---|---|---|---:|---|---|---|"]
    for key in sorted(goals, key=rank):
        part, scale = key.split(" / ")
        for f in goals[key]["figures"]:
            met = {True: "yes", False: "**no**", None: "—"}[f["met"]]
            lines.append(f"| {part} | {scale} | {f['figure']} | {f['value']} | {f['goal']} | {met} | "
                         f"{goals[key]['run']} |")
    _put_section("summary", "## Every goal at a glance\n\nMade from `bench/goals.json`, which each script updates "
                 "with its headline figures; the sections below hold the detail.\n\n" + "\n".join(lines), first=True)
