"""Load test: hospital users uploading at the same time while supervisors browse, against gunicorn.

    python -m bench.load                   # 300 hospitals × 36 months; 50 uploaders + 20 browsers for 120 s
    python -m bench.load --quick           # 120 hospitals × 14 months; 10 uploaders + 5 browsers for 30 s
    python -m bench.load --users-upload 50 --users-browse 20 --seconds 120
    python -m bench.load --no-write        # print only; leave bench/RESULTS.md alone

A throwaway database on DATABASE_URL's server (else the machine's) is filled with the demo
province through the real ingest path and dropped afterwards. Then:

1. **Accounts.** One hospital user per distinct open hospital (role ``hospital``, its unit the
   hospital's code), each to upload its own report for the latest month (an open period); region
   users cycling through supervisor (a prefecture), supervisor, supervisor, leader and analyst
   (the province).
2. **The server.** ``gunicorn 'opsmon.dashboard.app:create_server()'`` on 127.0.0.1 with gthread
   workers (see :data:`WHY_GTHREAD`), its access log recording every response's status.
3. **What a browser sends.** Headless Chromium opens each kind of view once, signed in as the first
   region user and the first hospital user, and the ``/_dash-update-component`` requests the page
   sends are read from Chrome's performance log (``bench.dashboard``'s approach). Each simulated
   user then replays that sequence for its *own* view: values of its own layout
   (``/_dash-layout`` and the page content) and of the outputs of the callbacks before, exactly the
   data flow of Dash's renderer — so a supervisor of 吉林市 asks for 吉林市, a hospital for itself.
4. **The load.** One thread per person with a ``requests`` session (cookies, keep-alive), starting
   over the first 10 s in random order (locust's spawn rate, in effect): each signs in through the
   form (``POST /login``) and lands on its home page.
   Hospital users then open the upload page and upload through its callbacks as a browser does —
   ``preview`` (the file as a base64 data URL; returns a token) then ``confirm`` (the token) — a
   monthly file for their own hospital built by the demo's writers, GBK CSV and XLSX in turn, with
   changed values each time so each accepted upload is a new revision. The first upload of all of
   them is sent at the same moment (a barrier before the preview and before the confirm); later
   ones follow think times. Region users open a random view of their scope (a full page load:
   HTML, layout, dependencies, then the page's callbacks), read it, open another. Threads and
   ``requests`` rather than locust: importing locust monkey-patches the whole process for gevent,
   and the short version runs inside pytest (tests/dashboard/test_load.py), beside the database driver.
5. **Checks.** Every response is counted (the client's count and gunicorn's access log); for each
   (hospital, period) the number of new revisions equals the number of uploads the server reported
   accepted, numbered on from the revision before the run, and the current revision holds every
   value of the last accepted upload; the submissions log agrees.

Prints the markdown and (unless ``--no-write``) replaces the ``load`` section of bench/RESULTS.md;
exits non-zero when a check failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.common import RESULTS, csrf_token, machine, percentile, record_goals, throwaway_database, write_section
from bench.dashboard import ENDPOINT, free_port, logging_chromium, page_requests, short_output, sign_in_browser
from opsmon import config
from opsmon.access.users import add_user
from opsmon.demo.files import _write_monthly  # the demo's own writers: files as hospitals produce them
from opsmon.ingest.fields import MONTHLY

PROVINCE = config.DEFAULT_PROVINCE
APP = "opsmon.dashboard.app:create_server()"
WHY_GTHREAD = (
    "gthread: a callback is CPU-bound Python (pandas, plotly's JSON) holding the GIL, so parallelism "
    "comes from processes — two per core, so one computes while the other waits on PostgreSQL — and a "
    "few threads per process keep it serving while a request only waits: on PostgreSQL, or on the "
    "ingest's per-hospital lock, which queues two uploads of one hospital in the database. More threads "
    "would only queue CPU work inside a process; gevent would block on the database driver.")
# Region users cycle through these roles (supervisors of prefectures; leaders and analysts at the province).
BROWSE_ROLES = ("supervisor", "supervisor", "supervisor", "leader", "analyst")
# The views region users open (kind → path, filled in per user); the first is where sign-in lands.
BROWSE_VIEWS = ("overview", "overview, a region below", "rankings", "rankings, hospitals", "trends", "risk",
                "targets", "submissions", "hospital")
OWN_VIEWS = ("hospital, own", "upload")  # a hospital user's home page and the upload page
OK_STATUS = (200, 204, 302)  # 204: a callback that prevented its update; 302: sign-in's redirect
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class LoadConfig:
    """The shape of a run. Think times (seconds) are scaled by *think_scale*."""

    uploaders: int = 50
    browsers: int = 20
    seconds: float = 120.0
    ramp: float = 10.0  # users start evenly over this many seconds (as locust's spawn rate does), in random order
    workers: int = 4
    threads: int = 4
    views: tuple[str, ...] = BROWSE_VIEWS
    prefectures: int = 3  # supervisors are spread over this many prefectures
    think_scale: float = 1.0
    min_uploads: int = 1  # each hospital user uploads at least this often, even past the end
    seed: int = 1
    timeout: float = 180.0  # per request: a slow answer is measured, not cut short

    def gunicorn_args(self) -> list[str]:
        """gunicorn's options besides the bind address."""
        return ["--worker-class", "gthread", "--workers", str(self.workers), "--threads", str(self.threads),
                "--timeout", "120"]


@dataclass(frozen=True)
class Account:
    """A signed-up person: role hospital (unit = hospital code) or a region role (unit = adcode)."""

    username: str
    password: str
    role: str
    unit: str

    @property
    def uploads(self) -> bool:
        return self.role == "hospital"


@dataclass(frozen=True)
class Sample:
    """One request: its type, the HTTP status (0: no response at all), milliseconds until read whole."""

    name: str
    status: int
    ms: float
    username: str
    error: str | None = None


@dataclass
class Upload:
    """One upload as the hospital user saw it: the values sent and what the server answered."""

    username: str
    hospital_code: str
    period: str
    file_name: str
    values: dict[str, Any]
    outcome: str = "not sent"  # accepted / unchanged / rejected / expired / refused at preview / failed


@dataclass
class ServerReport:
    """What gunicorn saw during the load: statuses from its access log, problems in its error log."""

    statuses: Counter
    workers: dict[int, int]  # worker pid → requests served
    peak_rss_mb: dict[int, float]  # worker pid → VmHWM
    log_problems: list[str]


