"""Materialised per-hospital aggregates, rebuilt in SQL when the data change.

Two tables hold everything the indicator queries read, per hospital:

``ind_month`` (hospital × month, span-independent)
    ``reported`` (a current monthly revision exists), ``timely`` (the first
    revision's file arrived by the due date: ``due_day`` of the next month,
    local time), the month-end stocks, the trailing means of the catalogue
    (:data:`~opsmon.indicators.catalogue.TRAILING`: e.g. ``cash_expense_avg3``,
    the mean monthly total_expense − depreciation_expense over the reported
    months of the three ending at the month, for cash_months;
    ``medical_revenue_avg12`` and ``drug_consumables_expense_avg12`` over twelve,
    for the turnover days), ``has_<flow>`` for the optional flows those means read
    (1 when the flow was reported in every reported month of the mean's window),
    and the programme status as of the month
    (:mod:`opsmon.indicators.programme`). Rows exist where the hospital reported
    that month or had reported progress by then.
``ind_span`` (hospital × month × span)
    For each span ending at the month: ``n_months`` reported and the flows
    summed over them; ``k_<flow>`` for the optional flows some entry's official
    definition needs (:data:`~opsmon.indicators.catalogue.SPAN_FLAGS`): the
    months of the span that reported it (all of them: the official definition
    applies, else the 近似 one); ``g_months`` and ``g_<flow>``/``gp_<flow>`` for
    the flows of the catalogue's growth indicators: the same sums restricted to
    months also reported a year earlier, and the year-earlier values of those
    months (growth compares like with like), and ``gk_<flow>``: matched months
    reporting the optional flow in both years.

Region values are sums over these rows: at query time where hospital filters
apply, else read from ``ind_region``, built here from the same rows
(:mod:`opsmon.indicators.region_sums`).

:func:`refresh` rebuilds the tables — new tables built aside, then swapped in
by one transaction, so readers wait only for the swap — when the data
version, the due-day settings or this module's SQL changed since the last
build; otherwise it is a single lookup. A full build runs its independent
parts at once on :data:`BUILD_CONNECTIONS` connections (:data:`BUILD_PHASES`):
``ind_month`` beside ``ind_span``, then the region sums of each span. Their DDL (why it runs at refresh time
rather than as a migration, the indexes, the swap) is in
:mod:`opsmon.indicators.build`; this module says what fills them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.indicators import build, catalogue, programme, region_sums
from opsmon.periods import DEFAULT_DUE_DAY, SPANS, check_due_day, configured_tz

LOCK_KEY = 0x6F70736D6F6E + 1  # "opsmon" + 1: indicator refreshes

FLOWS = catalogue.FLOW_FIELDS
STOCKS = catalogue.STOCK_FIELDS
GROWTH_FLOWS = catalogue.GROWTH_FLOWS

# The months any derived table covers: from the first to the last month with data.
CALENDAR_SQL = """
SELECT CAST(generate_series(lo, hi, interval '1 month') AS date) AS period
FROM (SELECT least((SELECT min(period) FROM monthly_values WHERE is_current),
                   (SELECT min(period) FROM progress_values WHERE is_current)) AS lo,
             greatest((SELECT max(period) FROM monthly_values WHERE is_current),
                      (SELECT max(period) FROM progress_values WHERE is_current)) AS hi) b
