"""The risk register: every rule of :mod:`risk_rules` evaluated for every hospital and month, in SQL.

**Assessment.** A hospital is assessed for the data rules in each month it
reported (its ``ind_month`` row with ``reported = 1``); a metric that cannot be
computed (too short a history, an optional field not reported, zero assets…)
does not fire. For ``report_missing`` every open hospital is assessed in every
month whose due date has passed (as of *as_of*, default now).

**Metrics** (per hospital and month; :data:`METRICS`). Month-end stocks come from
``ind_month``; the trailing 12 months from ``ind_span`` (span ``year``, with
``n_months``) and, for flows a hospital may not report (the v2 optional columns,
drug and consumables expense), from a 12-month window over its ``month`` rows that
also counts the months reporting them. A **12-month metric needs 12 reported
months**; a metric on an **optional field needs the field** (every month of the
window for the flows). Comparisons with a year earlier join the month 12 months
before, when the hospital reported it.

``surplus_rate_12m``
    (revenue − expense) / revenue over the 12 months (expense but no revenue: −100 %).
``deficit_streak``
    consecutive calendar months in deficit ending at the month (a month not reported breaks it).
``medical_surplus_12m``
    Σ over the 12 months of medical_activity_revenue − medical_activity_expense where a
    month reports both, else that month's v1 approximation (medical_revenue +
    fiscal_subsidy_revenue − business_expense − admin_expense); ``approx`` in the detail
    says when any month was approximated.
``debt_ratio``, ``current_ratio``, ``cash_months``
    the catalogue's definitions (the catalogue's cash_months: v2, expense net of depreciation).
``net_assets``
    total_assets − total_liabilities.
``long_term_debt_ratio``
    (long_term_loans + long_term_payables, 0 when not reported) / total_assets.
``long_term_debt_growth``
    long-term debt / the same 12 months earlier − 1; long_term_payables count only when
    reported in both months (like with like); no value on a zero base.
``construction_debt_change_12m``
    construction_debt − construction_debt 12 months earlier.
``insurance_receivable_days``
    insurance_receivable / (medical_revenue of the 12 months ÷ 365).
``supplier_payable_days``
    supplier_payable / ((drug_expense + consumables_expense) of the 12 months ÷ 365).
``late``
    1 when no revision arrived by the due date.
``cash_months_forecast``
    :mod:`opsmon.indicators.cash_forecast` (statsmodels, in Python): its firings are
    read from one query of every hospital's cash_months and written back in one statement.

**Levels.** A condition passes at the most severe level whose threshold its metric
passes; a rule fires at the most severe level of its conditions (ties: the first
condition), then its escalations apply (``deficit_streak`` is raised to orange in a
month ``deficit_12m`` also fires). The thresholds in force (the rules' defaults,
overridden by the ``risk_thresholds`` table, per rule, metric and level) are read at
each refresh and written into the statement as numeric literals.

**Details.** Every firing is kept in ``risk_firings`` with a ``detail`` (jsonb): the
condition's ``metric``, its ``value``, ``op`` and the ``threshold`` of the level it
passed, its ``window``, the values that make up the metric (revenue and expense of the
12 months, liabilities and assets…), ``escalated_by`` and ``condition_level`` when an
escalation raised it, ``projected_period`` (and the fit) for cash_forecast.
:func:`opsmon.indicators.risk_rules.explain` renders it as a sentence.

**Episodes.** ``risk_register`` holds runs of assessed months in which a rule
fired: first and last period, the level, metric and detail at the last one, the
worst level, and ``resolved_period`` — the first assessed month after the run
without a firing. A month in which the hospital was not assessed neither extends
nor ends a run. A rule that fires again after being resolved opens a new episode (a
new row); the resolved one stays as history. :func:`refresh_register` recomputes
every firing from the data and merges the episodes into the table set-wise (updated
rows keep their id and ``recorded_at``), so corrected revisions also correct the
register.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import periods
from opsmon.indicators import aggregate, build, cash_forecast, catalogue, restrict
from opsmon.indicators.risk_rules import BY_ID, LEVELS, OP_SQL, RULES, explain, format_value

STATUSES = ("new", "persisting", "resolved")  # the status column of changes()
SEVERITY = {level: i + 1 for i, level in enumerate(LEVELS)}


def _ratio(indicator_id: str) -> str:
    """A catalogue ratio on one hospital's row: its field codes are the row's columns."""
    ind = catalogue.get(indicator_id)
    return f"({ind.numerator}) / NULLIF({ind.denominator}, 0)"


def _part(indicator_id: str, part: str) -> str:
    ind = catalogue.get(indicator_id)
    return f"({ind.numerator if part == 'numerator' else ind.denominator})"


_TWELVE = "n_12m = 12"
# Long-term debt now and 12 months earlier, like with like: payables only when reported in both.
_LTP_BOTH = "long_term_payables IS NOT NULL AND ago_long_term_payables IS NOT NULL"
_LTD_NOW = f"(long_term_loans + CASE WHEN {_LTP_BOTH} THEN long_term_payables ELSE 0 END)"
_LTD_AGO = f"(ago_long_term_loans + CASE WHEN {_LTP_BOTH} THEN ago_long_term_payables ELSE 0 END)"

# Metric name → SQL over the columns of the ``seq`` CTE below.
METRICS: dict[str, str] = {
    "surplus_rate_12m": (f"CASE WHEN {_TWELVE} THEN coalesce((revenue_12m - expense_12m) / NULLIF(revenue_12m, 0), "
                         "CASE WHEN expense_12m > revenue_12m THEN -1 END) END"),
    "deficit_streak": ("CASE WHEN month_deficit THEN count(*) OVER (PARTITION BY hospital_code, month_deficit, "
                       "deficit_run ORDER BY period) ELSE 0 END"),
    "medical_surplus_12m": f"CASE WHEN {_TWELVE} THEN med_rev_12m - med_exp_12m END",
    "debt_ratio": _ratio("debt_ratio"),
    "net_assets": "total_assets - total_liabilities",
    "long_term_debt_ratio": _ratio("long_term_debt_ratio"),
    "long_term_debt_growth": f"CASE WHEN has_ago THEN {_LTD_NOW} / NULLIF({_LTD_AGO}, 0) - 1 END",
    # A first loan (none 12 months earlier) is a drawdown without a growth rate: its amount.
    "long_term_debt_new": f"CASE WHEN has_ago AND {_LTD_AGO} = 0 THEN {_LTD_NOW} END",
    "salary_arrears": "salary_arrears",
    "construction_debt_change_12m": "CASE WHEN has_ago THEN construction_debt - ago_construction_debt END",
    "current_ratio": _ratio("current_ratio"),
    "cash_months": _ratio("cash_months"),
    "insurance_receivable_days": (f"CASE WHEN {_TWELVE} THEN insurance_receivable / "
                                  "NULLIF(medical_revenue_12m / 365.0, 0) END"),
    "supplier_payable_days": (f"CASE WHEN {_TWELVE} AND supply_months_12m = 12 THEN supplier_payable / "
                              "NULLIF(supply_expense_12m / 365.0, 0) END"),
}
# Metric name → the values that make it up, for the firing's detail (SQL over ``metrics``).
INPUTS: dict[str, dict[str, str]] = {
    "surplus_rate_12m": {"revenue_12m": "revenue_12m", "expense_12m": "expense_12m"},
    "medical_surplus_12m": {"medical_activity_revenue_12m": "med_rev_12m",
                            "medical_activity_expense_12m": "med_exp_12m",
                            "approx": "med_official_12m < 12", "approx_months": "12 - med_official_12m"},
    "debt_ratio": {"total_liabilities": "total_liabilities", "total_assets": "total_assets"},
    "net_assets": {"total_liabilities": "total_liabilities", "total_assets": "total_assets"},
    "long_term_debt_ratio": {"long_term_debt": _part("long_term_debt_ratio", "numerator"),
                             "total_assets": _part("long_term_debt_ratio", "denominator")},
    "long_term_debt_growth": {"long_term_debt": _LTD_NOW, "long_term_debt_12m_ago": _LTD_AGO},
    "long_term_debt_new": {"long_term_debt": _LTD_NOW, "long_term_debt_12m_ago": _LTD_AGO},
    "construction_debt_change_12m": {"construction_debt": "construction_debt",
                                     "construction_debt_12m_ago": "ago_construction_debt"},
    "current_ratio": {"current_assets": "current_assets", "current_liabilities": "current_liabilities"},
    "cash_months": {"numerator": _part("cash_months", "numerator"),
                    "denominator": _part("cash_months", "denominator")},
    "insurance_receivable_days": {"insurance_receivable": "insurance_receivable",
                                  "medical_revenue_12m": "medical_revenue_12m"},
    "supplier_payable_days": {"supplier_payable": "supplier_payable",
                              "drug_consumables_expense_12m": "supply_expense_12m"},
}
# Conditions computed elsewhere than METRICS: report_missing's (the roster of due months) and
# cash_forecast's (Python).
FORECAST_METRIC = "cash_months_forecast"
_CONDITIONS = [(r, i, c) for r in RULES for i, c in enumerate(r.conditions)]
_MONTH_CONDITIONS = [(r, i, c) for r, i, c in _CONDITIONS if c.metric in METRICS]
_unknown = {c.metric for _, _, c in _CONDITIONS} - set(METRICS) - {"late", FORECAST_METRIC}
if _unknown:
    raise RuntimeError(f"risk rules read metrics nobody computes: {sorted(_unknown)}")

_POINT_COLUMNS = tuple(dict.fromkeys((*catalogue.STOCK_FIELDS, *catalogue.POINT_EXTRAS)))


def _fired_sql(severity: dict[tuple[str, str], str], thresholds: list[tuple], only_changed: bool = False) -> str:
    """Every firing with its level and detail, and the hospital's previous and next assessed month
    for the episode logic.

    *severity* maps (rule id, metric) to an SQL expression over ``{metric}`` giving 1–3 or NULL;
    *thresholds* lists (rule, metric, severity, threshold, op) in force; *only_changed* limits
    it to the hospitals in the bound array ``:changed``. Reads the temporary table
    ``risk_forecast`` (cash_forecast's firings).
    """
    def only(col: str) -> str:
        return aggregate.ONLY_CHANGED.format(col=col) if only_changed else ""

    points = ", ".join(f"p.{c}" for c in _POINT_COLUMNS)
    metric_cols = ",\n           ".join(f"CAST({sql} AS numeric) AS m_{name}" for name, sql in METRICS.items())
    conditions = ",\n        ".join(
        f"('{r.id}', '{c.metric}', {i}, metrics.m_{c.metric}, "
        f"{severity[(r.id, c.metric)].format(metric=f'metrics.m_{c.metric}')})" for r, i, c in _MONTH_CONDITIONS)
    late = severity[("report_missing", "late")].format(metric="late")
    official = "m.medical_activity_revenue IS NOT NULL AND m.medical_activity_expense IS NOT NULL"
    # The threshold passed, per rule, condition and severity: a CASE rather than a join (a join
    # on a VALUES list is estimated at one row, and the join back to the metrics then loops).
    threshold = " ".join(f"WHEN '{rule}/{metric}/{sev}' THEN CAST('{value}' AS numeric)"
                         for rule, metric, sev, value, _ in thresholds) or "WHEN NULL THEN NULL"
    ops = " ".join(f"WHEN '{r.id}/{c.metric}' THEN '{c.op}'" for r, _, c in _CONDITIONS)
    windows = " ".join(f"WHEN '{r.id}/{c.metric}' THEN '{c.window}'" for r, _, c in _CONDITIONS)
    def pairs(cols: dict[str, str]) -> str:
        return ", ".join(f"'{k}', {catalogue.qualify(v, lambda c: f'm.{c}')}" for k, v in cols.items())

    inputs = " ".join(f"WHEN '{name}' THEN jsonb_build_object({pairs(cols)})" for name, cols in INPUTS.items())
    escalated_by, escalated_to = ["CASE"], ["CASE"]
    for rule in RULES:
        for level, other in sorted(rule.escalations, key=lambda e: -SEVERITY[e[0]]):
            when = f"WHEN rule = '{rule.id}' AND severity < {SEVERITY[level]} AND bool_or(rule = '{other}') OVER hp"
            escalated_by.append(f"{when} THEN '{other}'")
            escalated_to.append(f"{when} THEN {SEVERITY[level]}")
    escalated_by.append("ELSE CAST(NULL AS text) END")
    escalated_to.append("ELSE severity END")
    levels = " ".join(f"WHEN {SEVERITY[lv]} THEN '{lv}'" for lv in LEVELS)
    # Streaks: within a run of consecutive months the month index minus the row number
    # over the flagged rows is constant; a gap or an unflagged month starts a new run.
    return f"""
WITH base AS (
    SELECT p.hospital_code, p.period, {points},
           y.n_months AS n_12m, y.total_revenue AS revenue_12m, y.total_expense AS expense_12m,
           y.medical_revenue AS medical_revenue_12m,
           m.total_revenue < m.total_expense AS month_deficit,
           CASE WHEN {official} THEN m.medical_activity_revenue
                ELSE m.medical_revenue + m.fiscal_subsidy_revenue END AS med_rev,
           CASE WHEN {official} THEN m.medical_activity_expense
                ELSE m.business_expense + m.admin_expense END AS med_exp,
           CAST({official} AS int) AS med_official,
           m.drug_expense + m.consumables_expense AS supply_expense,
           CAST(extract(year FROM p.period) * 12 + extract(month FROM p.period) AS int) AS idx,
           lag(p.period) OVER w AS prev_assessed, lead(p.period) OVER w AS next_assessed,
           a.hospital_code IS NOT NULL AS has_ago, a.long_term_loans AS ago_long_term_loans,
           a.long_term_payables AS ago_long_term_payables, a.construction_debt AS ago_construction_debt
    FROM ind_month p
    JOIN ind_span m ON m.hospital_code = p.hospital_code AND m.period = p.period AND m.span = 'month'
    LEFT JOIN ind_span y ON y.hospital_code = p.hospital_code AND y.period = p.period AND y.span = 'year'
    LEFT JOIN ind_month a ON a.hospital_code = p.hospital_code AND a.reported = 1
                         AND a.period = CAST(p.period - interval '12 months' AS date)
    WHERE p.reported = 1 {only('p.hospital_code')}
    WINDOW w AS (PARTITION BY p.hospital_code ORDER BY p.period)
), seq AS (
    SELECT base.*,
           idx - row_number() OVER (PARTITION BY hospital_code, month_deficit ORDER BY period) AS deficit_run,
           sum(med_rev) OVER w12 AS med_rev_12m, sum(med_exp) OVER w12 AS med_exp_12m,
           sum(med_official) OVER w12 AS med_official_12m,
           sum(supply_expense) OVER w12 AS supply_expense_12m, count(supply_expense) OVER w12 AS supply_months_12m
    FROM base
    WINDOW w12 AS (PARTITION BY hospital_code ORDER BY period
                   RANGE BETWEEN interval '11 months' PRECEDING AND CURRENT ROW)
), metrics AS (  -- the metric columns are prefixed: salary_arrears is a field and a metric
    SELECT seq.*,
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
), fired AS (
    SELECT metrics.hospital_code, metrics.period, metrics.prev_assessed, metrics.next_assessed,
           x.rule, x.cond, x.ord, x.metric, x.severity, CAST(NULL AS jsonb) AS extra
    FROM metrics CROSS JOIN LATERAL (VALUES
        {conditions}
    ) x(rule, cond, ord, metric, severity)
    WHERE x.severity IS NOT NULL
    UNION ALL
    SELECT f.hospital_code, f.period, metrics.prev_assessed, metrics.next_assessed,
           'cash_forecast', '{FORECAST_METRIC}', 0, f.metric, f.severity, f.extra
    FROM risk_forecast f
    JOIN metrics ON metrics.hospital_code = f.hospital_code AND metrics.period = f.period
    UNION ALL
    SELECT hospital_code, period, prev_assessed, next_assessed, 'report_missing', 'late', 0, late, {late}, NULL
    FROM missing WHERE {late} IS NOT NULL
), best AS (  -- the most severe condition of each rule (ties: the first)
    SELECT DISTINCT ON (hospital_code, period, rule) *
    FROM fired ORDER BY hospital_code, period, rule, severity DESC, ord
), escalated AS (
    SELECT best.*, {' '.join(escalated_by)} AS escalated_by, {' '.join(escalated_to)} AS final_severity
    FROM best WINDOW hp AS (PARTITION BY hospital_code, period)
)
SELECT e.hospital_code, e.period, e.prev_assessed, e.next_assessed, e.rule, e.metric, e.final_severity AS severity,
       jsonb_strip_nulls(
           jsonb_build_object('metric', e.cond, 'value', e.metric,
                              'op', CASE e.rule || '/' || e.cond {ops} END,
                              'threshold', CASE e.rule || '/' || e.cond || '/' || e.severity {threshold} END,
                              'window', CASE e.rule || '/' || e.cond {windows} END, 'escalated_by', e.escalated_by,
                              'condition_level', CASE WHEN e.escalated_by IS NOT NULL
                                                      THEN CASE e.severity {levels} END END)
           || coalesce(CASE e.cond {inputs} END, '{{}}')
           || coalesce(e.extra, '{{}}')) AS detail
FROM escalated e
LEFT JOIN metrics m ON m.hospital_code = e.hospital_code AND m.period = e.period
"""


def _thresholds_sql() -> str:
    """The thresholds in force: rule, metric, op, level, severity, threshold.

    The rules' defaults, overridden per (rule, metric, level) by ``risk_thresholds`` (a row
    without a metric names the rule's first condition); a row for an unknown rule or metric
    is ignored.
    """
    conds = ", ".join(f"('{r.id}', '{c.metric}', '{OP_SQL[c.op]}')" for r, _, c in _CONDITIONS)
    primary = ", ".join(f"('{r.id}', '{r.metric}')" for r in RULES)
    defaults = ", ".join(f"('{r.id}', '{c.metric}', '{level}', CAST('{value}' AS numeric))"
                         for r, _, c in _CONDITIONS for level, value in c.levels)
    levels = ", ".join(f"('{level}', {severity})" for level, severity in SEVERITY.items())
    return f"""
SELECT t.rule, t.metric, c.op, t.level, l.severity, t.threshold
FROM (
    SELECT coalesce(d.rule, o.rule) AS rule, coalesce(d.metric, o.metric) AS metric,
           coalesce(d.level, o.level) AS level, coalesce(o.threshold, d.threshold) AS threshold,
           coalesce(o.enabled, true) AS enabled
    FROM (VALUES {defaults}) d(rule, metric, level, threshold)
    FULL JOIN (SELECT o.rule, coalesce(o.metric, p.metric) AS metric, o.level, o.threshold, o.enabled
               FROM risk_thresholds o LEFT JOIN (VALUES {primary}) p(rule, metric) ON p.rule = o.rule) o
      ON o.rule = d.rule AND o.metric = d.metric AND o.level = d.level
) t
JOIN (VALUES {conds}) c(rule, metric, op) ON c.rule = t.rule AND c.metric = t.metric
JOIN (VALUES {levels}) l(level, severity) ON l.level = t.level
WHERE t.enabled
ORDER BY t.rule, t.metric, l.severity
"""


def _severity_sql(rows: list[sa.Row]) -> dict[tuple[str, str], str]:
    """(rule id, metric) → SQL over ``{metric}``: the most severe level whose threshold it passes (NULL if none).

    The thresholds in force (numbers read from the database) are written into the
    statement as numeric literals: a per-row CASE, no join.
    """
    out: dict[tuple[str, str], list[str]] = {(r.id, c.metric): [] for r, _, c in _CONDITIONS}
    for row in rows:
        out[(row.rule, row.metric)].append(f"CASE WHEN {{metric}} {row.op} CAST('{row.threshold}' AS numeric) "
                                           f"THEN {int(row.severity)} END")
    return {key: f"greatest({', '.join(cases)})" if cases else "CAST(NULL AS int)" for key, cases in out.items()}


def _limits(rows: list[sa.Row]) -> list[tuple]:
    """(rule, metric, severity, threshold, op) of the thresholds in force, for the firings' details."""
    ops = {v: k for k, v in OP_SQL.items()}
    return [(row.rule, row.metric, int(row.severity), row.threshold, ops[row.op]) for row in rows]


_SEVERITY = "CASE {} WHEN 1 THEN 'yellow' WHEN 2 THEN 'orange' WHEN 3 THEN 'red' END"

# cash_forecast's input: every reported month's cash_months (one read for all hospitals).
_FORECAST_SERIES = (f"SELECT hospital_code, period, CAST({METRICS['cash_months']} AS float8) AS cash_months "
                    "FROM ind_month WHERE reported = 1 {only} ORDER BY hospital_code, period")
# … and its output, written back in one statement.
_FORECAST_TABLE = build.temp_table("risk_forecast", """
SELECT CAST(x.hospital_code AS char(18)) AS hospital_code, x.period, x.severity, x.metric, x.extra
FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS x(hospital_code text, period date, severity int, metric numeric,
                                                   extra jsonb)""")


def _refresh_statements(severity: dict[tuple[str, str], str], thresholds: list[tuple],
                        only_changed: bool = False) -> tuple[str, ...]:
    """The statements that rebuild the firings and merge the episodes into the register.

    Run after ``risk_forecast`` holds cash_forecast's firings. With *only_changed*, for the
    hospitals in ``:changed`` only (the others' rows stand).
    """
    mine = aggregate.ONLY_CHANGED.format(col="{t}.hospital_code") if only_changed else ""
    return (
        build.temp_table("risk_fired", _fired_sql(severity, thresholds, only_changed)),
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
        f"""UPDATE risk_firings f SET level = {_SEVERITY.format('x.severity')}, metric = x.metric, detail = x.detail
FROM risk_fired x
WHERE x.hospital_code = f.hospital_code AND x.rule = f.rule AND x.period = f.period
  AND (f.level, f.metric, f.detail) IS DISTINCT FROM ({_SEVERITY.format('x.severity')}, x.metric, x.detail)""",
        # New rows are found first, then inserted: an anti-join against the table being filled
        # is planned as a nested loop over its (analysed as empty) rows on a first build —
        # each row then scans every row the statement has added so far (quadratic: minutes
        # for the national register, where this takes seconds).
        build.temp_table("risk_fired_new", f"""
SELECT hospital_code, period, rule, {_SEVERITY.format('severity')} AS level, metric, detail FROM risk_fired x
WHERE NOT EXISTS (SELECT 1 FROM risk_firings f
                  WHERE x.hospital_code = f.hospital_code AND x.rule = f.rule AND x.period = f.period)"""),
        "INSERT INTO risk_firings (hospital_code, period, rule, level, metric, detail) SELECT * FROM risk_fired_new",
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
       (array_agg(next_assessed ORDER BY period DESC))[1] AS resolved_period,
       (array_agg(detail ORDER BY period DESC))[1] AS detail
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
    metric = e.metric, months_firing = e.months_firing, resolved_period = e.resolved_period, detail = e.detail,
    updated_at = now()
FROM risk_episodes e
WHERE e.hospital_code = r.hospital_code AND e.rule = r.rule AND e.first_period = r.first_period
  AND (r.last_period, r.level, r.max_level, r.metric, r.months_firing, r.resolved_period, r.detail)
      IS DISTINCT FROM (e.last_period, e.level, e.max_level, e.metric, e.months_firing, e.resolved_period,
                        e.detail)""",
        build.temp_table("risk_episodes_new", """
SELECT e.hospital_code, e.rule, e.first_period, e.last_period, e.level, e.max_level, e.metric,
       e.months_firing, e.resolved_period, e.detail
FROM risk_episodes e
WHERE NOT EXISTS (SELECT 1 FROM risk_register r WHERE r.hospital_code = e.hospital_code AND r.rule = e.rule
                  AND r.first_period = e.first_period)"""),
        """INSERT INTO risk_register (hospital_code, rule, first_period, last_period, level, max_level, metric,
                           months_firing, resolved_period, detail)
SELECT * FROM risk_episodes_new""",
    )


def _fingerprint() -> str:
    none = {(r.id, c.metric): "NULL" for r, _, c in _CONDITIONS}
    forecast = (cash_forecast.HISTORY_MONTHS, cash_forecast.HORIZON_MONTHS, cash_forecast.MAX_P_VALUE,
                cash_forecast.MIN_R2)
    return hashlib.sha256("\n".join(
        _refresh_statements(none, []) + _refresh_statements(none, [], True)
        + (_thresholds_sql(), _FORECAST_SERIES, _FORECAST_TABLE, repr(forecast))).encode()).hexdigest()[:12]


# Part of the source key: a change to the SQL (or the forecast's bounds) rebuilds the register on the next refresh.
SQL_FINGERPRINT = _fingerprint()


def _as_of(as_of: datetime | None) -> datetime:
    return as_of or periods.now()


def source_key(conn: sa.Connection, as_of: datetime) -> str:
    """The aggregates' build key + thresholds + the last month whose due date has passed at *as_of*.

    The key the aggregates were *built* from, not the data version now: the register reads
    ``ind_month``, so data that arrive between the aggregates' refresh and the register's must
    not be stamped as read — the next aggregates build changes this key and rebuilds the register.
    """
    overrides = conn.execute(sa.text(
        "SELECT md5(coalesce(string_agg(rule || '/' || coalesce(metric, '') || '/' || level || '/' "
        "|| coalesce(CAST(threshold AS text), '') || enabled, ',' ORDER BY rule, metric, level), '')) "
        "FROM risk_thresholds")).scalar_one()
    last_due = conn.execute(sa.text(
        f"SELECT max(cal.period) FROM ({aggregate.CALENDAR_SQL}) cal "
        f"WHERE {aggregate.DUE_SQL.format(p='cal.period')} <= CAST(:as_of AS timestamptz)"
    ), {**aggregate.due_settings(conn), "as_of": as_of}).scalar()
    return f"{aggregate.stored_key(conn, 'aggregates')}|{overrides}|{last_due}|{SQL_FINGERPRINT}"


def _write_forecast(conn: sa.Connection, rows: list[sa.Row], changed: list[str] | None) -> None:
    """cash_forecast's firings into the temporary table ``risk_forecast``: one read, one write."""
    thresholds = [(int(r.severity), float(r.threshold)) for r in rows
                  if r.rule == "cash_forecast" and r.metric == FORECAST_METRIC]
    only = aggregate.ONLY_CHANGED.format(col="hospital_code") if changed is not None else ""
    series = pd.read_sql_query(sa.text(_FORECAST_SERIES.format(only=only)), conn,
                               params={"changed": changed} if changed is not None else None)
    fired = cash_forecast.forecast(series, thresholds)
    records = [{"hospital_code": r.hospital_code, "period": periods.to_date(r.period).isoformat(),
                "severity": int(r.severity), "metric": r.metric, "extra": r.extra} for r in fired.itertuples()]
    conn.execute(sa.text(_FORECAST_TABLE), {"rows": json.dumps(records)})


def refresh_register(engine: Engine, *, as_of: datetime | None = None, force: bool = False) -> bool:
    """Bring ``risk_firings`` and ``risk_register`` up to date; return whether anything was recomputed.

    Refreshes the aggregates first. Cheap when neither the data, the thresholds,
    the due settings nor the last month due (at *as_of*, default :func:`opsmon.periods.now`)
    changed; when only some hospitals' values changed, only their firings and episodes are
    recomputed.
    """
    aggregate.refresh(engine)
    as_of = _as_of(as_of)
    with engine.connect() as conn:
        if not force and aggregate.stored_key(conn, "risk_register") == source_key(conn, as_of):
            return False
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": aggregate.LOCK_KEY})
        key = source_key(conn, as_of)
        stored = aggregate.stored_state(conn, "risk_register")
        if not force and stored.source_key == key:
            return False
        aggregate.build_settings(conn)
        # What the aggregates read is what this build reads: their watermark and basis, not now's.
        built = aggregate.stored_state(conn, "aggregates")
        mark, now_basis = built.watermark, built.basis
        changed = None if force else aggregate.incremental_set(conn, key, stored, now_basis)
        params = {**aggregate.due_settings(conn), "as_of": as_of, "changed": changed or []}
        rows = conn.execute(sa.text(_thresholds_sql())).all()
        _write_forecast(conn, rows, changed)
        for statement in _refresh_statements(_severity_sql(rows), _limits(rows), only_changed=changed is not None):
            conn.execute(sa.text(statement), params)
        aggregate.record_key(conn, "risk_register", key, time.perf_counter() - started, mark, now_basis)
    return True


_EPISODE_COLUMNS = ("e.episode_id, e.hospital_code, h.name, CAST(h.adcode AS text) AS adcode, e.rule, "
                    "to_char(e.first_period, 'YYYY-MM') AS first_period, to_char(e.last_period, 'YYYY-MM') AS "
                    "last_period, to_char(e.resolved_period, 'YYYY-MM') AS resolved_period, e.months_firing")


def changes(engine: Engine, period: str, *, region: str | None = None, scope: str | None = None,
            filters: dict | None = None, hospital: str | None = None, detail_as_text: bool = False) -> pd.DataFrame:
    """What is new, persisting and resolved in *period* ('YYYY-MM') for the open hospitals in view.

    ``new``: an episode whose first month is *period*; ``persisting``: one that
    started earlier and was not resolved by *period* (also when the hospital was
    not assessed in *period*); ``resolved``: one whose resolving month is *period*.
    Columns: status, episode_id, hospital_code, name, adcode, rule, level (the
    level at *period*, or at the last firing before it), metric and detail (a dict:
    the triggering values and the threshold, :func:`risk_rules.explain`) likewise,
    first_period, last_period, resolved_period, months_firing — all as of *period*:
    what came later (more firing months, a resolution) is not shown in an earlier month.
    Reads the register as last refreshed (:func:`refresh_register`, the write side's job).
    *detail_as_text*: detail as its JSON text, for a caller that decodes only the rows it shows
    (decoding every detail of the national register costs about a quarter of a second).
    """
    where, params = restrict.hospitals("h", region=region, scope=scope, filters=filters, hospital=hospital)
    sql = sa.text(f"{_as_of_sql(where, detail_as_text)}\nORDER BY 1, adcode, hospital_code, rule")
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn, params={**params, "p": periods.to_date(period)})


def _as_of_sql(where: str, detail_as_text: bool = False) -> str:
    """The episodes in view at ``:p`` (hospitals passing *where* on alias ``h``), as :func:`changes` describes."""
    detail = "coalesce(f.detail, e.detail)"
    return f"""
SELECT CASE WHEN e.first_period = :p THEN 'new' WHEN e.resolved_period = :p THEN 'resolved'
            ELSE 'persisting' END AS status,
       e.episode_id, e.hospital_code, h.name, CAST(h.adcode AS text) AS adcode, e.rule,
       to_char(e.first_period, 'YYYY-MM') AS first_period, to_char(coalesce(f.period, e.last_period), 'YYYY-MM')
       AS last_period,
       to_char(CASE WHEN e.resolved_period <= :p THEN e.resolved_period END, 'YYYY-MM') AS resolved_period,
       coalesce(f.months_firing, e.months_firing) AS months_firing, coalesce(f.level, e.level) AS level,
       CAST(coalesce(f.metric, e.metric) AS float8) AS metric,
       {f"CAST({detail} AS text)" if detail_as_text else detail} AS detail
FROM risk_register e
JOIN hospitals h ON h.hospital_code = e.hospital_code
-- An episode whose last firing is at or before the month is what the register holds; only one that
-- went on firing after it is read back to the month, from its firings (skipped for the others:
-- the condition on e alone makes the subquery a one-time filter).
LEFT JOIN LATERAL (SELECT period, level, metric, detail, CAST(count(*) OVER () AS int) AS months_firing
                   FROM risk_firings x
                   WHERE e.last_period > :p AND x.hospital_code = e.hospital_code AND x.rule = e.rule
                     AND x.period BETWEEN e.first_period AND :p
                   ORDER BY x.period DESC LIMIT 1) f ON true
WHERE e.first_period <= :p AND (e.resolved_period IS NULL OR e.resolved_period >= :p)
  AND {restrict.open_at('h', ':p')} AND {where}"""


@dataclass(frozen=True)
class Tally:
    """How many episodes of some levels are open (new or persisting) in a month, at how many hospitals, how many new."""

    open: int
    hospitals: int
    new: int


def tally(engine: Engine, period: str, *, levels: Sequence[str] = ("red", "orange"), region: str | None = None,
          scope: str | None = None) -> Tally:
    """:func:`changes`' episodes of *levels* in *period*, counted in the database (the overview's card)."""
    where, params = restrict.hospitals("h", region=region, scope=scope)
    sql = sa.text(f"""
SELECT CAST(count(*) FILTER (WHERE c.status <> 'resolved') AS int),
       CAST(count(DISTINCT c.hospital_code) FILTER (WHERE c.status <> 'resolved') AS int),
       CAST(count(*) FILTER (WHERE c.status = 'new') AS int)
FROM ({_as_of_sql(where)}) c
WHERE c.level = ANY(CAST(:levels AS text[]))""")
    with engine.connect() as conn:
        row = conn.execute(sql, {**params, "p": periods.to_date(period), "levels": list(levels)}).one()
    return Tally(*row)


def register(engine: Engine, *, region: str | None = None, scope: str | None = None, hospital: str | None = None,
             open_only: bool = False) -> pd.DataFrame:
    """Register episodes in view, newest first: the columns of :func:`changes` without status,
    with the current ``level``, ``max_level``, ``metric`` and ``detail`` (as last refreshed)."""
    where, params = restrict.hospitals("h", region=region, scope=scope, hospital=hospital)
    sql = sa.text(f"""
SELECT {_EPISODE_COLUMNS}, e.level, e.max_level, CAST(e.metric AS float8) AS metric, e.detail
FROM risk_register e JOIN hospitals h ON h.hospital_code = e.hospital_code
WHERE {where} {"AND e.resolved_period IS NULL" if open_only else ""}
ORDER BY e.first_period DESC, h.adcode, e.hospital_code, e.rule""")
    with engine.connect() as conn:
        return pd.read_sql_query(sql, conn, params=params)


# ── opsmon risks list ────────────────────────────────────────────────────────────────────────────

def latest_closed_period(engine: Engine, now: datetime | None = None) -> str:
    """The latest closed month at *now* ('YYYY-MM'): the month before the one being collected.

    The collecting month is the next month whose due date (settings ``due_day`` of the
    following month, local time in settings ``timezone``) is still ahead; see
    :func:`opsmon.periods.reporting_months`. *now* defaults to :func:`opsmon.periods.now`.
    """
    return periods.reporting_months(engine, now)[1]


def risks_frame(engine: Engine, period: str | None = None, *, region: str | None = None,
                hospital: str | None = None, level: str | None = None, scope: str | None = None,
                now: datetime | None = None, detail_as_text: bool = False) -> tuple[str, pd.DataFrame]:
    """The register as of *period* (default: the latest closed month at *now*): (period, rows).

    Rows: :func:`changes` — the episodes new, persisting or resolved in *period* for the open
    hospitals in *scope*, *region* and *hospital* — at *level* when given, ordered by status,
    level (most severe first), region, hospital and rule. ``ValueError`` for an unknown level
    or a malformed period. *detail_as_text*: as :func:`changes`.
    """
    if level is not None and level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    now = _as_of(now)
    if now.tzinfo is None:  # a naive time is the reporting calendar's local time
        now = now.replace(tzinfo=periods.configured_tz(engine))
    period = periods.to_period(periods.to_date(period)) if period else latest_closed_period(engine, now)
    frame = changes(engine, period, region=region, scope=scope, hospital=hospital, detail_as_text=detail_as_text)
    if level is not None:
        frame = frame[frame["level"] == level]
    order = frame.assign(_status=frame["status"].map({s: i for i, s in enumerate(STATUSES)}),
                         _severity=-frame["level"].map(SEVERITY).fillna(0))
    order = order.sort_values(["_status", "_severity", "adcode", "hospital_code", "rule"])
    return period, order.drop(columns=["_status", "_severity"]).reset_index(drop=True)


def risks_document(period: str, frame: pd.DataFrame) -> dict:
    """The spec's JSON document of :func:`risks_frame`'s rows.

    ``{"period": "YYYY-MM", "risks": [{hospital_code, hospital_name, adcode, rule, level, value,
    first_period, last_period, status}]}``, with ``projected_period`` for cash_forecast; *value*
    is the triggering value at the period (a fraction for ratios).
    """
    risks = []
    for row in frame.itertuples(index=False):
        item = {"hospital_code": row.hospital_code.strip(), "hospital_name": row.name, "adcode": row.adcode,
                "rule": row.rule, "level": row.level, "value": None if pd.isna(row.metric) else float(row.metric),
                "first_period": row.first_period, "last_period": row.last_period, "status": row.status}
        if row.rule == "cash_forecast":
            item["projected_period"] = (row.detail or {}).get("projected_period")
        risks.append(item)
    return {"period": period, "risks": risks}


def risks_table(frame: pd.DataFrame, language: str = "zh") -> pd.DataFrame:
    """:func:`risks_frame`'s rows for people: the value with its unit and the sentence explaining it."""
    rows = []
    for row in frame.itertuples(index=False):
        detail = row.detail if isinstance(row.detail, dict) else None
        rule = BY_ID[row.rule]
        unit = rule.condition(detail.get("metric")).unit if detail and detail.get("metric") else rule.unit
        rows.append({"status": row.status, "level": row.level, "rule": row.rule,
                     "hospital_code": row.hospital_code.strip(), "hospital_name": row.name,
                     "value": format_value(None if pd.isna(row.metric) else row.metric, unit, language),
                     "first_period": row.first_period, "last_period": row.last_period,
                     "explanation": explain(row.rule, row.level, detail, language)})
    return pd.DataFrame(rows, columns=["status", "level", "rule", "hospital_code", "hospital_name", "value",
                                       "first_period", "last_period", "explanation"])