@dataclass
class LoadResult:
    """A finished run."""

    config: LoadConfig
    accounts: list[Account]
    period: str
    before: dict[str, int]  # hospital code → its highest revision of the period before the run
    samples: list[Sample]
    resent: list[str]  # requests sent again because the server had closed their kept-alive connection
    uploads: list[Upload]
    problems: list[str]  # the database checks that failed, and any user thread that crashed
    server: ServerReport
    wall_seconds: float
    cpu: dict[str, float]  # CPU seconds during the load: "machine" (all busy time), gunicorn, PostgreSQL, …
    load_average: float  # the 1-minute load average's peak during the load
    captured: dict[str, int]  # view kind → callback requests the browser sends on it

    @property
    def server_errors(self) -> int:
        """Responses with a 5xx status."""
        return sum(1 for s in self.samples if s.status >= 500)

    @property
    def no_response(self) -> int:
        """Requests that got no HTTP response (connection refused or reset, timeout)."""
        return sum(1 for s in self.samples if s.status == 0)

    @property
    def unexpected(self) -> list[Sample]:
        """Responses other than 200, 204 and 302 (5xx and missing ones included)."""
        return [s for s in self.samples if s.status not in OK_STATUS]

    def outcomes(self) -> Counter:
        """Uploads by outcome."""
        return Counter(u.outcome for u in self.uploads)


# ---------------------------------------------------------------------------------------------
# Accounts and the files they upload.
def make_accounts(engine: Engine, uploaders: int, browsers: int, prefectures: int) -> list[Account]:
    """Create the users: *uploaders* hospital users on distinct open hospitals with a report for the latest
    month, *browsers* region users (roles cycling through :data:`BROWSE_ROLES`)."""
    period = upload_period(engine)
    with engine.connect() as conn:
        # md5 order: a spread over the province that is the same on every run.
        hospitals = conn.execute(sa.text(
            "SELECT h.hospital_code FROM hospitals h JOIN monthly_values m ON m.hospital_code = h.hospital_code "
            "AND m.period = CAST(:p AS date) AND m.is_current WHERE h.closed_period IS NULL "
            "ORDER BY md5(h.hospital_code) LIMIT :n"), {"p": f"{period}-01", "n": uploaders}).scalars().all()
        regions = conn.execute(sa.text(
            "SELECT r.adcode FROM regions r JOIN region_ancestors a ON a.ancestor_adcode = r.adcode "
            "JOIN hospitals h ON h.adcode = a.adcode WHERE r.level = 'prefecture' AND r.parent_adcode = :p "
            "GROUP BY r.adcode ORDER BY count(*) DESC, r.adcode LIMIT :k"),
            {"p": PROVINCE, "k": prefectures}).scalars().all()
    if len(hospitals) < uploaders:
        raise SystemExit(f"only {len(hospitals)} open hospitals have a {period} report; {uploaders} uploaders asked")
    tag = secrets.token_hex(3)  # a second run on the same database gets new names
    accounts = [Account(f"load-h{i:02d}-{tag}", secrets.token_urlsafe(12), "hospital", code.strip())
                for i, code in enumerate(hospitals)]
    supervisors = 0
    for i in range(browsers):
        role = BROWSE_ROLES[i % len(BROWSE_ROLES)]
        unit = regions[supervisors % len(regions)] if role == "supervisor" else PROVINCE
        supervisors += role == "supervisor"
        accounts.append(Account(f"load-{role[:3]}{i:02d}-{tag}", secrets.token_urlsafe(12), role, unit))
    for a in accounts:
        add_user(engine, a.username, a.password, a.role, a.unit, display_name=f"bench/load.py {a.role}",
                 by="bench/load.py")
    return accounts


def upload_period(engine: Engine) -> str:
    """The latest month at least half the open hospitals have reported ('YYYY-MM'), chosen from the data.

    Not simply the latest month with a report: early in a month the month being collected has
    only a few. Refused if that month is locked (uploads to it would be).
    """
    with engine.connect() as conn:
        period = conn.execute(sa.text(
            "SELECT to_char(m.period, 'YYYY-MM') FROM monthly_values m "
            "JOIN hospitals h ON h.hospital_code = m.hospital_code AND h.closed_period IS NULL "
            "WHERE m.is_current GROUP BY m.period "
            "HAVING 2 * count(*) >= (SELECT count(*) FROM hospitals WHERE closed_period IS NULL) "
            "ORDER BY m.period DESC LIMIT 1")).scalar()
        locked = conn.execute(sa.text("SELECT 1 FROM period_locks WHERE period = CAST(:p AS date)"),
                              {"p": f"{period}-01"}).first() if period else None
    if period is None or locked:
        raise SystemExit(f"no open period to upload to (latest mostly reported {period}, locked: {bool(locked)})")
    return period


def current_rows(engine: Engine, codes: list[str], period: str) -> dict[str, dict[str, Any]]:
    """The current monthly row of each hospital for *period*, by code, as the writers take them."""
    columns = ", ".join(f.code for f in MONTHLY if f.code not in ("hospital_code", "period"))
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            f"SELECT CAST(hospital_code AS text) AS hospital_code, to_char(period, 'YYYY-MM') AS period, {columns} "
            "FROM monthly_values WHERE is_current AND period = CAST(:p AS date) AND hospital_code = ANY(:c)"),
            {"p": f"{period}-01", "c": codes}).mappings().all()
    return {r["hospital_code"].strip(): {k: _plain(v) for k, v in r.items()} for r in rows}


def last_revisions(engine: Engine, codes: list[str], period: str) -> dict[str, int]:
    """The highest revision of each hospital's *period* report (0 for none)."""
    with engine.connect() as conn:
        found = dict(conn.execute(sa.text(
            "SELECT CAST(hospital_code AS text), max(revision) FROM monthly_values "
            "WHERE period = CAST(:p AS date) AND hospital_code = ANY(:c) GROUP BY 1"),
            {"p": f"{period}-01", "c": codes}).all())
    return {c: int(found.get(c, 0)) for c in codes}


def _plain(v: Any) -> Any:
    """A database value as the writers take it: numbers as float / int, missing as NaN."""
    if v is None:
        return math.nan
    if isinstance(v, str | int):
        return v.strip() if isinstance(v, str) else v
    return float(v)