WHERE lo IS NOT NULL
"""

# The end of the due day, local time, for the period date expression {p}.
DUE_SQL = ("(CAST({p} + interval '1 month' + make_interval(days => :due_day) AS timestamp) "
           "AT TIME ZONE :timezone)")


# Restricts a build to the hospitals in the bound array :changed (an incremental refresh).
ONLY_CHANGED = "AND " + build.CHANGED


def _month_sql(only_changed: bool = False) -> str:
    """The rows of ``ind_month`` (only the changed hospitals' with *only_changed*)."""
    stocks = ", ".join(f"e.{c}" for c in STOCKS)
    progress = ", ".join(f"pg.{c}" for c in catalogue.PROGRESS_FIELDS if c != "pilot_projects_year")

    def only(col: str) -> str:
        return ONLY_CHANGED.format(col=col) if only_changed else ""

    # Means over the reported months of the window (a RANGE of calendar months: a month not
    # reported is not in it, so the mean is of the months there are).
    windows = sorted({t.months for t in catalogue.TRAILING})
    trailing = ",\n           ".join(
        [f"avg({t.expression}) OVER w{t.months} AS {t.column}" for t in catalogue.TRAILING]
        + [f"CAST(count({f}) OVER w{t.months} = count(*) OVER w{t.months} AS int) AS has_{f}"
           for f, t in catalogue.TRAILING_FLAGS.items()])
    trailing_windows = ", ".join(
        f"w{n} AS (PARTITION BY hospital_code ORDER BY period "
        f"RANGE BETWEEN interval '{n - 1} months' PRECEDING AND CURRENT ROW)" for n in windows)
    trailing_columns = ", ".join(
        f"t.{c}" for c in (*catalogue.TRAILING_COLUMNS, *(f"has_{f}" for f in catalogue.TRAILING_FLAGS)))
    return f"""
WITH cal AS ({CALENDAR_SQL}),
mv AS (SELECT * FROM monthly_values WHERE is_current {only('hospital_code')}),
keys AS (
    SELECT hospital_code, period FROM mv
    UNION
    SELECT f.hospital_code, cal.period
    FROM (SELECT hospital_code, min(period) AS first FROM progress_values
          WHERE is_current {only('hospital_code')} GROUP BY 1) f
    JOIN cal ON cal.period >= f.first
),
first_in AS (  -- revisions exist only for accepted files: the first one's arrival decides timeliness
    SELECT DISTINCT ON (m.hospital_code, m.period) m.hospital_code, m.period, s.received_at
    FROM monthly_values m JOIN submissions s USING (submission_id)
    WHERE true {only('m.hospital_code')}
    ORDER BY m.hospital_code, m.period, m.revision
),
trail AS (
    SELECT hospital_code, period,
           {trailing}
    FROM mv
    WINDOW {trailing_windows}
)
SELECT k.hospital_code, k.period,
       CAST(e.hospital_code IS NOT NULL AS int) AS reported,
       CAST(coalesce(fi.received_at < {DUE_SQL.format(p='k.period')}, false) AS int) AS timely,
       {stocks}, {trailing_columns},
       CAST(pg.hospital_code IS NOT NULL AS int) AS has_progress,
       pg.period AS progress_period, {progress},
       {programme.pilot_projects_sql('pg', 'k.period')} AS pilot_projects_year
FROM keys k
LEFT JOIN mv e ON e.hospital_code = k.hospital_code AND e.period = k.period
LEFT JOIN first_in fi ON fi.hospital_code = k.hospital_code AND fi.period = k.period
LEFT JOIN trail t ON t.hospital_code = k.hospital_code AND t.period = k.period
{programme.status_as_of_sql('k.hospital_code', 'k.period')}
"""


def _span_sql(only_changed: bool = False) -> str:
    """The rows of ``ind_span`` (only the changed hospitals' with *only_changed*)."""
    # One dense row per hospital and calendar month, then running sums per span window:
    # every month is present, so "the last 12 rows" is the last 12 months. (Running
    # totals differenced with lag() need one sort instead of three but measured slower:
    # the numeric arithmetic, not the sorting, is the cost.)
    windows = {"quarter": "PARTITION BY hospital_code, date_trunc('quarter', period) ORDER BY period",
               "ytd": "PARTITION BY hospital_code, date_trunc('year', period) ORDER BY period",
               "year": "PARTITION BY hospital_code ORDER BY period ROWS BETWEEN 11 PRECEDING AND CURRENT ROW"}
    if set(windows) | {"month"} != set(SPANS):
        raise RuntimeError("every span needs a window")
    columns = ["n_months", *FLOWS, *(f"k_{c}" for c in catalogue.SPAN_FLAGS), "g_months",
               *(f"g_{c}" for c in GROWTH_FLOWS), *(f"gp_{c}" for c in GROWTH_FLOWS),
               *(f"gk_{c}" for c in catalogue.GROWTH_FLAGS)]
    dense = ", ".join([
        "CAST(m.hospital_code IS NOT NULL AS int) AS n_months",
        *(f"m.{c}" for c in FLOWS),
        *(f"CAST(m.{c} IS NOT NULL AS int) AS k_{c}" for c in catalogue.SPAN_FLAGS),
        "CAST(py.hospital_code IS NOT NULL AS int) AS g_months",
        *(f"CASE WHEN py.hospital_code IS NOT NULL THEN m.{c} END AS g_{c}" for c in GROWTH_FLOWS),
        *(f"py.{c} AS gp_{c}" for c in GROWTH_FLOWS),
        *(f"CAST(m.{c} IS NOT NULL AND py.{c} IS NOT NULL AS int) AS gk_{c}" for c in catalogue.GROWTH_FLAGS),
    ])
    running = ",\n           ".join(f"sum({c}) OVER {span} AS {span}__{c}" for span in windows for c in columns)
    rows = ", ".join([f"('month', {', '.join(columns)})"] + [
        f"('{span}', {', '.join(f'{span}__{c}' for c in columns)})" for span in windows])
    window_defs = ", ".join(f"{span} AS ({spec})" for span, spec in windows.items())
    only = ONLY_CHANGED.format(col="hospital_code") if only_changed else ""
    return f"""
WITH cal AS ({CALENDAR_SQL}),
mv AS (SELECT * FROM monthly_values WHERE is_current {only}),
dense AS (
    SELECT h.hospital_code, cal.period, {dense}
    FROM (SELECT DISTINCT hospital_code FROM mv) h CROSS JOIN cal
    LEFT JOIN mv m ON m.hospital_code = h.hospital_code AND m.period = cal.period
    LEFT JOIN mv py ON m.hospital_code IS NOT NULL AND py.hospital_code = h.hospital_code
                   AND py.period = CAST(cal.period - interval '1 year' AS date)
),
w AS (
    SELECT dense.*,
           {running}
    FROM dense
    WINDOW {window_defs}
)
SELECT w.hospital_code, w.period, s.*
FROM w CROSS JOIN LATERAL (VALUES {rows}) s(span, {", ".join(columns)})
WHERE s.n_months > 0
"""


_REGION_SELECTS = region_sums.selects(CALENDAR_SQL, build.MONTH.aside, build.SPAN.aside)
# A full build: each phase's tasks are independent (each a list of statements for one connection,
# committed when done); a phase starts when the previous one has finished. ind_month and ind_span
# read only the source tables; each span's region sums reads both and adds rows to ind_region_build,
# created empty in between (its columns are those of a region select, which names both).
BUILD_PHASES: tuple[tuple[tuple[str, ...], ...], ...] = (
    (tuple(build.build_aside(build.MONTH, _month_sql())),
     tuple(build.build_aside(build.SPAN, _span_sql()))),
    (tuple(build.prepare_aside(build.REGION, _REGION_SELECTS[0])),),
    tuple((build.fill_aside(build.REGION, select),) for select in _REGION_SELECTS),
    (tuple(build.finish_aside(build.REGION)),),
)
BUILD_STATEMENTS: tuple[str, ...] = tuple(s for phase in BUILD_PHASES for task in phase for s in task)
SWAP_STATEMENTS: tuple[str, ...] = tuple(build.swap())
# Connections a full build uses at once. Two: the parts are CPU-bound, the goal machine has two
# cores, and the readers' queries run beside the build (on more cores, more parts run at once).
BUILD_CONNECTIONS = 2
# An incremental refresh: the changed hospitals' rows rebuilt aside, then swapped in.
# The region sums move by the changed hospitals' new values minus their old ones.
DELTA_STATEMENTS: tuple[str, ...] = (
    build.delta_table(build.MONTH, _month_sql(only_changed=True)),
    build.delta_table(build.SPAN, _span_sql(only_changed=True)),
    build.delta_table(build.REGION),
    *region_sums.delta_statements(CALENDAR_SQL, -1),
    *build.replace_changed(build.MONTH),
    *build.replace_changed(build.SPAN),
    *region_sums.delta_statements(CALENDAR_SQL, +1),
    region_sums.merge_statement(),
)
# Part of the source key: a change to the SQL above rebuilds the tables on the next refresh.
SQL_FINGERPRINT = hashlib.sha256("\n".join(BUILD_STATEMENTS + DELTA_STATEMENTS).encode()).hexdigest()[:12]
# Above this share of the hospitals an incremental refresh is no cheaper than a rebuild.
INCREMENTAL_SHARE = 0.05


@dataclass(frozen=True)
class RefreshResult:
    """What a refresh did: nothing, a full rebuild, or an incremental one of *changed* hospitals."""

    rebuilt: bool
    source_key: str
    seconds: float
    changed: tuple[str, ...] | None = None  # None: everything (or nothing) was rebuilt


@dataclass(frozen=True)
class BuildState:
    """What a derived table was last built from (``indicator_state``)."""

    source_key: str | None
    watermark: int | None
    basis: str | None  # :func:`basis` at that build: the months covered and the registry digest


def base_key(key: str | None) -> str | None:
    """A source key without its data version: what must not change for an incremental refresh."""
    return key.split("|", 1)[1] if key and "|" in key else None


def federated(conn: sa.Connection) -> bool:
    """Whether this is a national instance fed by replication (it subscribes to a province).

    Its values arrive only through replication, and its watermarks count data versions, not
    submission ids (migration 0018).
    """
    return bool(conn.execute(sa.text("SELECT EXISTS (SELECT 1 FROM federation_sources)")).scalar_one())


def watermark(conn: sa.Connection) -> int:
    """What a build made now has seen: submissions up to this id.

    Below the oldest one still 'processing' (its rows may commit after this build),
    else the newest id. A later refresh looks again at everything above it. On a national
    instance fed by replication (:func:`federated`): the data version — the replicated
    transactions are numbered by it, one at a time under the refresh lock (migration 0018),
    so the caller, holding the lock, has seen every one up to it.
    """
    if federated(conn):
        return conn.execute(sa.text("SELECT version FROM data_state")).scalar_one()
    return conn.execute(sa.text(
        "SELECT coalesce((SELECT min(submission_id) - 1 FROM submissions WHERE status = 'processing'), "
        "(SELECT max(submission_id) FROM submissions), 0)")).scalar_one()


def calendar(conn: sa.Connection) -> str:
    """The months every build covers ('first..last'): a new month changes every hospital's rows."""
    row = conn.execute(sa.text(f"SELECT min(period), max(period) FROM ({CALENDAR_SQL}) c")).one()
    return f"{row[0]}..{row[1]}"


def basis(conn: sa.Connection) -> str:
    """What an incremental refresh cannot change: the months covered and the registry.

    Registry files always force a full build (:func:`changed_hospitals`); the
    digest also catches the registry edited any other way (a hospital moved to
    another county would otherwise be subtracted from the wrong region's sums).
    """
    columns = ", ".join(["hospital_code", "adcode", *catalogue.HOSPITAL_ATTRIBUTES, "opened_period", "closed_period"])
    digest = conn.execute(sa.text(
        f"SELECT md5(coalesce(string_agg(CAST(({columns}) AS text), '|' ORDER BY hospital_code), '')) FROM hospitals"
    )).scalar_one()
    return f"{calendar(conn)}|{digest}"


def covered_months(conn: sa.Connection) -> tuple[date, date] | None:
    """The first and last month of the last aggregate build (None if never built, or built empty)."""
    first, _, last = (stored_state(conn, "aggregates").basis or "").split("|")[0].partition("..")
    try:
        return date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        return None


def changed_hospitals(conn: sa.Connection, since: int) -> list[str] | None:
    """Hospitals with values from submissions after *since*; None when a registry file arrived too.

    On a national instance fed by replication: the hospitals of the transactions applied after
    data version *since* (``federation_changes``; a replicated registry row changes the registry
    digest of :func:`basis`, which forces a full build).
    """
    if federated(conn):
        return list(conn.execute(sa.text(
            "SELECT DISTINCT CAST(hospital_code AS text) FROM federation_changes WHERE version > :w"),
            {"w": since}).scalars())
    registry = conn.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM submissions WHERE submission_id > :w AND kind = 'registry')"),
        {"w": since}).scalar_one()
    if registry:
        return None  # openings and closings change who is assessed: rebuild everything
    return list(conn.execute(sa.text(
        "SELECT hospital_code FROM monthly_values WHERE submission_id > :w "
        "UNION SELECT hospital_code FROM progress_values WHERE submission_id > :w"), {"w": since}).scalars())


