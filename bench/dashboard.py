"""Dashboard callback latency, timed over HTTP exactly as the browser calls them.

    python -m bench.dashboard                        # the demo province (300 hospitals × 36 months), 20 warm passes
    python -m bench.dashboard --quick                # a small demo (120 hospitals × 14 months), 5 warm passes
    python -m bench.dashboard --database-url URL     # an already-loaded, migrated database: nothing loaded or dropped
    python -m bench.dashboard --no-write             # print only; leave bench/RESULTS.md alone

By default a throwaway database on DATABASE_URL's server (else the machine's server) is
filled with the demo through the real ingest path (``load_demo``) and dropped afterwards.
``opsmon serve`` runs as a subprocess on it; where the dashboard has sign-in, the bench signs
in as a province administrator ``bench-dashboard`` (created in the database if missing).
Headless Chromium opens every page — and views a person reaches by clicking: a prefecture and
a county drilled into, other levels and filters of the rankings, an earlier month — and the
requests the pages send to ``POST /_dash-update-component`` are read from Chrome's
performance log (the shell's, the same on every page, are kept once). The server is then
restarted (an empty in-process cache) and every request is replayed with the same JSON body,
one at a time: the first pass is "cold", ``--repeat`` more passes are "warm". Goal: p95 <
300 ms. Also reports the server's peak RSS (VmHWM). Replaces the dashboard section of
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import RESULTS, csrf_token, machine, percentile, record_goals, throwaway_database, write_section
from opsmon import config
from opsmon.indicators import reporting
from opsmon.sql import db

PROVINCE = "220000"
# scale → (hospitals, months, the instance's root)
SCALES = {"province": (300, 36, PROVINCE), "national": (12_000, 60, "100000")}
GOAL_MS = 300.0
RSS_GOAL_MB = 1_500  # the server process, national (issue 7)
ENDPOINT = "/_dash-update-component"
SECRET_KEY = secrets.token_hex(32)
BENCH_USER, BENCH_PASSWORD = "bench-dashboard", secrets.token_urlsafe(18)
# The shell's callbacks (navbar, hospital search) run on every page load with the same work: timed once.
SHELL_IDS = ("navbar", "shell-status", "hospital-search", "shell-go", "url")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", "--window-size=1440,1000")


# ---------------------------------------------------------------------------------------------
@contextmanager
def demo_database(url: str | None, hospitals: int, months: int, province: str = PROVINCE) -> Iterator[Engine]:
    """An engine on *url* as it is, or on a throwaway database loaded with the demo (province or nation)."""
    if url:
        engine = db.create_engine(url, poolclass=sa.NullPool)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    from opsmon.demo.load import load_demo

    with throwaway_database() as engine, tempfile.TemporaryDirectory() as data_dir:
        settings = config.Settings(database_url=None, data_dir=Path(data_dir), province=province,
                                   secret_key=None, production=False)
        outcome = load_demo(engine, settings, n_hospitals=hospitals, months=months,
                            progress=lambda msg: print(f"# {msg}", file=sys.stderr, flush=True))
        print(f"# {outcome.summary}", file=sys.stderr)
        if outcome.rejected:
            raise SystemExit(f"{outcome.rejected} demo files rejected")
        yield engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(engine: Engine, work: Path, name: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``opsmon serve`` on *engine*'s database, on a free port: yield (base URL, process); stop it after.

    Its data directory is *work* (nothing lands in the repository) and its session key is this run's.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "OPSMON_DATA_DIR": str(work), "OPSMON_SECRET_KEY": SECRET_KEY}
    log = work / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "opsmon.cli", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=5).read()
            break
        except urllib.error.HTTPError:  # answering, if only to refuse
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"opsmon serve did not start:\n{log.read_text()}") from None
            time.sleep(0.3)
    try:
        yield base, proc
    except BaseException:
        print(f"# the end of the server's log:\n{log.read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def sign_in(engine: Engine, base: str) -> dict[str, str]:
    """With sign-in on (a /login form), a province administrator's session cookies; else none.

    The user ``bench-dashboard`` is created (or its password reset) in the database for the run.
    """
    with urllib.request.urlopen(base + "/login", timeout=10) as response:
        if b'id="login-form"' not in response.read():
            return {}
    from opsmon.access import users  # only where the dashboard has sign-in

    if users.get_user(engine, BENCH_USER) is None:
        users.add_user(engine, BENCH_USER, BENCH_PASSWORD, "admin", reporting.root_code(engine),
                       display_name="bench/dashboard.py")
    else:
        users.set_password(engine, BENCH_USER, BENCH_PASSWORD)
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    token = csrf_token(opener.open(base + "/login").read().decode("utf-8"))
    form = urlencode({"username": BENCH_USER, "password": BENCH_PASSWORD, "next": "/upload",
                      "csrf_token": token}).encode()
    opener.open(base + "/login", data=form).read()
    cookies = {c.name: c.value for c in jar}
    if not cookies:
        raise SystemExit("sign-in as bench-dashboard gave no session cookie")
    return cookies


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MB."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


# ---------------------------------------------------------------------------------------------
def views(engine: Engine) -> list[tuple[str, str]]:
    """(label, path) of every page, and of views reached by clicking: drilled regions, filters, an earlier month."""
    root = reporting.root_code(engine)
    with engine.connect() as conn:
        latest = conn.execute(sa.text("SELECT to_char(max(period), 'YYYY-MM') FROM monthly_values")).scalar_one()
        hospital = conn.execute(sa.text(
            "SELECT h.hospital_code FROM hospitals h JOIN monthly_values m USING (hospital_code) "
            "WHERE h.level LIKE '三级%' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")).scalar_one()
        prefecture, county = conn.execute(sa.text(
            "SELECT r.parent_adcode, h.adcode FROM hospitals h JOIN regions r ON r.adcode = h.adcode "
            "WHERE r.parent_adcode <> :p GROUP BY 1, 2 ORDER BY count(*) DESC, 2 LIMIT 1"),
            {"p": root}).one()
    earlier = str(pd.Period(latest, "M") - 12)
    return [
        ("overview", "/"),
        ("overview, a prefecture", f"/?region={prefecture}"),
        ("overview, a county", f"/?region={county}"),
        ("overview, a year earlier", f"/?period={earlier}&indicator=debt_ratio"),
        ("rankings", "/rankings"),
        ("rankings, prefectures", "/rankings?level=prefecture"),
        ("rankings, 三级 hospitals", f"/rankings?indicator=debt_ratio&level=hospital&tier={quote('三级')}"),
        ("rankings, counties YTD", "/rankings?indicator=alos&level=county&span=ytd"),
        ("trends", "/trends"),
        ("trends, 3 regions", f"/trends?codes={root},{prefecture},{county}"),
        ("risk", "/risk"),
        ("risk, a year earlier", f"/risk?period={earlier}"),
        ("targets", "/targets"),
        ("submissions", "/submissions"),
        ("upload", "/upload"),
        ("hospital", f"/hospital/{hospital}"),
        ("hospital, YTD a year earlier", f"/hospital/{hospital}?period={earlier}&span=ytd"),
    ]


def short_output(output: str) -> str:
    """'..a.children...b.figure..' → 'a.children +1'."""
    parts = output.strip(".").split("...") if output.startswith("..") else [output]
    return parts[0] + (f" +{len(parts) - 1}" if len(parts) > 1 else "")


def page_requests(driver, timeout: float = 60, quiet: float = 1.5) -> list[dict]:
    """Callback request bodies the open page sends, once none is in flight and none new for *quiet* s."""
    sent: dict[str, dict | None] = {}
    pending: set[str] = set()
    started = last = time.monotonic()
    while time.monotonic() - started < timeout:
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            method, params = message["method"], message.get("params", {})
            rid = params.get("requestId")
            if method == "Network.requestWillBeSent" and urlsplit(params["request"]["url"]).path == ENDPOINT:
                request = params["request"]
                if request.get("postData") is None and request.get("hasPostData"):
                    request["postData"] = driver.execute_cdp_cmd("Network.getRequestPostData",
                                                                 {"requestId": rid})["postData"]
                sent[rid] = json.loads(request["postData"])
                pending.add(rid)
                last = time.monotonic()
            elif method in ("Network.loadingFinished", "Network.loadingFailed") and rid in pending:
                pending.discard(rid)
                last = time.monotonic()
        if sent and not pending and time.monotonic() - last > quiet:
            return [body for body in sent.values() if body is not None]
        time.sleep(0.2)
    raise SystemExit(f"{driver.current_url}: callbacks did not settle in {timeout:.0f} s")


def logging_chromium():
    """Headless Chromium whose performance log records the requests a page sends."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def sign_in_browser(driver, base: str, cookies: dict[str, str]) -> None:
    """Give the browser a signed-in session: the session cookies, set on the app's own origin."""
    driver.get(base + "/login")
    for name, value in cookies.items():
        driver.add_cookie({"name": name, "value": value, "path": "/"})