def revised(row: dict[str, Any], k: int) -> dict[str, Any]:
    """*row* as the *k*-th upload of the run sends it: 其他收入 and 收入合计 up by k × 100 元 (the revenue
    identity holds), 门急诊人次 up by k — different from every earlier upload, plausible enough for no error."""
    out = dict(row)
    out["other_revenue"] = round(row["other_revenue"] + 100 * k, 2)
    out["total_revenue"] = round(row["total_revenue"] + 100 * k, 2)
    out["outpatient_visits"] = int(row["outpatient_visits"]) + k
    return out


def monthly_file(row: dict[str, Any], k: int, folder: Path) -> tuple[str, bytes, str]:
    """(file name, bytes, data-URL prefix) of a one-row monthly report: GBK CSV for odd *k*, XLSX for even."""
    fmt = "gbk_csv" if k % 2 else "xlsx"
    period = row["period"]
    name = f"月报_{period}_{row['hospital_code']}_{k}.{'csv' if fmt == 'gbk_csv' else 'xlsx'}"
    path = folder / name
    title = f"公立医院月度经济运行快报（{period[:4]}年{int(period[5:7])}月）"
    _write_monthly(pd.DataFrame([row]), path, fmt, title, pd.Timestamp.now().floor("s"), date_cells=k % 4 == 0)
    content = path.read_bytes()
    path.unlink()
    return name, content, f"data:{'text/csv' if fmt == 'gbk_csv' else XLSX_MIME};base64,"


# ---------------------------------------------------------------------------------------------
# The server.
class Server:
    """A running gunicorn: its base URL, process and logs."""

    ACCESS_FORMAT = '%(p)s %(s)s %(m)s "%(U)s" %(M)s'  # worker pid, status, method, path, ms

    def __init__(self, base: str, proc: subprocess.Popen, access_log: Path, error_log: Path):
        self.base, self.proc, self.access_log, self.error_log = base, proc, access_log, error_log

    def wait_for_workers(self, workers: int, limit: float = 180) -> None:
        """Until each of the *workers* processes has answered /healthz (each imports the app as it boots)."""
        deadline = time.monotonic() + limit

        def probe(_i: int) -> None:
            try:
                requests.get(self.base + "/healthz", timeout=10)
            except requests.RequestException:
                time.sleep(0.5)

        with ThreadPoolExecutor(2 * workers) as pool:
            while True:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn did not start {workers} workers:\n{self.error_log.read_text()[-4000:]}")
                list(pool.map(probe, range(2 * workers)))
                if len({line.split()[0] for line in self.access_lines() if line.strip()}) >= workers:
                    return
                time.sleep(0.5)

    def access_lines(self) -> list[str]:
        return self.access_log.read_text(encoding="utf-8", errors="replace").splitlines()

    def report(self, since_line: int) -> ServerReport:
        """Statuses and workers of the access log's lines after *since_line*, problems in the error log."""
        statuses: Counter = Counter()
        workers: Counter = Counter()
        for line in self.access_lines()[since_line:]:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                statuses[int(parts[1])] += 1
                workers[int(parts[0].strip("<>"))] += 1
        rss = {}
        for pid in workers:
            try:
                with open(f"/proc/{pid}/status", encoding="utf-8") as f:
                    rss[pid] = int(next(x for x in f if x.startswith("VmHWM:")).split()[1]) / 1024
            except (OSError, StopIteration):  # a worker that was replaced: itself a problem, reported below
                pass
        markers = ("Traceback", "[CRITICAL]", "WORKER TIMEOUT", "Worker exiting", "Exception on ")
        problems = [line for line in self.error_log.read_text(encoding="utf-8", errors="replace").splitlines()
                    if any(m in line for m in markers)]
        return ServerReport(statuses, dict(workers), rss, problems)


