"""Pre-summed region rows: every catalogue indicator's sums per region, month and span.

A region's value is the ratio of its hospitals' summed numerators and
denominators (:mod:`opsmon.indicators.query`). Summing 12 000 hospitals at query
time costs seconds nationally, so the refresh (:mod:`opsmon.indicators.aggregate`)
also keeps ``ind_region``: per region (every level, the nation included), month,
span and catalogue indicator, the sums of the per-hospital values of
:mod:`opsmon.indicators.hospital_values` over the hospitals open that month below
the region, with how many of each sum's terms were not NULL (a sum of no terms
reads as NULL, as ``sum()`` does), how many hospitals report, how many are
expected and how many contribute a 近似 value (``n_approx``: the region's value
is 近似 when it is not 0). The query reads these rows whenever it can — region
levels, catalogue entries, no hospital filters (a scope or region only selects
which region rows are returned; their sums are the same) — and sums hospitals
otherwise.

Indicators whose value does not depend on the span (stocks, programme status,
rosters) are kept once, under span ``'*'``; an indicator with a fixed span under
that span. An incremental refresh adds the changed hospitals' new values and
subtracts their old ones (exact: the sums are ``numeric``), so it touches only
their ancestors' rows. The table's DDL is in :mod:`opsmon.indicators.build`.
"""

from __future__ import annotations

from opsmon.indicators import build, catalogue, hospital_values
from opsmon.indicators.catalogue import Indicator
from opsmon.periods import SPANS

ANY_SPAN = "*"
COLUMNS = ("adcode", "period", "span", "indicator", "num", "den", "pnum", "pden",
           "n_num", "n_den", "n_pnum", "n_pden", "reporting", "expected", "n_approx")
_SUMS = ("num", "den", "pnum", "pden")
_COUNTS = tuple(f"n_{c}" for c in _SUMS) + ("reporting", "expected", "n_approx")


def stored_span(ind: Indicator, span: str) -> str:
    """The ``span`` under which *ind*'s rows for the asked-for *span* are kept."""
    return hospital_values.span_of(ind, span) or ANY_SPAN


def _groups() -> list[tuple[str, list[Indicator]]]:
    """(span to render with, the catalogue entries whose rows that span builds): each row built once."""
    groups = []
    for span in SPANS:
        entries = [ind for ind in catalogue.CATALOGUE
                   if stored_span(ind, span) == span or (span == SPANS[0] and stored_span(ind, span) == ANY_SPAN)]
        groups.append((span, entries))
    return groups


