"""Pushing a 300-row monthly file through the HTTP API beside the same file through ``opsmon ingest``.

    python -m bench.api            # 24 months, one client, then 4 clients at once
    python -m bench.api --quick    # 8 months

A throwaway database per path (the machine's server, or DATABASE_URL) gets the same registry of
300 hospitals (bench.ingest's) and then the same monthly files, each a new month (so every push
is accepted and stores 300 revisions), oldest first:

* **API**: ``opsmon serve`` as a subprocess, an administrator's token, ``POST /api/v1/submissions``
  with ``Content-Type: text/csv`` — one client in turn, then 4 clients pushing at once (4 more
  months each); latency is the client's wall time per request;
* **CLI**: ``opsmon ingest FILE`` as a subprocess per file, what a script on the server would run
  (its time includes starting Python and importing opsmon), and the same call in-process
  (``upload_as``), which is the work both share.

Writes the "API pushes" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from sqlalchemy.engine import Engine

from bench.common import machine, percentile, record_goals, throwaway_database, write_section
from bench.ingest import PROVINCE, TODAY, hospitals, month_frame, upload_csv
from opsmon.access import tokens, users
from opsmon.access.upload_rules import upload_as
from opsmon.sql import migrate

N_HOSPITALS = 300
CLIENTS = 4


def month_files(codes: list[str], n: int) -> list[tuple[str, bytes]]:
    """*n* monthly files of every hospital, consecutive months ending 2026-10, oldest first."""
    rng = np.random.default_rng(11)
    base = pd.DataFrame({"scale": rng.uniform(2e6, 8e7, len(codes)), "assets": rng.uniform(5e7, 2e9, len(codes)),
                         "beds": rng.integers(100, 2000, len(codes)), "doctors": rng.integers(30, 900, len(codes))})
    months = [str(p) for p in pd.period_range(end="2026-10", periods=n, freq="M")]
    return [(f"{m}.csv", upload_csv(month_frame(codes, m, base))) for m in months]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served(engine: Engine, workdir: Path):
    """``opsmon serve`` on *engine*'s database (its clock at bench.ingest's day, no practical rate limit)."""
    port = _free_port()
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url, "OPSMON_SECRET_KEY": "bench", "OPSMON_DATA_DIR": str(workdir),
           "OPSMON_TODAY": TODAY.isoformat(), "OPSMON_API_RATE_LIMIT": "1000000 per minute"}
    with open(workdir / "serve.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "opsmon.cli", "serve", "--port", str(port)], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if requests.get(base + "/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            raise SystemExit("opsmon serve did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _push(session: requests.Session, url: str, name: str, content: bytes) -> float:
    started = time.perf_counter()
    got = session.post(f"{url}/api/v1/submissions", params={"kind": "monthly", "file_name": name}, data=content,
                       headers={"Content-Type": "text/csv"})
    seconds = time.perf_counter() - started
    if got.status_code != 200 or got.json()["status"] != "accepted":
        raise SystemExit(f"{name}: {got.status_code} {got.text[:500]}")
    return seconds


def api_runs(engine: Engine, files: list[tuple[str, bytes]], workdir: Path) -> dict[str, dict]:
    users.add_user(engine, "bench-admin", "bench-password-1", "admin", PROVINCE)
    _, secret = tokens.add_token(engine, "bench-admin", label="bench")
    sequential, parallel = files[: len(files) // 2], files[len(files) // 2:]
    with served(engine, workdir) as url:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {secret}"
        started = time.perf_counter()
        one = [_push(session, url, name, content) for name, content in sequential]
        one_wall = time.perf_counter() - started

        sessions = []
        for _ in range(CLIENTS):
            s = requests.Session()
            s.headers["Authorization"] = f"Bearer {secret}"
            sessions.append(s)
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            many = list(pool.map(lambda i: _push(sessions[i % CLIENTS], url, *parallel[i]), range(len(parallel))))
        many_wall = time.perf_counter() - started
    return {"API, 1 client": {"latencies": one, "wall": one_wall},
            f"API, {CLIENTS} clients at once": {"latencies": many, "wall": many_wall}}


def cli_runs(engine: Engine, files: list[tuple[str, bytes]], workdir: Path) -> dict[str, dict]:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "DATABASE_URL": url, "OPSMON_DATA_DIR": str(workdir), "OPSMON_TODAY": TODAY.isoformat()}
    half = len(files) // 2
    latencies = []
    started = time.perf_counter()
    for name, content in files[:half]:
        path = workdir / name
        path.write_bytes(content)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "opsmon.cli", "ingest", str(path), "--kind", "monthly"], env=env,
                       check=True, capture_output=True)
        latencies.append(time.perf_counter() - t)
    cli_wall = time.perf_counter() - started
    calls = []
    started = time.perf_counter()
    for name, content in files[half:]:
        t = time.perf_counter()
        result = upload_as(engine, None, content, name, kind="monthly")
        calls.append(time.perf_counter() - t)
        if result.status != "accepted":
            raise SystemExit(f"{name}: {result.status}")
    call_wall = time.perf_counter() - started
    return {"opsmon ingest FILE (a process per file)": {"latencies": latencies, "wall": cli_wall},
            "the same call in-process (upload_as)": {"latencies": calls, "wall": call_wall}}


def table(results: dict[str, dict]) -> str:
    lines = ["| path | files | pushes/s | median s | p95 s | max s |", "|---|---:|---:|---:|---:|---:|"]
    for name, r in results.items():
        lat = r["latencies"]
        lines.append(f"| {name} | {len(lat)} | {len(lat) / r['wall']:.2f} | {percentile(lat, 50):.3f} | "
                     f"{percentile(lat, 95):.3f} | {max(lat):.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 months instead of 24")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    months = 8 if args.quick else 24
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in (api_runs, cli_runs):
            with throwaway_database() as engine:
                migrate.upgrade(engine, PROVINCE)
                about = machine(engine)
                codes = hospitals(engine, N_HOSPITALS)
                print(f"# {run.__name__}: {months} files of {len(codes)} rows", file=sys.stderr, flush=True)
                results.update(run(engine, month_files(codes, months), Path(tmp)))
    text = table(results)
    print(text)
    if args.no_write:
        return
    note = (f"\n\n{N_HOSPITALS}-row monthly files (UTF-8 CSV, the template's headers), each a new month: every "
            "push accepted, 300 revisions stored. The API runs under `opsmon serve` (Flask's threaded server); "
            "latency is the client's wall time per request. Half the files go through each row's first path, "
            "half through its second, on one database per row pair.")
    write_section("api", "API pushes", text + note, about)
    api_one = results["API, 1 client"]
    record_goals("api", "province", [
        {"figure": "API pushes of a 300-row month, 1 client",
         "value": f"{len(api_one['latencies']) / api_one['wall']:.1f}/s, p95 {percentile(api_one['latencies'], 95):.2f} s",
         "goal": "reported", "met": None}])


if __name__ == "__main__":
    main()