@contextmanager
def gunicorn(engine: Engine, work: Path, cfg: LoadConfig) -> Iterator[Server]:
    """gunicorn serving the app on *engine*'s database on a free port of 127.0.0.1; stopped afterwards.

    Its workers may still be booting: :meth:`Server.wait_for_workers` waits for them.
    """
    port = free_port()
    env = {**os.environ, "DATABASE_URL": engine.url.render_as_string(hide_password=False),
           "OPSMON_SECRET_KEY": secrets.token_hex(32), "OPSMON_DATA_DIR": str(work / "data")}
    env.pop("OPSMON_ENV", None)
    access_log, error_log = work / "access.log", work / "gunicorn.log"
    access_log.touch()
    command = [sys.executable, "-m", "gunicorn", APP, "--bind", f"127.0.0.1:{port}", *cfg.gunicorn_args(),
               "--access-logfile", str(access_log), "--access-logformat", Server.ACCESS_FORMAT]
    with error_log.open("w") as out:
        proc = subprocess.Popen(command, env=env, cwd=work, stdout=out, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", proc, access_log, error_log)
    try:
        yield server
    except BaseException:
        print(f"# the end of gunicorn's log:\n{error_log.read_text()[-4000:]}", file=sys.stderr)
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()




# ---------------------------------------------------------------------------------------------
# What the browser sends on each view.
def view_path(kind: str, account: Account, scope: dict[str, list[str]], rng: random.Random) -> str:
    """The path a user opens for a *kind* of view: within their scope (a random region or hospital of it)."""
    if kind == "overview":
        return "/"
    if kind == "overview, a region below":
        return f"/?region={rng.choice(scope['children'])}"
    if kind == "rankings":
        return "/rankings"
    if kind == "rankings, hospitals":
        return "/rankings?level=hospital"
    if kind in ("trends", "risk", "targets", "submissions", "upload"):
        return f"/{kind}"
    if kind == "hospital":
        return f"/hospital/{rng.choice(scope['hospitals'])}"
    if kind == "hospital, own":
        return f"/hospital/{account.unit}"
    raise ValueError(kind)


def scopes(engine: Engine, accounts: list[Account]) -> dict[str, dict[str, list[str]]]:
    """For each region unit of *accounts*: the regions one level below with hospitals, and its open hospitals."""
    out = {}
    with engine.connect() as conn:
        for unit in {a.unit for a in accounts if not a.uploads}:
            hospitals = conn.execute(sa.text(
                "SELECT CAST(h.hospital_code AS text) FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
                "WHERE a.ancestor_adcode = :u AND h.closed_period IS NULL ORDER BY 1"), {"u": unit}).scalars().all()
            children = conn.execute(sa.text(
                "SELECT DISTINCT r.adcode FROM regions r JOIN region_ancestors a ON a.ancestor_adcode = r.adcode "
                "JOIN hospitals h ON h.adcode = a.adcode WHERE r.parent_adcode = :u ORDER BY 1"),
                {"u": unit}).scalars().all()
            out[unit] = {"hospitals": [h.strip() for h in hospitals], "children": list(children) or [unit]}
    return out


def capture(base: str, profiles: list[tuple[dict[str, str], list[tuple[str, str]]]]) -> dict[str, list[dict]]:
    """Open each (kind, path) in headless Chromium with its profile's session cookies; return, per kind, the
    callback request bodies the page sends, in the order sent (repeats kept: the browser sends them)."""
    driver = logging_chromium()
    templates: dict[str, list[dict]] = {}
    try:
        for cookies, views in profiles:
            driver.delete_all_cookies()
            sign_in_browser(driver, base, cookies)
            for kind, path in views:
                driver.get_log("performance")  # drop the previous page's events
                driver.get(base + path)
                # A longer quiet than bench.dashboard's: a chained callback under a busy CPU can follow late.
                templates[kind] = page_requests(driver, timeout=120, quiet=2.0)
                print(f"#   {kind} ({path}): {len(templates[kind])} callback requests", file=sys.stderr, flush=True)
    finally:
        driver.quit()
    return templates


def _key(component_id: Any) -> str:
    """A component id as Dash keys it in responses: pattern-matching ids as sorted compact JSON."""
    return component_id if isinstance(component_id, str) else json.dumps(component_id, sort_keys=True,
                                                                         separators=(",", ":"))


def remember(tree: Any, values: dict[tuple[str, str], Any], location: tuple[str, str]) -> None:
    """Record the props of every component in *tree* (a layout or a callback's output) in *values*.

    ``dcc.Location`` components get the page's pathname and search, as the browser fills them in.
    """
    if isinstance(tree, list):
        for item in tree:
            remember(item, values, location)
        return
    if not isinstance(tree, dict):
        return
    props = tree.get("props")
    if isinstance(props, dict) and "type" in tree:
        if "id" in props:
            key = _key(props["id"])
            for prop, value in props.items():
                values[(key, prop)] = value
            if tree["type"] == "Location":
                values[(key, "pathname")], values[(key, "search")] = location
        for value in props.values():
            remember(value, values, location)
    else:
        for value in tree.values():
            remember(value, values, location)


def adapt(body: dict, values: dict[tuple[str, str], Any]) -> dict:
    """*body* with each input and state value taken from *values* where the page has it."""
    out = dict(body)
    for part in ("inputs", "state"):
        items = []
        for item in body.get(part) or []:
            if isinstance(item, list):  # a pattern-matching input: one entry per matching component
                items.append([_adapted(i, values) for i in item])
            else:
                items.append(_adapted(item, values))
        if part in body:
            out[part] = items
    return out


def _adapted(item: dict, values: dict[tuple[str, str], Any]) -> dict:
    key = (_key(item["id"]), item["property"])
    return {**item, "value": values[key]} if key in values else item


def callback_body(dep: dict, values: dict[str, Any], changed: str) -> dict:
    """A ``/_dash-update-component`` body for the callback *dep* of ``/_dash-dependencies``.

    *values* maps 'id.property' to the value of an input or state; *changed* is the input that fired.
    The output string is the dependency's own (with Dash's ``@hash`` of ``allow_duplicate`` outputs).
    """
    outs = dep["output"].strip(".").split("...") if dep["output"].startswith("..") else [dep["output"]]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in outs]

    def items(kind: str) -> list[dict]:
        return [{"id": i["id"], "property": i["property"], "value": values.get(f"{i['id']}.{i['property']}")}
                for i in dep[kind]]

    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": items("inputs"), "state": items("state"), "changedPropIds": [changed],
            "parsedChangedPropsIds": [changed]}


def find_callback(deps: list[dict], input_id: str) -> dict:
    """The callback whose one input is *input_id* ('id.property')."""
    found = [d for d in deps if [f"{i['id']}.{i['property']}" for i in d["inputs"]] == [input_id]]
    if len(found) != 1:
        raise SystemExit(f"expected one callback on {input_id}, found {len(found)}")
    return found[0]


# ---------------------------------------------------------------------------------------------
# The simulated people.
class Run:
    """What the user threads share: the server, the captured views, the clock, the records."""

    def __init__(self, server: Server, cfg: LoadConfig, accounts: list[Account], templates: dict[str, list[dict]],
                 scope: dict[str, dict[str, list[str]]], rows: dict[str, dict[str, Any]], period: str, work: Path):
        self.server, self.cfg, self.templates, self.scope, self.rows = server, cfg, templates, scope, rows
        self.period, self.work = period, work
        self.samples: list[Sample] = []
        self.uploads: list[Upload] = []
        self.lock = threading.Lock()
        n = sum(a.uploads for a in accounts)
        # The first upload of every hospital user leaves at the same moment: previews, then confirms.
        self.preview_together = threading.Barrier(n) if n else None
        self.confirm_together = threading.Barrier(n) if n else None
        self.deadline = 0.0
        self.crashes: list[str] = []
        self.resent: list[str] = []  # requests sent again on a fresh connection (see Person.send)

    def person(self, target, account: Account, rng: random.Random, delay: float) -> None:
        """After *delay* seconds, run *target* for *account*; an exception in the load's own code is kept,
        never lost in a thread."""
        time.sleep(delay)
        try:
            target(self, account, rng)
        except Exception as e:  # a bug of the load itself: reported with the results
            with self.lock:
                self.crashes.append(f"{account.username}: {type(e).__name__}: {e}")
            for barrier in (self.preview_together, self.confirm_together):
                if barrier is not None:
                    barrier.abort()  # the others must not wait for this one

    def over(self) -> bool:
        return time.monotonic() >= self.deadline

    def think(self, low: float, high: float, rng: random.Random, interruptible: bool = True) -> None:
        """A person's pause of *low*–*high* seconds (scaled); an *interruptible* one ends with the run."""
        pause = rng.uniform(low, high) * self.cfg.think_scale
        time.sleep(max(0.0, min(pause, self.deadline - time.monotonic())) if interruptible else pause)

    def record(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)


def _meet(barrier: threading.Barrier | None) -> None:
    if barrier is not None:
        try:
            barrier.wait(timeout=600)
        except threading.BrokenBarrierError:  # someone failed before it: go on unsynchronised
            pass


def _closed_under_us(error: requests.ConnectionError) -> bool:
    """Whether the server closed the connection as the request went out (not: refused, timed out)."""
    text = str(error)
    return "Connection aborted" in text and ("RemoteDisconnected" in text or "Connection reset" in text)