def _select(span: str, entries: list[Indicator], calendar_sql: str, hospital_where: str,
            month_table: str, span_table: str) -> str:
    """The region sums of *entries* rendered for *span*, over every month of the calendar."""
    renderer = hospital_values.Renderer(span)
    aggregates, columns, unpivot = [], [], []
    for ix, ind in enumerate(entries):
        in_pop, _, rep, *values, approx = renderer.parts(ind)
        where = f"FILTER (WHERE {in_pop})"
        row = []
        for c, v in zip(_SUMS, values):
            if v == hospital_values.NO_VALUE:  # no denominator, no year-earlier pair: nothing to sum
                row.append("CAST(NULL AS numeric), 0")
                continue
            aggregates += [f"sum({v}) {where} AS {c}_{ix}", f"CAST(count({v}) {where} AS int) AS n_{c}_{ix}"]
            columns += [f"{c}_{ix}", f"n_{c}_{ix}"]
            row.append(f"w.{c}_{ix}, w.n_{c}_{ix}")
        aggregates += [f"CAST(count(*) FILTER (WHERE {in_pop} AND {rep}) AS int) AS reporting_{ix}",
                       f"CAST(count(*) {where} AS int) AS expected_{ix}"]
        columns += [f"reporting_{ix}", f"expected_{ix}"]
        if approx != "0":  # an entry without an approximation is never 近似: nothing to count
            aggregates.append(f"CAST(coalesce(sum({approx}) {where}, 0) AS int) AS n_approx_{ix}")
            columns.append(f"n_approx_{ix}")
        unpivot.append(f"('{ind.id}', '{stored_span(ind, span)}', {', '.join(row)}, "
                       f"w.reporting_{ix}, w.expected_{ix}, {f'w.n_approx_{ix}' if approx != '0' else '0'})")
    sums = ",\n           ".join(aggregates)
    rolled = ", ".join(f"sum(c.{col}) AS {col}" for col in columns)
    # Wide rows (one per county and month, every indicator's sums as columns) are summed in
    # one pass over the hospital-months and rolled up the tree while still wide: row counts
    # stay those of regions × months, not × indicators, until the last step.
    return f"""
WITH per AS ({calendar_sql}),
{hospital_values.pop_cte(hospital_where)},
c AS (
    SELECT pop.adcode, pop.period,
           {sums}
    {hospital_values.joined(renderer, month_table, span_table)}
    GROUP BY pop.adcode, pop.period
),
w AS (
    SELECT a.ancestor_adcode AS adcode, c.period, {rolled}
    FROM c JOIN region_ancestors a ON a.adcode = c.adcode
    GROUP BY a.ancestor_adcode, c.period
)
SELECT w.adcode, w.period, CAST(v.span AS text) AS span, CAST(v.indicator AS text) AS indicator,
       {", ".join(f"v.{s}" for s in _SUMS)}, {", ".join(f"CAST(v.{n} AS int) AS {n}" for n in _COUNTS)}
FROM w CROSS JOIN LATERAL (VALUES {", ".join(unpivot)})
     v(indicator, span, {", ".join(f"{c}, n_{c}" for c in _SUMS)}, reporting, expected, n_approx)
WHERE v.expected > 0"""


def selects(calendar_sql: str, month_table: str, span_table: str) -> list[str]:
    """The queries whose rows together fill ``ind_region`` from *month_table* / *span_table* (a full build)."""
    return [_select(span, entries, calendar_sql, "true", month_table, span_table) for span, entries in _groups()]


def delta_statements(calendar_sql: str, sign: int) -> list[str]:
    """Statements adding *sign* × the changed hospitals' (``:changed``) sums to ``ind_region_delta``.

    Run with ``sign=-1`` before their aggregate rows are replaced and ``+1`` after;
    :func:`merge_statement` then applies the difference to ``ind_region``.
    """
    changed = build.CHANGED.format(col="h.hospital_code")
    statements = []
    for span, entries in _groups():
        select = _select(span, entries, calendar_sql, changed, build.MONTH.name, build.SPAN.name)
        signed = ", ".join(f"{sign} * s.{c}" if c in _SUMS + _COUNTS else f"s.{c}" for c in COLUMNS)
        statements.append(f"INSERT INTO {build.REGION.delta} ({', '.join(COLUMNS)}) "
                          f"SELECT {signed} FROM ({select}) s")
    return statements


def merge_statement() -> str:
    """Apply ``ind_region_delta`` (old sums subtracted, new added) to ``ind_region``."""
    keys = ", ".join(build.REGION.key)
    summed = ", ".join([*(f"coalesce(sum({c}), 0)" for c in _SUMS), *(f"sum({c})" for c in _COUNTS)])
    # A sum left with no terms is NULL again, as a full build's sum() gives.
    update = ", ".join([*(f"{c} = CASE WHEN t.n_{c} + EXCLUDED.n_{c} > 0 THEN coalesce(t.{c}, 0) + EXCLUDED.{c} END"
                          for c in _SUMS),
                        *(f"{c} = t.{c} + EXCLUDED.{c}" for c in _COUNTS)])
    # Most rows of a changed hospital net to zero (months its revision does not reach): skip them.
    moved = " OR ".join([*(f"coalesce(sum({c}), 0) <> 0" for c in _SUMS), *(f"sum({c}) <> 0" for c in _COUNTS)])
    return (f"INSERT INTO {build.REGION.name} AS t ({', '.join(COLUMNS)}) "
            f"SELECT {keys}, {summed} FROM {build.REGION.delta} GROUP BY {keys} HAVING {moved} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {update}")