def incremental_set(conn: sa.Connection, key: str, stored: BuildState, now_basis: str) -> list[str] | None:
    """The hospitals whose rows to rebuild, or None when only a full rebuild is right.

    *key*: the table's source key now; *stored*: its last build; *now_basis*:
    :func:`basis` as of now (the caller records it too; it reads the whole registry).
    """
    if stored.watermark is None or base_key(stored.source_key) != base_key(key):
        return None
    if stored.basis != now_basis:
        return None
    changed = changed_hospitals(conn, stored.watermark)
    if changed is None or (not changed and not federated(conn)):
        # The data version moved but no submission explains it (values edited outside ingest,
        # which always writes a new submission): rebuild everything rather than guess. A national
        # instance takes values only by replication, each queued: nothing queued, nothing changed
        # (a file the province rejected, a submission's status).
        return None
    total = conn.execute(sa.text("SELECT count(*) FROM hospitals")).scalar_one()
    return changed if len(changed) <= max(50, INCREMENTAL_SHARE * total) else None


def due_settings(conn: sa.Connection) -> dict[str, object]:
    """The due day (settings 'due_day', default 10) and the local time zone (settings 'timezone')."""
    rows = dict(conn.execute(sa.text(
        "SELECT key, value #>> '{}' FROM settings WHERE key IN ('due_day', 'timezone')"
    )).all())
    due_day = check_due_day(rows.get("due_day") or DEFAULT_DUE_DAY)
    return {"due_day": due_day, "timezone": str(configured_tz(conn))}


