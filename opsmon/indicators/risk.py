"""The risk register: every rule of :mod:`risk_rules` evaluated for every hospital and month, in SQL.

**Assessment.** A hospital is assessed for the data rules in each month it
reported (its ``ind_month`` row with ``reported = 1``); a metric that cannot be
computed (no previous month to compare with, zero assets…) does not fire. For
``report_missing`` every open hospital is assessed in every month whose due
date has passed (as of *as_of*, default now).

**Metrics** (per hospital and month):
``ytd_surplus_rate`` (the catalogue's surplus_rate on year-to-date sums; a year
with expense but no revenue counts as −100 %), ``debt_ratio``, ``current_ratio``,
``cash_months`` (the catalogue's definitions on month-end values),
``salary_arrears``, ``construction_debt_change`` (against the previous calendar
month, when it was reported), ``deficit_streak`` (consecutive calendar months in
deficit ending at the month; a month not reported breaks it),
``long_term_loans_rise_streak`` (consecutive month-on-month rises ending at the
month) and ``late`` (1 when no revision arrived by the due date).

**Levels.** A rule fires at the most severe level whose threshold the metric
passes; the thresholds in force (the rule's defaults, overridden by the
``risk_thresholds`` table) are read at each refresh and written into the
statement as numeric literals. Every firing is kept in ``risk_firings``.

**Episodes.** ``risk_register`` holds runs of assessed months in which a rule
fired: first and last period, the level at the last one and the worst level, and
``resolved_period`` — the first assessed month after the run without a firing. A
month in which the hospital was not assessed neither extends nor ends a run. A
rule that fires again after being resolved opens a new episode (a new row); the
resolved one stays as history. :func:`refresh_register` recomputes every firing
from the data and merges the episodes into the table set-wise (updated rows keep
their id and ``recorded_at``), so corrected revisions also correct the register.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.indicators import aggregate, build, catalogue, restrict
from opsmon.indicators.risk_rules import LEVELS, OP_SQL, RULES

STATUSES = ("new", "persisting", "resolved")  # the status column of changes()


def _ratio(indicator_id: str) -> str:
    """A catalogue ratio on one hospital's row: its field codes are the row's columns."""
    ind = catalogue.get(indicator_id)
    return f"({ind.numerator}) / NULLIF({ind.denominator}, 0)"


# Metric name → SQL over the columns of the ``seq`` CTE below.
METRICS: dict[str, str] = {
    "ytd_surplus_rate": (f"coalesce({_ratio('surplus_rate')}, "
                         "CASE WHEN total_expense > total_revenue THEN -1 END)"),
    "debt_ratio": _ratio("debt_ratio"),
    "current_ratio": _ratio("current_ratio"),
    "cash_months": _ratio("cash_months"),
    "salary_arrears": "salary_arrears",
    "construction_debt_change": "CASE WHEN prev_adjacent THEN construction_debt - prev_construction_debt END",
    "deficit_streak": ("CASE WHEN month_deficit THEN count(*) OVER (PARTITION BY hospital_code, month_deficit, "
                       "deficit_run ORDER BY period) ELSE 0 END"),
    "long_term_loans_rise_streak": ("CASE WHEN loans_rose THEN count(*) OVER (PARTITION BY hospital_code, loans_rose, "
                                    "rise_run ORDER BY period) ELSE 0 END"),
}
_MONTH_RULES = [r for r in RULES if r.metric in METRICS]


def _fired_sql(severity: dict[str, str], only_changed: bool = False) -> str:
    """Every firing, with the hospital's previous and next assessed month for the episode logic.

    *severity* maps a rule id to an SQL expression over ``metric`` giving 1–3 or NULL;
    *only_changed* limits it to the hospitals in the bound array ``:changed``.
    """
    def only(col: str) -> str:
        return aggregate.ONLY_CHANGED.format(col=col) if only_changed else ""

    stocks = ", ".join(f"p.{c}" for c in catalogue.STOCK_FIELDS)
    metric_cols = ",\n           ".join(f"CAST({sql} AS numeric) AS {name}" for name, sql in METRICS.items())
    month_rules = ", ".join(
        f"('{r.id}', metrics.{r.metric}, {severity[r.id].format(metric=f'metrics.{r.metric}')})"
        for r in _MONTH_RULES)
    late = severity["report_missing"].format(metric="late")
    # Streaks: within a run of consecutive months the month index minus the row number
    # over the flagged rows is constant; a gap or an unflagged month starts a new run.
    return f"""