class Person:
    """One signed-in user: a ``requests`` session, every response recorded."""

    def __init__(self, run: Run, account: Account, rng: random.Random):
        self.run, self.account, self.rng = run, account, rng
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "opsmon bench/load.py"
        self.deps: list[dict] | None = None
        self.values: dict[tuple[str, str], Any] = {}
        self.last_answer = time.monotonic()

    def send(self, name: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        """One request, timed until its body is read; None when no response came.

        Like a browser, a request is sent again once when the kept-alive connection it went out on
        turns out closed by the server (gunicorn closes idle ones after ``--keep-alive``, 2 s): it
        never reached the app. Such resends are counted; a second failure is a request without a response.
        """
        for attempt in (1, 2):
            started, idle = time.perf_counter(), time.monotonic() - self.last_answer
            try:
                response = self.session.request(method, self.run.server.base + path, timeout=self.run.cfg.timeout,
                                                allow_redirects=False, **kwargs)
                break
            except requests.RequestException as e:
                error = f"{type(e).__name__}: {str(e)[:200]} (the connection idle {idle:.1f} s)"
                if attempt == 1 and isinstance(e, requests.ConnectionError) and _closed_under_us(e):
                    with self.run.lock:
                        self.run.resent.append(f"{name}: {error}")
                    continue
                self.run.record(Sample(name, 0, (time.perf_counter() - started) * 1000, self.account.username, error))
                return None
        self.last_answer = time.monotonic()
        ms = (time.perf_counter() - started) * 1000
        error = None if response.status_code in OK_STATUS else response.text[:300]
        self.run.record(Sample(name, response.status_code, ms, self.account.username, error))
        return response

    def sign_in(self) -> str | None:
        """The sign-in form, as a person fills it in; the page it redirects to, or None."""
        page = self.send("page", "GET", "/login")
        if page is None or page.status_code != 200:
            return None
        r = self.send("login", "POST", "/login", data={"username": self.account.username,
                                                       "password": self.account.password,
                                                       "csrf_token": csrf_token(page.text)})
        if r is None or r.status_code != 302:
            return None
        return urlsplit(r.headers["Location"]).path

    def open(self, kind: str, path: str) -> bool:
        """A full page load of *path*: the HTML, layout, dependencies, then the callbacks a browser sends on
        this *kind* of view, each fed by this user's own layout and the outputs before it."""
        split = urlsplit(path)
        location = (split.path, f"?{split.query}" if split.query else "")
        page = self.send("page", "GET", path)
        referer = {"Referer": self.run.server.base + path}
        layout = self.send("_dash-layout", "GET", "/_dash-layout", headers=referer)
        deps = self.send("_dash-dependencies", "GET", "/_dash-dependencies", headers=referer)
        if any(r is None or r.status_code != 200 for r in (page, layout, deps)):
            return False
        self.deps = deps.json()
        self.values = {}
        remember(layout.json(), self.values, location)
        for body in self.run.templates.get(kind, []):
            r = self.send("callback " + short_output(body["output"]), "POST", ENDPOINT, json=adapt(body, self.values),
                          headers=referer)
            if r is None or r.status_code not in OK_STATUS:
                return False
            if r.status_code == 200:
                outputs = r.json().get("response", {})
                remember(outputs, self.values, location)  # components inside the outputs
                for component, props in outputs.items():
                    for prop, value in props.items():
                        self.values[(component, prop)] = value
        return True


def browse(run: Run, account: Account, rng: random.Random) -> None:
    """A region user: signs in, lands on the overview, then opens a random view of their scope now and then."""
    person = Person(run, account, rng)
    if person.sign_in() is None:
        return
    person.open(run.cfg.views[0], view_path(run.cfg.views[0], account, run.scope[account.unit], rng))
    while True:
        run.think(5, 15, rng)  # reading the page
        if run.over():
            return
        kind = rng.choice(run.cfg.views)
        person.open(kind, view_path(kind, account, run.scope[account.unit], rng))


def upload(run: Run, account: Account, rng: random.Random) -> None:
    """A hospital user: signs in, lands on its hospital's page, then uploads its report again and again."""
    person = Person(run, account, rng)
    landed = person.sign_in() is not None and person.open("hospital, own", f"/hospital/{account.unit}")
    folder = run.work / "files" / account.username
    folder.mkdir(parents=True)
    k = 0
    while k < run.cfg.min_uploads or not run.over():
        first = k == 0
        k += 1
        if not first:
            if rng.random() < 0.5:  # a look at its own figures between uploads
                person.open("hospital, own", f"/hospital/{account.unit}")
            run.think(1, 3, rng, interruptible=False)
        ready = landed and person.open("upload", "/upload")
        run.think(2, 5, rng, interruptible=False)  # choosing the file
        row = revised(run.rows[account.unit], k)
        name, content, mime = monthly_file(row, k, folder)
        item = Upload(account.username, account.unit, run.period, name, row)
        with run.lock:
            run.uploads.append(item)
        if first:
            _meet(run.preview_together)
        token = None
        if ready and person.deps is not None:
            token = preview(person, item, mime + base64.b64encode(content).decode(), first)
        run.think(2, 6, rng, interruptible=False)  # reading the preview
        if first:
            _meet(run.confirm_together)
        if token is not None:
            confirm(person, item, token, first)
        if not landed:
            return
        run.think(5, 15, rng)  # until the next correction (a compressed morning: several in two minutes)


def preview(person: Person, item: Upload, contents: str, together: bool) -> dict | None:
    """The upload page's ``preview`` callback on the file; the token to confirm, or None (outcome noted)."""
    dep = find_callback(person.deps, "upload-file.contents")
    body = callback_body(dep, {"upload-file.contents": contents, "upload-file.filename": item.file_name,
                               "upload-kind.value": "auto", "upload-token.data": None}, "upload-file.contents")
    r = person.send("preview" + (" (all at once)" if together else ""), "POST", ENDPOINT, json=body)
    if r is None or r.status_code != 200:
        item.outcome = "failed"
        return None
    answer = r.json()["response"]
    if answer.get("upload-confirm", {}).get("disabled", True):
        item.outcome = "refused at preview"
        return None
    return answer["upload-token"]["data"]


def confirm(person: Person, item: Upload, token: dict, together: bool) -> None:
    """The ``confirm`` callback (the button's first click on this page); the outcome the server shows."""
    dep = find_callback(person.deps, "upload-confirm.n_clicks")
    body = callback_body(dep, {"upload-confirm.n_clicks": 1, "upload-token.data": token}, "upload-confirm.n_clicks")
    r = person.send("confirm" + (" (all at once)" if together else ""), "POST", ENDPOINT, json=body)
    if r is None or r.status_code != 200:
        item.outcome = "failed"
        return
    answer = r.json()["response"]
    color = answer["upload-result"]["children"]["props"].get("color")
    # A rejected file comes back with its problem table; a danger alert without one: the preview was lost.
    rejected = "upload-errors" in json.dumps(answer.get("upload-preview"))
    item.outcome = {"success": "accepted", "info": "unchanged"}.get(color, "rejected" if rejected else "expired")


# ---------------------------------------------------------------------------------------------
# The checks.
def verify(engine: Engine, uploads: list[Upload], before: dict[str, int], period: str,
           accounts: list[Account]) -> list[str]:
    """What is wrong in the database after the run (empty: nothing).

    For each hospital: one new revision per accepted upload, numbered on from *before*, each from
    an accepted submission of its own user; the current revision is the last and holds every value
    of the last accepted upload. The submissions log counts the same accepted uploads, and none
    of the users' submissions is left 'processing' or 'failed'.
    """
    problems = []
    columns = [f.code for f in MONTHLY if f.code not in ("hospital_code", "period")]
    owner = {a.unit: a.username for a in accounts if a.uploads}
    accepted: dict[str, list[Upload]] = defaultdict(list)
    for u in uploads:
        if u.outcome == "accepted":
            accepted[u.hospital_code].append(u)
    with engine.connect() as conn:
        for code, username in owner.items():
            rows = conn.execute(sa.text(
                f"SELECT m.revision, m.is_current, s.username, s.status, {', '.join('m.' + c for c in columns)} "
                "FROM monthly_values m JOIN submissions s USING (submission_id) "
                "WHERE m.hospital_code = :h AND m.period = CAST(:p AS date) AND m.revision > :r ORDER BY m.revision"),
                {"h": code, "p": f"{period}-01", "r": before[code]}).mappings().all()
            mine = accepted.get(code, [])
            expected = list(range(before[code] + 1, before[code] + len(mine) + 1))
            if [r["revision"] for r in rows] != expected:
                problems.append(f"{code}: revisions {[r['revision'] for r in rows]} after the run, expected "
                                f"{expected} ({len(mine)} accepted uploads)")
            if any(r["username"] != username or r["status"] != "accepted" for r in rows):
                problems.append(f"{code}: a new revision from another user or a submission not 'accepted'")
            current = conn.execute(sa.text(
                f"SELECT revision, {', '.join(columns)} FROM monthly_values "
                "WHERE hospital_code = :h AND period = CAST(:p AS date) AND is_current"),
                {"h": code, "p": f"{period}-01"}).mappings().all()
            if len(current) != 1:
                problems.append(f"{code}: {len(current)} current revisions")
                continue
            if mine:
                if current[0]["revision"] != expected[-1]:
                    problems.append(f"{code}: current revision {current[0]['revision']}, expected {expected[-1]}")
                wrong = [c for c in columns if not _same(current[0][c], mine[-1].values[c])]
                if wrong:
                    problems.append(f"{code}: the current revision differs from the last accepted upload in {wrong}")
        logged = conn.execute(sa.text(
            "SELECT username, status, count(*) FROM submissions WHERE username = ANY(:u) GROUP BY 1, 2"),
            {"u": list(owner.values())}).all()
    by_user = {(u, s): n for u, s, n in logged}
    for code, username in owner.items():
        n = by_user.get((username, "accepted"), 0)
        if n != len(accepted.get(code, [])):
            problems.append(f"{username}: {n} accepted submissions logged, the server answered "
                            f"'accepted' {len(accepted.get(code, []))} times")
    stuck = {(u, s): n for (u, s), n in by_user.items() if s in ("processing", "failed")}
    if stuck:
        problems.append(f"submissions left processing or failed: {stuck}")
    return problems


def _same(stored: Any, sent: Any) -> bool:
    if stored is None or (isinstance(sent, float) and math.isnan(sent)):
        return stored is None and (sent is None or (isinstance(sent, float) and math.isnan(sent)))
    if isinstance(sent, int):
        return int(stored) == sent
    return round(float(stored), 2) == round(float(sent), 2)


# ---------------------------------------------------------------------------------------------
def run(engine: Engine, cfg: LoadConfig, work: Path, log=lambda msg: print(f"# {msg}", file=sys.stderr, flush=True)
        ) -> LoadResult:
    """The whole test on *engine*'s database (the demo loaded): accounts, gunicorn, capture, load, checks.

    *work* is a scratch folder (the server's data directory, logs, files being written).
    """
    log(f"starting gunicorn {' '.join(cfg.gunicorn_args())}; creating the accounts meanwhile")
    with gunicorn(engine, work, cfg) as server:
        accounts = make_accounts(engine, cfg.uploaders, cfg.browsers, cfg.prefectures)
        period = upload_period(engine)
        hospital_codes = [a.unit for a in accounts if a.uploads]
        rows = current_rows(engine, hospital_codes, period)
        before = last_revisions(engine, hospital_codes, period)
        scope = scopes(engine, accounts)
        server.wait_for_workers(cfg.workers)
        log(f"{len(accounts)} accounts, uploads for {period}; {cfg.workers} workers up")
        templates = _capture(server, accounts, scope, cfg, log)
        the_run = Run(server, cfg, accounts, templates, scope, rows, period, work)
        mark = len(server.access_lines())
        log(f"load: {cfg.uploaders} uploading, {cfg.browsers} browsing, {cfg.seconds:.0f} s")
        load = os.getloadavg()[0]
        cpu_before = cpu_snapshot(server.proc.pid)
        started = time.monotonic()
        the_run.deadline = started + cfg.seconds
        order = list(range(len(accounts)))
        random.Random(cfg.seed).shuffle(order)  # uploaders and browsers arrive mixed
        threads = [threading.Thread(target=the_run.person, daemon=True,
                                    args=(upload if a.uploads else browse, a, random.Random(f"{cfg.seed}-{i}"),
                                          cfg.ramp * order[i] / len(accounts)))
                   for i, a in enumerate(accounts)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            time.sleep(1)
            load = max(load, os.getloadavg()[0])
        wall = time.monotonic() - started
        cpu = cpu_used(cpu_before, cpu_snapshot(server.proc.pid))
        time.sleep(0.5)  # the access log's last lines
        report = server.report(mark)
    log(f"load done in {wall:.0f} s: {len(the_run.samples)} requests; checking the database")
    problems = the_run.crashes + verify(engine, the_run.uploads, before, period, accounts)
    return LoadResult(cfg, accounts, period, before, the_run.samples, the_run.resent, the_run.uploads, problems,
                      report, wall, cpu, load, {k: len(v) for k, v in templates.items()})


def cpu_snapshot(server_pid: int) -> tuple[float, dict[int, tuple[str, float]]]:
    """CPU seconds used so far: by the whole machine (busy time), and per process with its group —
    gunicorn (the master *server_pid* and its workers), this load generator, PostgreSQL, or other."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat", encoding="ascii") as f:
        jiffies = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(jiffies) - jiffies[3] - jiffies[4]) / tick  # all but idle and iowait
    processes = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:  # gone meanwhile
            continue
        comm, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        pid, ppid = int(entry.name), int(rest[1])
        group = ("gunicorn" if server_pid in (pid, ppid) else "load generator" if pid == os.getpid()
                 else "PostgreSQL" if comm == "postgres" else "other")
        processes[pid] = (group, (int(rest[11]) + int(rest[12])) / tick)  # utime + stime
    return busy, processes


def cpu_used(before: tuple[float, dict], after: tuple[float, dict]) -> dict[str, float]:
    """CPU seconds between two :func:`cpu_snapshot`: "machine" (all busy time) and per group; "other" is
    the rest of the machine's busy time (processes that ended meanwhile included)."""
    used = {"machine": after[0] - before[0], "gunicorn": 0.0, "PostgreSQL": 0.0, "load generator": 0.0}
    for pid, (group, seconds) in after[1].items():
        if group != "other":
            used[group] += seconds - before[1].get(pid, (group, 0.0))[1]
    used["other"] = max(0.0, used["machine"] - used["gunicorn"] - used["PostgreSQL"] - used["load generator"])
    return used


def _capture(server: Server, accounts: list[Account], scope: dict, cfg: LoadConfig, log) -> dict[str, list[dict]]:
    """The callback requests of each kind of view, captured as the first region user and the first hospital user."""
    profiles = []
    for group, kinds in ((lambda a: not a.uploads, cfg.views), (lambda a: a.uploads, OWN_VIEWS)):
        chosen = next((a for a in accounts if group(a)), None)
        if chosen is None:
            continue
        session = requests.Session()
        token = csrf_token(session.get(server.base + "/login", timeout=60).text)
        r = session.post(server.base + "/login", data={"username": chosen.username, "password": chosen.password,
                                                       "csrf_token": token}, allow_redirects=False, timeout=60)
        if r.status_code != 302:
            raise SystemExit(f"sign-in as {chosen.username} failed: HTTP {r.status_code}")
        rng = random.Random(cfg.seed)
        profiles.append((session.cookies.get_dict(),
                         [(k, view_path(k, chosen, scope.get(chosen.unit, {}), rng)) for k in kinds]))
    log("capturing what the browser sends on each view (headless Chromium)")
    return capture(server.base, profiles)


# ---------------------------------------------------------------------------------------------
def _row(label: str, samples: list[Sample]) -> str:
    ms = [s.ms for s in samples]
    return (f"| {label} | {len(samples):,} | {sum(s.status >= 500 for s in samples)} | "
            f"{sum(s.status == 0 for s in samples)} | {percentile(ms, 50):,.0f} | **{percentile(ms, 95):,.0f}** | "
            f"{max(ms):,.0f} |")


def goals(result: LoadResult, cfg: LoadConfig) -> list[dict]:
    """The headline figures for the summary: server errors, lost uploads, p95 of all requests and uploads."""
    accepted = result.outcomes().get("accepted", 0)
    upload_ms = [s.ms for s in result.samples if s.name.startswith(("preview", "confirm"))]
    users = f"{cfg.uploaders} uploading + {cfg.browsers} browsing, {cfg.seconds:.0f} s"
    return [
        {"figure": f"server errors (5xx) and requests without a response ({users})",
         "value": f"{result.server_errors} + {result.no_response} of {len(result.samples):,}", "goal": "0",
         "met": result.server_errors + result.no_response == 0},
        {"figure": "accepted uploads stored as the next revision with their values",
         "value": f"{accepted} of {accepted}" if not result.problems else f"{len(result.problems)} wrong",
         "goal": "all", "met": not result.problems},
        {"figure": "p95, all requests / upload preview and confirm",
         "value": f"{percentile([s.ms for s in result.samples], 95):,.0f} / {percentile(upload_ms, 95):,.0f} ms",
         "goal": "reported", "met": None},
    ]


def table(result: LoadResult, about: str) -> str:
    """The markdown: latency per request type and overall, then the checks."""
    order = ["login", "page", "_dash-layout", "_dash-dependencies"]
    by_name: dict[str, list[Sample]] = defaultdict(list)
    for s in result.samples:
        by_name[s.name].append(s)
    callbacks = sorted(n for n in by_name if n.startswith("callback "))
    uploads = [n for n in ("preview (all at once)", "preview", "confirm (all at once)", "confirm") if n in by_name]
    lines = [about, "", "| request | count | 5xx | no response | p50 ms | p95 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name in [n for n in order if n in by_name] + callbacks + uploads:
        label = f"`{name[len('callback '):]}`" if name.startswith("callback ") else name
        lines.append(_row(label, by_name[name]))
    lines.append(_row("**all requests**", result.samples))

    outcomes = result.outcomes()
    rejected = outcomes["rejected"] + outcomes["refused at preview"]
    other = sum(outcomes.values()) - outcomes["accepted"] - outcomes["unchanged"] - rejected
    server = result.server
    server_5xx = sum(n for status, n in server.statuses.items() if status >= 500)
    rss = max(server.peak_rss_mb.values(), default=0.0)
    checked = sum(a.uploads for a in result.accounts)
    served = ", ".join(f"{n:,}" for n in sorted(server.workers.values(), reverse=True))
    capacity = (os.cpu_count() or 1) * result.wall_seconds
    shares = {"gunicorn": "gunicorn", "PostgreSQL": "PostgreSQL (the whole server)",
              "load generator": "the load generator", "other": "other processes (not this test)"}
    cpu = ", ".join(f"{label} {100 * result.cpu[k] / capacity:.0f} %" for k, label in shares.items())
    cpu += f", idle {max(0.0, 100 - 100 * result.cpu['machine'] / capacity):.0f} %"
    lines += [
        "", "| check | result |", "|---|---|",
        f"| server errors (5xx): client's count / gunicorn's access log | **{result.server_errors} / {server_5xx}** |",
        f"| requests without a response (reset, timeout) | {result.no_response} |",
        f"| other statuses than 200, 204, 302 | {len(result.unexpected)} |",
        f"| responses in gunicorn's access log / received | {sum(server.statuses.values()):,} / "
        f"{sum(s.status > 0 for s in result.samples):,} |",
        f"| requests sent again: their kept-alive connection closed by gunicorn as they went out (as a browser "
        f"does) | {len(result.resent)} |",
        f"| uploads: accepted / unchanged / rejected / other (lost preview, no answer) | {outcomes['accepted']} / "
        f"{outcomes['unchanged']} / {rejected} / {other} |",
        f"| every accepted upload stored as the next revision, current = its values ({checked} hospitals) | "
        f"{'**yes**' if not result.problems else '**no**: ' + '; '.join(result.problems[:5])} |",
        f"| gunicorn error log: tracebacks, worker timeouts | {len(server.log_problems)} |",
        f"| throughput | {len(result.samples) / result.wall_seconds:,.1f} requests/s over "
        f"{result.wall_seconds:.0f} s |",
        f"| requests per worker / peak RSS (VmHWM) | {served} / up to {rss:,.0f} MB |",
        f"| CPU during the load, of {os.cpu_count()} cores × {result.wall_seconds:.0f} s | {cpu} |",
        f"| 1-minute load average, peak | {result.load_average:.1f} |",
    ]
    return "\n".join(lines)


def describe(result: LoadResult, hospitals: int, months: int) -> str:
    """The paragraph above the table: data, people, shape of the load, server."""
    cfg = result.config
    roles = Counter(a.role for a in result.accounts if not a.uploads)

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    def span(low: float, high: float) -> str:
        return f"{low * cfg.think_scale:.0f}–{high * cfg.think_scale:.0f} s"

    prefectures = len({a.unit for a in result.accounts if a.role == "supervisor"})
    per_view = sum(result.captured.get(k, 0) for k in cfg.views) / max(1, len(cfg.views))
    return (
        f"{hospitals:,} hospitals × {months} months (the demo province). **{cfg.uploaders} hospital users** "
        f"(one per hospital) and **{cfg.browsers} region users** ({n(roles['supervisor'], 'supervisor')} of "
        f"{n(prefectures, 'prefecture')}, {n(roles['leader'], 'leader')} and {n(roles['analyst'], 'analyst')} at "
        f"the province) for {cfg.seconds:.0f} s, starting over the first {cfg.ramp:.0f} s in random order. Each "
        f"signs in through the form and lands on its home page. A hospital user uploads its own {result.period} "
        f"report (GBK CSV and XLSX in turn, written by the demo's writers, changed values each time) through the "
        f"upload page's callbacks: page load, {span(2, 5)} to pick the file, `preview`, {span(2, 6)} reading it, "
        f"`confirm`, {span(5, 15)} until the next correction; the first upload of all of them is sent at the "
        f"same moment (the \"all at once\" rows). A region user opens a random one of {len(cfg.views)} kinds of "
        f"view within its scope — a full page load: HTML, layout, dependencies, then the ~{per_view:.0f} callback "
        f"requests headless Chromium sends on that view, replayed with the user's own layout values — and reads "
        f"it {span(5, 15)}. Requests of one page go one after another; the load generator (threads, `requests`) "
        f"runs on the same machine.\n\n"
        f"Server: `gunicorn '{APP}' {' '.join(cfg.gunicorn_args())}` on 127.0.0.1 — {WHY_GTHREAD}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 120-hospital, 14-month demo; 10 + 5 users for 30 s")
    parser.add_argument("--users-upload", type=int, help="hospital users uploading (default 50; 10 with --quick)")
    parser.add_argument("--users-browse", type=int, help="region users browsing (default 20; 5 with --quick)")
    parser.add_argument("--seconds", type=float, help="length of the load (default 120; 30 with --quick)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker (default 4)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    args = parser.parse_args()
    hospitals, months = (120, 14) if args.quick else (300, 36)
    cfg = LoadConfig(uploaders=args.users_upload or (10 if args.quick else 50),
                     browsers=args.users_browse or (5 if args.quick else 20),
                     seconds=args.seconds or (30.0 if args.quick else 120.0),
                     workers=args.workers, threads=args.threads, think_scale=0.5 if args.quick else 1.0)
    from opsmon.demo.load import load_demo

    with throwaway_database() as engine, tempfile.TemporaryDirectory() as work:
        settings = config.Settings(database_url=None, data_dir=Path(work) / "demo", province=PROVINCE,
                                   secret_key=None, production=False)
        outcome = load_demo(engine, settings, n_hospitals=hospitals, months=months,
                            progress=lambda msg: print(f"# {msg}", file=sys.stderr, flush=True))
        if outcome.rejected:
            raise SystemExit(f"{outcome.rejected} demo files rejected")
        with engine.connect() as conn:
            n_hosp = conn.execute(sa.text("SELECT count(*) FROM hospitals")).scalar_one()
            n_months = conn.execute(sa.text("SELECT count(DISTINCT period) FROM monthly_values")).scalar_one()
        result = run(engine, cfg, Path(work))
        text = table(result, describe(result, n_hosp, n_months))
        print(text)
        for s in result.unexpected[:20]:
            print(f"# {s.status} {s.name} ({s.username}): {s.error}", file=sys.stderr)
        for line in result.server.log_problems[:20]:
            print(f"# gunicorn: {line}", file=sys.stderr)
        for line in result.resent:
            print(f"# sent again: {line}", file=sys.stderr)
        if not args.no_write:
            flags = " --quick" if args.quick else ""
            if args.users_upload or args.users_browse or args.seconds:
                flags += f" --users-upload {cfg.uploaders} --users-browse {cfg.browsers} --seconds {cfg.seconds:.0f}"
            write_section("load", f"Load test (`python -m bench.load{flags}`)", text, machine(engine))
            if not args.quick:
                record_goals("load test", "province", goals(result, cfg))
            print(f"# wrote {RESULTS}", file=sys.stderr)
        failed = result.server_errors or result.no_response or result.problems
    if failed:
        raise SystemExit("the load test found server errors or lost uploads (above)")


if __name__ == "__main__":
    main()