def source_key(conn: sa.Connection) -> str:
    """What the aggregates depend on: the data version, the due settings and the build SQL."""
    version = conn.execute(sa.text("SELECT version FROM data_state")).scalar_one()
    due = due_settings(conn)
    return f"v{version}|due{due['due_day']}|{due['timezone']}|{SQL_FINGERPRINT}"


def stored_key(conn: sa.Connection, name: str) -> str | None:
    """The source key *name* was last built from (None if never)."""
    return stored_state(conn, name).source_key


def stored_state(conn: sa.Connection, name: str) -> BuildState:
    """What *name* was last built from."""
    row = conn.execute(sa.text("SELECT source_key, watermark, basis FROM indicator_state WHERE name = :n"),
                       {"n": name}).first()
    return BuildState(*row) if row else BuildState(None, None, None)


def record_key(conn: sa.Connection, name: str, key: str, seconds: float, mark: int, now_basis: str) -> None:
    """Remember that *name* is now built from *key*: submissions up to *mark*, on *now_basis* (:func:`basis`).

    On a national instance, the replicated changes every derived table has included are forgotten.
    """
    conn.execute(sa.text(
        "INSERT INTO indicator_state (name, source_key, refreshed_at, seconds, watermark, basis) "
        "VALUES (:n, :k, now(), :s, :w, :b) "
        "ON CONFLICT (name) DO UPDATE SET source_key = EXCLUDED.source_key, refreshed_at = now(), "
        "seconds = EXCLUDED.seconds, watermark = EXCLUDED.watermark, basis = EXCLUDED.basis"
    ), {"n": name, "k": key, "s": seconds, "w": mark, "b": now_basis})
    if federated(conn):
        # Both builds read the queue (the register after the aggregates): keep what either still needs.
        conn.execute(sa.text(
            "DELETE FROM federation_changes WHERE version <= (SELECT min(coalesce(watermark, -1)) "
            "FROM indicator_state WHERE name IN ('aggregates', 'risk_register'))"))