WITH base AS (
    SELECT p.hospital_code, p.period, {stocks}, p.total_expense_avg3,
           y.total_revenue, y.total_expense,
           m.total_revenue < m.total_expense AS month_deficit,
           CAST(extract(year FROM p.period) * 12 + extract(month FROM p.period) AS int) AS idx,
           lag(p.period) OVER w AS prev_assessed, lead(p.period) OVER w AS next_assessed,
           lag(p.period) OVER w = CAST(p.period - interval '1 month' AS date) AS prev_adjacent,
           lag(p.long_term_loans) OVER w AS prev_long_term_loans,
           lag(p.construction_debt) OVER w AS prev_construction_debt
    FROM ind_month p
    JOIN ind_span m ON m.hospital_code = p.hospital_code AND m.period = p.period AND m.span = 'month'
    JOIN ind_span y ON y.hospital_code = p.hospital_code AND y.period = p.period AND y.span = 'ytd'
    WHERE p.reported = 1 {only('p.hospital_code')}
    WINDOW w AS (PARTITION BY p.hospital_code ORDER BY p.period)
), flagged AS (
    SELECT base.*, coalesce(prev_adjacent AND long_term_loans > prev_long_term_loans, false) AS loans_rose
    FROM base
), seq AS (
    SELECT flagged.*,
           idx - row_number() OVER (PARTITION BY hospital_code, month_deficit ORDER BY period) AS deficit_run,
           idx - row_number() OVER (PARTITION BY hospital_code, loans_rose ORDER BY period) AS rise_run
    FROM flagged
), metrics AS (
    SELECT hospital_code, period, prev_assessed, next_assessed,
           {metric_cols}
    FROM seq
), cal AS ({aggregate.CALENDAR_SQL}), due_passed AS (
    SELECT cal.period FROM cal
    WHERE {aggregate.DUE_SQL.format(p='cal.period')} <= CAST(:as_of AS timestamptz)
      AND cal.period >= (SELECT min(period) FROM monthly_values WHERE is_current)
), missing AS (
    SELECT h.hospital_code, d.period, CAST(1 - coalesce(p.timely, 0) AS numeric) AS late,
           lag(d.period) OVER w AS prev_assessed, lead(d.period) OVER w AS next_assessed
    FROM hospitals h JOIN due_passed d ON {restrict.open_at('h', 'd.period')} {only('h.hospital_code')}
    LEFT JOIN ind_month p ON p.hospital_code = h.hospital_code AND p.period = d.period
    WINDOW w AS (PARTITION BY h.hospital_code ORDER BY d.period)
), assessed AS (
    SELECT metrics.hospital_code, metrics.period, metrics.prev_assessed, metrics.next_assessed,
           x.rule, x.metric, x.severity
    FROM metrics CROSS JOIN LATERAL (VALUES {month_rules}) x(rule, metric, severity)
    UNION ALL
    SELECT hospital_code, period, prev_assessed, next_assessed, 'report_missing', late, {late}
    FROM missing
)
SELECT * FROM assessed WHERE severity IS NOT NULL
"""


def _thresholds_sql() -> str:
    rules = ", ".join(f"('{r.id}', '{OP_SQL[r.op]}')" for r in RULES)
    defaults = ", ".join(f"('{r.id}', '{level}', CAST('{value}' AS numeric))"
                         for r in RULES for level, value in r.levels)
    levels = ", ".join(f"('{level}', {i + 1})" for i, level in enumerate(LEVELS))
    return f"""