def capture(base: str, pages: list[tuple[str, str]], cookies: dict[str, str], timeout: float = 60) -> list[dict]:
    """Open each view in headless Chromium; return the distinct callback requests as {page, name, body} dicts.

    A request is kept once per view (Dash may repeat one); the shell's are kept from the first view only.
    """
    driver = logging_chromium()
    captured: list[dict] = []
    shell_seen: set[str] = set()
    try:
        if cookies:
            sign_in_browser(driver, base, cookies)
        for label, path in pages:
            driver.get_log("performance")  # drop the previous page's events
            driver.get(base + path)
            seen: dict[str, int] = {}
            bodies: set[str] = set()
            for body in page_requests(driver, timeout=timeout):
                text = json.dumps(body, sort_keys=True)
                name = short_output(body["output"])
                shell = name.split(".")[0] in SHELL_IDS
                if text in bodies or (shell and name in shell_seen):
                    continue
                bodies.add(text)
                seen[name] = seen.get(name, 0) + 1
                if shell:
                    shell_seen.add(name)
                suffix = f" #{seen[name]}" if seen[name] > 1 else ""
                captured.append({"page": "shell (every page)" if shell else label, "name": name + suffix,
                                 "body": json.dumps(body).encode()})
            print(f"#   {label}: {len(seen)} new callback requests", file=sys.stderr, flush=True)
    finally:
        driver.quit()
    return sorted(captured, key=lambda item: not item["page"].startswith("shell"))  # stable: views keep their order