def build_settings(conn: sa.Connection) -> None:
    """Settings of a build's transaction (aggregates, risk register): no JIT (compiling one-off statements costs more than it saves)."""
    conn.execute(sa.text("SET LOCAL jit = off"))


def _run_task(engine: Engine, statements: Sequence[str], params: dict[str, object]) -> None:
    """One task of a build phase, in its own committed transaction."""
    with engine.begin() as conn:
        build_settings(conn)
        for statement in statements:
            conn.execute(sa.text(statement), params if ":due_day" in statement else {})


def build_all(engine: Engine, params: dict[str, object]) -> None:
    """Fill the aside tables of a full build (:data:`BUILD_PHASES`), each phase's tasks at once.

    The caller holds the refresh lock and swaps the tables in afterwards. The inputs are analysed
    first and committed, so every connection plans on fresh statistics: a full build follows bulk
    loads (the registry, a backfill, a province's initial copy), which outrun autovacuum — planned
    on a stale estimate of the open hospitals, the build's joins go row by row (≈ 2 s nationally).
    """
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE hospitals, monthly_values, progress_values"))
    with ThreadPoolExecutor(max_workers=BUILD_CONNECTIONS, thread_name_prefix="opsmon-build") as pool:
        for phase in BUILD_PHASES:
            # list(): wait for every task and raise the first failure before the next phase.
            list(pool.map(lambda task: _run_task(engine, task, params), phase))


