"""Pre-summed region rows: every catalogue indicator's sums per region, month and span.

A region's value is the ratio of its hospitals' summed numerators and
denominators (:mod:`opsmon.indicators.query`). Summing 12 000 hospitals at query
time costs seconds nationally, so the refresh (:mod:`opsmon.indicators.aggregate`)
also keeps ``ind_region``: per region (every level, the nation included), month,
span and catalogue indicator, the sums of the per-hospital values of
:mod:`opsmon.indicators.hospital_values` over the hospitals open that month below
the region, with how many of each sum's terms were not NULL (a sum of no terms
reads as NULL, as ``sum()`` does), how many hospitals report and how many are
expected. The query reads these rows whenever it can — region levels, catalogue
entries, no hospital filters (a scope or region only selects which region rows
are returned; their sums are the same) — and sums hospitals otherwise.

Indicators whose value does not depend on the span (stocks, programme status,
rosters) are kept once, under span ``'*'``; an indicator with a fixed span under
that span. An incremental refresh adds the changed hospitals' new values and
subtracts their old ones (exact: the sums are ``numeric``), so it touches only
their ancestors' rows.
"""

from __future__ import annotations

from opsmon.indicators import catalogue, hospital_values
from opsmon.indicators.catalogue import Indicator
from opsmon.indicators.periods import SPANS

ANY_SPAN = "*"
COLUMNS = ("adcode", "period", "span", "indicator", "num", "den", "pnum", "pden",
           "n_num", "n_den", "n_pnum", "n_pden", "reporting", "expected")
_SUMS = ("num", "den", "pnum", "pden")
_COUNTS = tuple(f"n_{c}" for c in _SUMS) + ("reporting", "expected")
CHANGED = "h.hospital_code = ANY(CAST(:changed AS bpchar[]))"


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
    meta = ", ".join(f"({ix}, '{ind.id}', '{stored_span(ind, span)}')" for ix, ind in enumerate(entries))
    hv = hospital_values.ctes(entries, span, hospital_where, month_table=month_table, span_table=span_table)
    counts = ", ".join(f"count(hv.{c}) AS n_{c}" for c in _SUMS)
    # Summed per county first, then up the tree: the ancestor join then reads a few
    # thousand county rows instead of every hospital's.
    return f"""
WITH per AS ({calendar_sql}),
meta (ix, indicator, span) AS (VALUES {meta}),{hv},
c AS (
    SELECT hv.adcode, hv.period, hv.ix, {", ".join(f"sum(hv.{c}) AS {c}" for c in _SUMS)}, {counts},
           count(*) FILTER (WHERE hv.rep) AS reporting, count(*) AS expected
    FROM hv GROUP BY hv.adcode, hv.period, hv.ix
)
SELECT a.ancestor_adcode AS adcode, c.period, CAST(k.span AS text) AS span, CAST(k.indicator AS text) AS indicator,
       {", ".join(f"sum(c.{s}) AS {s}" for s in _SUMS)},
       {", ".join(f"CAST(sum(c.{n}) AS int) AS {n}" for n in _COUNTS)}
FROM c JOIN meta k ON k.ix = c.ix JOIN region_ancestors a ON a.adcode = c.adcode
GROUP BY a.ancestor_adcode, c.period, k.span, k.indicator"""


def build_statements(calendar_sql: str, month_table: str, span_table: str, table: str) -> list[str]:
    """Statements creating *table* from the aggregates in *month_table* / *span_table* (a full build)."""
    statements = [f"DROP TABLE IF EXISTS {table}"]
    for i, (span, entries) in enumerate(_groups()):
        select = _select(span, entries, calendar_sql, "true", month_table, span_table)
        statements.append(f"CREATE TABLE {table} AS {select}" if i == 0 else f"INSERT INTO {table} {select}")
    statements += [
        f"CREATE UNIQUE INDEX {table}_key ON {table} (adcode, period, span, indicator)",
        f"ANALYZE {table}",
    ]
    return statements


def delta_statements(calendar_sql: str, sign: int, table: str = "ind_region") -> list[str]:
    """Statements adding *sign* × the changed hospitals' (``:changed``) sums to the temp table ``ind_region_delta``.

    Run with ``sign=-1`` before their aggregate rows are replaced and ``+1`` after;
    :func:`merge_statement` then applies the difference to *table*.
    """
    statements = []
    if sign < 0:
        statements.append(f"CREATE TEMP TABLE ind_region_delta ON COMMIT DROP AS "
                          f"SELECT * FROM {table} WITH NO DATA")
    for span, entries in _groups():
        select = _select(span, entries, calendar_sql, CHANGED, "ind_month", "ind_span")
        signed = ", ".join(f"{sign} * s.{c}" if c in _SUMS + _COUNTS else f"s.{c}" for c in COLUMNS)
        statements.append(f"INSERT INTO ind_region_delta ({', '.join(COLUMNS)}) "
                          f"SELECT {signed} FROM ({select}) s")
    return statements


def merge_statement(table: str = "ind_region") -> str:
    """Apply ``ind_region_delta`` (old sums subtracted, new added) to *table*."""
    keys = "adcode, period, span, indicator"
    summed = ", ".join([*(f"coalesce(sum({c}), 0)" for c in _SUMS), *(f"sum({c})" for c in _COUNTS)])
    # A sum left with no terms is NULL again, as a full build's sum() gives.
    update = ", ".join([*(f"{c} = CASE WHEN t.n_{c} + EXCLUDED.n_{c} > 0 THEN coalesce(t.{c}, 0) + EXCLUDED.{c} END"
                          for c in _SUMS),
                        *(f"{c} = t.{c} + EXCLUDED.{c}" for c in _COUNTS)])
    return (f"INSERT INTO {table} AS t ({', '.join(COLUMNS)}) "
            f"SELECT {keys}, {summed} FROM ind_region_delta GROUP BY {keys} "
            f"ON CONFLICT ({keys}) DO UPDATE SET {update}")