def call(base: str, body: bytes, cookie: str) -> tuple[float, int]:
    """POST *body* to the callback endpoint: milliseconds until the whole response is read, and its bytes."""
    headers = {"Content-Type": "application/json", **({"Cookie": cookie} if cookie else {})}
    request = urllib.request.Request(base + ENDPOINT, data=body, method="POST", headers=headers)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=900) as response:  # a cold national callback: minutes
            size = len(response.read())
            status = response.status
    except urllib.error.HTTPError as e:
        raise SystemExit(f"HTTP {e.code} for {body[:200]!r}:\n{e.read()[:2000].decode(errors='replace')}") from None
    if status not in (200, 204):
        raise SystemExit(f"HTTP {status} for {body[:200]!r}")
    return (time.perf_counter() - started) * 1000, size


def replay(base: str, captured: list[dict], repeat: int, cookies: dict[str, str]) -> None:
    """One cold pass then *repeat* warm passes over every request; timings go into each dict."""
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    for item in captured:
        item["cold"], item["bytes"] = call(base, item["body"], cookie)
        item["warm"] = []
    for i in range(repeat):
        for item in captured:
            item["warm"].append(call(base, item["body"], cookie)[0])
        print(f"#   warm pass {i + 1}/{repeat}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
def goals(captured: list[dict], rss_mb: float) -> list[dict]:
    """The headline figures for the summary: p95 of every callback, warm and cold, and peak memory."""
    out = []
    for label, values in (("warm", [ms for item in captured for ms in item["warm"]]),
                          ("cold, after a restart", [item["cold"] for item in captured])):
        p95 = percentile(values, 95)
        out.append({"figure": f"callback p95 over HTTP, {label} ({len(values):,} calls)", "value": f"{p95:,.0f} ms",
                    "goal": f"< {GOAL_MS:.0f} ms", "met": p95 < GOAL_MS})
    out.append({"figure": "server peak RSS", "value": f"{rss_mb:,.0f} MB", "goal": f"< {RSS_GOAL_MB:,} MB",
                "met": rss_mb < RSS_GOAL_MB})
    return out


def table(captured: list[dict], about: str, rss_mb: float) -> str:
    """The markdown: one row per callback, then the overall p95s against the goal and the peak RSS."""
    lines = [about, "", "| page | callback (first output) | response KB | samples | cold ms | warm p50 ms | "
             "warm p95 ms |", "|---|---|---:|---:|---:|---:|---:|"]
    for item in captured:
        warm = item["warm"]
        lines.append(f"| {item['page']} | `{item['name']}` | {item['bytes'] / 1000:,.1f} | {1 + len(warm)} | "
                     f"{item['cold']:,.0f} | {percentile(warm, 50):,.0f} | {percentile(warm, 95):,.0f} |")
    cold = [item["cold"] for item in captured]
    warm = [ms for item in captured for ms in item["warm"]]
    lines += ["", f"| all callback requests | calls | p50 ms | p95 ms | max ms | goal: p95 < {GOAL_MS:.0f} ms |",
              "|---|---:|---:|---:|---:|---|"]
    for label, values in (("cold: the first call of each after a server restart", cold), ("warm", warm)):
        p95 = percentile(values, 95)
        lines.append(f"| {label} | {len(values):,} | {percentile(values, 50):,.0f} | **{p95:,.0f}** | "
                     f"{max(values):,.0f} | {'met' if p95 < GOAL_MS else '**not met**'} |")
    lines += ["", f"Server peak RSS (VmHWM of `opsmon serve` after all passes): **{rss_mb:,.0f} MB**."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 120-hospital, 14-month demo and 5 warm passes")
    parser.add_argument("--repeat", type=int, help="warm passes (default 20, 5 with --quick)")
    parser.add_argument("--database-url", help="bench this already-loaded database instead of loading the demo")
    parser.add_argument("--scale", choices=list(SCALES), default="province",
                        help="the demo to load: province (300 × 36) or national (12 000 × 60, 全国)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    repeat = args.repeat or (5 if args.quick else 20)
    hospitals, months, province = SCALES[args.scale]
    if args.quick:
        hospitals, months = hospitals * 2 // 5, 14
    with demo_database(args.database_url, hospitals, months, province) as engine, \
            tempfile.TemporaryDirectory() as work:
        with engine.connect() as conn:
            n_hosp = conn.execute(sa.text("SELECT count(*) FROM hospitals")).scalar_one()
            n_months = conn.execute(sa.text("SELECT count(DISTINCT period) FROM monthly_values")).scalar_one()
        print("# capturing callback requests in Chromium", file=sys.stderr, flush=True)
        with serve(engine, Path(work), "capture") as (base, _proc):
            pages = views(engine)
            # A national page's first (uncached) callbacks can take minutes: the figures say how long.
            captured = capture(base, pages, sign_in(engine, base), timeout=60 if args.scale == "province" else 600)
        print(f"# replaying {len(captured)} requests on a fresh server: 1 cold + {repeat} warm passes",
              file=sys.stderr, flush=True)
        with serve(engine, Path(work), "replay") as (base, proc):
            load = os.getloadavg()[0]
            replay(base, captured, repeat, sign_in(engine, base))
            rss = peak_rss_mb(proc.pid)
            load = max(load, os.getloadavg()[0])
        about = (f"{n_hosp:,} hospitals × {n_months} months; {len(captured)} distinct callback requests captured "
                 f"from {len(pages)} views, replayed sequentially over HTTP: "
                 f"1 cold pass after a server restart, {repeat} warm passes (1-minute load average up to "
                 f"{load:.1f} on {os.cpu_count()} cores).")
        text = table(captured, about, rss)
        print(text)
        if not args.no_write:
            flags = (" --quick" if args.quick else "") + (f" --scale {args.scale}" if args.scale != "province" else "")
            key = "dashboard" if args.scale == "province" else f"dashboard-{args.scale}"
            write_section(key, f"Dashboard callbacks, {args.scale} (`python -m bench.dashboard{flags}`)", text,
                          machine(engine))
            if not args.quick:
                record_goals("dashboard", args.scale, goals(captured, rss))
            print(f"# wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