def refresh(engine: Engine, *, force: bool = False) -> RefreshResult:
    """Bring ``ind_month``, ``ind_span`` and ``ind_region`` up to date if the data changed (or *force*).

    Cheap when nothing changed. When only some hospitals' values changed since the last
    build (and not the months covered, the due settings, the registry or this module's
    SQL), only their rows are rebuilt; otherwise the tables are rebuilt aside and swapped in.
    """
    with engine.connect() as conn:
        key = source_key(conn)
        if not force and stored_key(conn, "aggregates") == key:
            return RefreshResult(False, key, 0.0)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        key = source_key(conn)  # another process may have rebuilt while we waited
        stored = stored_state(conn, "aggregates")
        if not force and stored.source_key == key:
            return RefreshResult(False, key, 0.0)
        build_settings(conn)
        params = due_settings(conn)
        mark, now_basis = watermark(conn), basis(conn)
        changed = None if force else incremental_set(conn, key, stored, now_basis)
        if changed is not None:
            for statement in DELTA_STATEMENTS:
                conn.execute(sa.text(statement), {**params, "changed": changed})
        else:
            build_all(engine, params)
            for statement in SWAP_STATEMENTS:
                conn.execute(sa.text(statement))
        seconds = time.perf_counter() - started
        record_key(conn, "aggregates", key, seconds, mark, now_basis)
    return RefreshResult(True, key, seconds, tuple(changed) if changed is not None else None)