SELECT t.rule, r.op, t.level, l.severity, t.threshold
FROM (
    SELECT coalesce(d.rule, o.rule) AS rule, coalesce(d.level, o.level) AS level,
           coalesce(o.threshold, d.threshold) AS threshold, coalesce(o.enabled, true) AS enabled
    FROM (VALUES {defaults}) d(rule, level, threshold)
    FULL JOIN risk_thresholds o ON o.rule = d.rule AND o.level = d.level
) t
JOIN (VALUES {rules}) r(rule, op) ON r.rule = t.rule
JOIN (VALUES {levels}) l(level, severity) ON l.level = t.level
WHERE t.enabled
"""


def _severity_sql(rows: list[sa.Row]) -> dict[str, str]:
    """Rule id → SQL over ``{metric}``: the most severe level whose threshold it passes (NULL if none).

    The thresholds in force (numbers read from the database) are written into the
    statement as numeric literals: a per-row CASE, no join.
    """
    out: dict[str, list[str]] = {r.id: [] for r in RULES}
    for row in rows:
        out[row.rule].append(f"CASE WHEN {{metric}} {row.op} CAST('{row.threshold}' AS numeric) "
                             f"THEN {int(row.severity)} END")
    return {rule: f"greatest({', '.join(cases)})" if cases else "CAST(NULL AS int)" for rule, cases in out.items()}


_SEVERITY = "CASE {} WHEN 1 THEN 'yellow' WHEN 2 THEN 'orange' WHEN 3 THEN 'red' END"


def _refresh_statements(severity: dict[str, str], only_changed: bool = False) -> tuple[str, ...]:
    """The statements that rebuild the firings and merge the episodes into the register.

    With *only_changed*, for the hospitals in ``:changed`` only (the others' rows stand).
    """
    mine = aggregate.ONLY_CHANGED.format(col="{t}.hospital_code") if only_changed else ""
    return (
        build.temp_table("risk_fired", _fired_sql(severity, only_changed)),
        # Fresh statistics for the temp table and the target: without them the anti-joins below
        # are planned as nested loops, quadratic at national size (hours instead of seconds).
        "ANALYZE risk_fired",
        # The targets' statistics matter for a full build (a first one starts from empty tables);
        # after an upload they stand, and analysing 900 000 firings costs ~0.3 s.
        *(() if only_changed else ("ANALYZE risk_firings",)),
        # Firings: a merge rather than delete-all-and-insert: after an upload few rows change.
        f"""DELETE FROM risk_firings f WHERE NOT EXISTS (
    SELECT 1 FROM risk_fired x WHERE x.hospital_code = f.hospital_code AND x.rule = f.rule AND x.period = f.period)
    {mine.format(t='f')}""",
        f"""UPDATE risk_firings f SET level = {_SEVERITY.format('x.severity')}, metric = x.metric
FROM risk_fired x
WHERE x.hospital_code = f.hospital_code AND x.rule = f.rule AND x.period = f.period
  AND (f.level, f.metric) IS DISTINCT FROM ({_SEVERITY.format('x.severity')}, x.metric)""",
        # New rows are found first, then inserted: an anti-join against the table being filled
        # is planned as a nested loop over its (analysed as empty) rows on a first build —
        # each row then scans every row the statement has added so far (quadratic: minutes
        # for the national register, where this takes seconds).
        build.temp_table("risk_fired_new", f"""
SELECT hospital_code, period, rule, {_SEVERITY.format('severity')} AS level, metric FROM risk_fired x
WHERE NOT EXISTS (SELECT 1 FROM risk_firings f
                  WHERE x.hospital_code = f.hospital_code AND x.rule = f.rule AND x.period = f.period)"""),
        "INSERT INTO risk_firings (hospital_code, period, rule, level, metric) SELECT * FROM risk_fired_new",
        # A firing continues its rule's run when the previous firing was in the hospital's
        # previous assessed month; otherwise a non-firing assessed month came between.
        build.temp_table("risk_episodes", f"""
WITH starts AS (
    SELECT *, CASE WHEN prev_assessed IS NOT NULL AND lag(period) OVER w = prev_assessed THEN 0 ELSE 1 END
              AS new_run
    FROM risk_fired WINDOW w AS (PARTITION BY hospital_code, rule ORDER BY period)
), runs AS (
    SELECT *, sum(new_run) OVER (PARTITION BY hospital_code, rule ORDER BY period) AS run FROM starts
)
SELECT hospital_code, rule, min(period) AS first_period, max(period) AS last_period,
       {_SEVERITY.format('(array_agg(severity ORDER BY period DESC))[1]')} AS level,
       {_SEVERITY.format('max(severity)')} AS max_level,
       (array_agg(metric ORDER BY period DESC))[1] AS metric,
       CAST(count(*) AS int) AS months_firing,
       (array_agg(next_assessed ORDER BY period DESC))[1] AS resolved_period
FROM runs GROUP BY hospital_code, rule, run"""),
        "ANALYZE risk_episodes",
        *(() if only_changed else ("ANALYZE risk_register",)),
        # Merge: drop episodes the data no longer support, update changed ones, add new ones —
        # in that order, so "one open episode per hospital and rule" holds after every statement.
        f"""DELETE FROM risk_register r WHERE NOT EXISTS (
    SELECT 1 FROM risk_episodes e
    WHERE e.hospital_code = r.hospital_code AND e.rule = r.rule AND e.first_period = r.first_period)
    {mine.format(t='r')}""",
        """UPDATE risk_register r SET last_period = e.last_period, level = e.level, max_level = e.max_level,
    metric = e.metric, months_firing = e.months_firing, resolved_period = e.resolved_period, updated_at = now()
FROM risk_episodes e
WHERE e.hospital_code = r.hospital_code AND e.rule = r.rule AND e.first_period = r.first_period
  AND (r.last_period, r.level, r.max_level, r.metric, r.months_firing, r.resolved_period)
      IS DISTINCT FROM (e.last_period, e.level, e.max_level, e.metric, e.months_firing, e.resolved_period)""",
        build.temp_table("risk_episodes_new", """
SELECT e.hospital_code, e.rule, e.first_period, e.last_period, e.level, e.max_level, e.metric,
       e.months_firing, e.resolved_period
FROM risk_episodes e
WHERE NOT EXISTS (SELECT 1 FROM risk_register r WHERE r.hospital_code = e.hospital_code AND r.rule = e.rule
                  AND r.first_period = e.first_period)"""),
        """INSERT INTO risk_register (hospital_code, rule, first_period, last_period, level, max_level, metric,
                           months_firing, resolved_period)
SELECT * FROM risk_episodes_new""",
    )


# Part of the source key: a change to the SQL rebuilds the register on the next refresh.
SQL_FINGERPRINT = hashlib.sha256("\n".join(
    _refresh_statements({r.id: "NULL" for r in RULES}) + _refresh_statements({r.id: "NULL" for r in RULES}, True)
    + (_thresholds_sql(),)).encode()).hexdigest()[:12]


def _as_of(as_of: datetime | None) -> datetime:
    return as_of or datetime.now().astimezone()


def _source_key(conn: sa.Connection, as_of: datetime) -> str:
    """Aggregates' key + thresholds + the last month whose due date has passed at *as_of*."""
    overrides = conn.execute(sa.text(
        "SELECT md5(coalesce(string_agg(rule || level || coalesce(CAST(threshold AS text), '') || enabled, ',' "
        "ORDER BY rule, level), '')) FROM risk_thresholds")).scalar_one()
    last_due = conn.execute(sa.text(
        f"SELECT max(cal.period) FROM ({aggregate.CALENDAR_SQL}) cal "
        f"WHERE {aggregate.DUE_SQL.format(p='cal.period')} <= CAST(:as_of AS timestamptz)"
    ), {**aggregate.due_settings(conn), "as_of": as_of}).scalar()
    return f"{aggregate.source_key(conn)}|{overrides}|{last_due}|{SQL_FINGERPRINT}"


def refresh_register(engine: Engine, *, as_of: datetime | None = None, force: bool = False) -> bool:
    """Bring ``risk_firings`` and ``risk_register`` up to date; return whether anything was recomputed.

    Refreshes the aggregates first. Cheap when neither the data, the thresholds,
    the due settings nor the last month due (at *as_of*) changed; when only some
    hospitals' values changed, only their firings and episodes are recomputed.
    """
    aggregate.refresh(engine)
    as_of = _as_of(as_of)
    with engine.connect() as conn:
        if not force and aggregate.stored_key(conn, "risk_register") == _source_key(conn, as_of):
            return False
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": aggregate.LOCK_KEY})
        key = _source_key(conn, as_of)
        stored = aggregate.stored_state(conn, "risk_register")
        if not force and stored.source_key == key:
            return False
        # Compiling these one-off statements (JIT) costs more than it saves.
        conn.execute(sa.text("SET LOCAL jit = off"))
        mark, now_basis = aggregate.watermark(conn), aggregate.basis(conn)
        changed = None if force else aggregate.incremental_set(conn, key, stored, now_basis)
        params = {**aggregate.due_settings(conn), "as_of": as_of, "changed": changed or []}
        severity = _severity_sql(conn.execute(sa.text(_thresholds_sql())).all())
        for statement in _refresh_statements(severity, only_changed=changed is not None):
            conn.execute(sa.text(statement), params)
        aggregate.record_key(conn, "risk_register", key, time.perf_counter() - started, mark, now_basis)
    return True


_EPISODE_COLUMNS = ("e.episode_id, e.hospital_code, h.name, CAST(h.adcode AS text) AS adcode, e.rule, "
                    "to_char(e.first_period, 'YYYY-MM') AS first_period, to_char(e.last_period, 'YYYY-MM') AS "
                    "last_period, to_char(e.resolved_period, 'YYYY-MM') AS resolved_period, e.months_firing")


def changes(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
            filters: dict | None = None, as_of: datetime | None = None) -> pd.DataFrame:
    """What is new, persisting and resolved in *period* ('YYYY-MM') for the open hospitals in view.

    ``new``: an episode whose first month is *period*; ``persisting``: one that
    started earlier and was not resolved by *period* (also when the hospital was
    not assessed in *period*); ``resolved``: one whose resolving month is *period*.
    Columns: status, episode_id, hospital_code, name, adcode, rule, level (the
    level at *period*, or at the last firing before it), metric (likewise),
    first_period, last_period, resolved_period, months_firing.
    """
    refresh_register(engine, as_of=as_of)
    where, params = restrict.hospitals("h", region=region, scope=scope, filters=filters)
    sql = sa.text(f"""
SELECT CASE WHEN e.first_period = :p THEN 'new' WHEN e.resolved_period = :p THEN 'resolved'
            ELSE 'persisting' END AS status,
       {_EPISODE_COLUMNS}, f.level, CAST(f.metric AS float8) AS metric
FROM risk_register e
JOIN hospitals h ON h.hospital_code = e.hospital_code
LEFT JOIN LATERAL (SELECT level, metric FROM risk_firings x
                   WHERE x.hospital_code = e.hospital_code AND x.rule = e.rule
                     AND x.period BETWEEN e.first_period AND least(e.last_period, :p)
                   ORDER BY x.period DESC LIMIT 1) f ON true
WHERE e.first_period <= :p AND (e.resolved_period IS NULL OR e.resolved_period >= :p)
  AND {restrict.open_at('h', ':p')} AND {where}
ORDER BY 1, h.adcode, e.hospital_code, e.rule""")
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn, params={**params, "p": periods.to_date(period)})


def register(engine: Engine, *, region: str | None = None, scope: str | None = None, hospital: str | None = None,
             open_only: bool = False, as_of: datetime | None = None) -> pd.DataFrame:
    """Register episodes in view, newest first: the columns of :func:`changes` without status,
    with the current ``level``, ``max_level`` and ``metric``."""
    refresh_register(engine, as_of=as_of)
    where, params = restrict.hospitals("h", region=region, scope=scope, hospital=hospital)
    sql = sa.text(f"""
SELECT {_EPISODE_COLUMNS}, e.level, e.max_level, CAST(e.metric AS float8) AS metric
FROM risk_register e JOIN hospitals h ON h.hospital_code = e.hospital_code
WHERE {where} {"AND e.resolved_period IS NULL" if open_only else ""}
ORDER BY e.first_period DESC, h.adcode, e.hospital_code, e.rule""")
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn, params=params)
