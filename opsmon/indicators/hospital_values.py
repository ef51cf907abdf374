"""Per-hospital numerators and denominators of catalogue entries, as SQL over the aggregates.

Both the query (:mod:`opsmon.indicators.query`) and the pre-summed region rows
(:mod:`opsmon.indicators.region_sums`) start from the same per-hospital values,
so they are written once, here: for every indicator and every hospital open in a
period, whether the hospital is in the indicator's population, contributes and
"reports", its numerator and denominator (for growth also the year-earlier
pair) and whether its value is 近似 — all read from ``ind_month`` and ``ind_span``
(:mod:`opsmon.indicators.aggregate`).

**Official or 近似.** An entry with an
:class:`~opsmon.indicators.catalogue.Approximation` takes the official
expressions where the hospital has every field it ``needs`` and the stand-in
expressions otherwise, and says so in ``approx`` (1 for a contributing hospital
whose value is the stand-in). A hospital lacking a field the entry ``requires``
does not contribute. "Has the field" (:meth:`Renderer.has`) reads the
presence counts of the aggregates: for a flow over a span ``k_<flow> =
n_months`` (reported in every month the hospital reported in the span), for
growth ``gk_<flow> = g_months`` (in every matched month, both years), for a
stock the month-end value, for a flow of a trailing mean ``has_<flow>`` of
``ind_month``, for programme status the status row's value.
"""

from __future__ import annotations

from collections.abc import Sequence

from opsmon.indicators import catalogue, restrict
from opsmon.indicators.catalogue import Indicator

NO_VALUE = "CAST(NULL AS numeric)"  # a value an indicator does not have (no denominator, no prior pair)


class Renderer:
    """Qualifies the field codes of catalogue expressions with the aliases that hold them."""

    def __init__(self, span: str):
        self.span = span
        self.flow_aliases: set[str] = set()

    def flow_alias(self, ind: Indicator) -> str:
        alias = f"f_{ind.span or self.span}"
        self.flow_aliases.add(alias)
        return alias

    def render(self, expression: str, ind: Indicator, prefix: str = "") -> str:
        """*expression* with its field codes qualified; *prefix* picks the growth sums (g_, gp_)."""
        def resolve(token: str) -> str:
            if token in catalogue.HOSPITAL_ATTRIBUTES:
                return f"pop.{token}"
            if token == catalogue.SPAN_MONTHS:
                return f"{self.flow_alias(ind)}.{'g_months' if prefix else 'n_months'}"
            if token in catalogue.FLOW_FIELDS:
                if prefix and token not in catalogue.GROWTH_FLOWS:
                    raise ValueError(f"{ind.id}: year-earlier sums of {token} are not materialised; "
                                     "add the growth indicator to the catalogue")
                return f"{self.flow_alias(ind)}.{prefix}{token}"
            if token in catalogue.POINT_FIELDS:
                return f"p.{token}"
            raise ValueError(f"{ind.id}: unknown field {token!r}")

        return catalogue.qualify(expression, resolve)

    def has(self, field: str, ind: Indicator) -> str:
        """SQL: the hospital has optional *field* for *ind*'s value (see the module docstring)."""
        if ind.basis == "flow":
            alias = self.flow_alias(ind)
            flags = catalogue.GROWTH_FLAGS if ind.kind == "growth" else catalogue.SPAN_FLAGS
            if field not in flags:
                raise ValueError(f"{ind.id}: the months reporting {field} are not counted; "
                                 "add the indicator to the catalogue")
            return (f"{alias}.gk_{field} = {alias}.g_months" if ind.kind == "growth"
                    else f"{alias}.k_{field} = {alias}.n_months")
        if ind.basis == "stock":
            return f"p.{field} IS NOT NULL" if field in catalogue.STOCK_FIELDS else f"p.has_{field} = 1"
        if ind.basis == "status":  # no status row: nothing to approximate (counted as not done)
            return f"(coalesce(p.has_progress, 0) = 0 OR p.{field} IS NOT NULL)"
        raise ValueError(f"{ind.id}: basis {ind.basis!r} has no optional fields")

    def row(self, ix: int, ind: Indicator) -> str:
        """One ``VALUES`` row: (ix, in_pop, contrib, rep, num, den, pnum, pden, approx)."""
        return f"({ix}, {', '.join(self.parts(ind))})"

    def parts(self, ind: Indicator) -> tuple[str, str, str, str, str, str, str, str]:
        """SQL for (in_pop, contrib, rep, num, den, pnum, pden, approx) of one hospital-period row.

        *in_pop*: the hospital is in the indicator's population; *contrib*: its values
        count; *rep*: it "reports"; the values are NULL unless it contributes; *approx*:
        1 when it contributes a 近似 value, else 0.
        """
        # Parenthesised: a population with OR must not bind to what it is ANDed with.
        in_pop = f"({self.render(ind.population, ind)})" if ind.population else "true"
        growth = ind.kind == "growth"
        approximation = ind.approximation
        official = (" AND ".join(f"coalesce({self.has(f, ind)}, false)" for f in approximation.needs)
                    if approximation else "true")

        def pick(expression: str | None, standin: str | None, prefix: str) -> str | None:
            """The official *expression*, or where the hospital lacks a needed field the stand-in."""
            if expression is None:
                return None
            rendered = self.render(expression, ind, prefix)
            if standin is None:
                return rendered
            return f"CASE WHEN {official} THEN {rendered} ELSE {self.render(standin, ind, prefix)} END"

        a_num = approximation.numerator if approximation else None
        a_den = approximation.denominator if approximation else None
        num = pick(ind.numerator, a_num, "g_" if growth else "")
        den = pick(ind.denominator, a_den, "g_" if growth else "")
        pnum = pden = None
        if ind.basis == "flow":
            alias = self.flow_alias(ind)
            contrib = f"coalesce({alias}.g_months, 0) > 0" if growth else f"{alias}.hospital_code IS NOT NULL"
            if growth:
                pnum = pick(ind.numerator, a_num, "gp_")
                pden = pick(ind.denominator, a_den, "gp_")
        elif ind.basis == "stock":
            contrib = "coalesce(p.reported, 0) = 1"
        else:  # status, roster: every hospital of the population counts; missing means 0
            contrib = "true"
            num = f"coalesce({num}, 0)"
            den = f"coalesce({den}, 0)" if den else None
        if ind.requires:  # no value without these: neither numerator nor denominator
            contrib = " AND ".join([f"({contrib})", *(f"coalesce({self.has(f, ind)}, false)" for f in ind.requires)])
        if ind.basis == "status":
            rep = "coalesce(p.has_progress, 0) = 1"
        elif ind.basis == "roster":
            rep = "coalesce(p.reported, 0) = 1"
        else:
            rep = contrib
        approx = f"CASE WHEN ({contrib}) AND NOT ({official}) THEN 1 ELSE 0 END" if approximation else "0"

        def value(expr: str | None) -> str:
            return f"CAST(CASE WHEN {contrib} THEN ({expr}) END AS numeric)" if expr else NO_VALUE

        return in_pop, contrib, rep, value(num), value(den), value(pnum), value(pden), approx


def span_of(ind: Indicator, span: str) -> str | None:
    """The span *ind*'s value covers when *span* is asked for; None when its value does not depend on one.

    Stocks, programme status and rosters read only month-end rows; an indicator
    with a fixed span (the 12-month deficit counts) always covers that span.
    """
    renderer = Renderer(span)
    renderer.row(0, ind)
    return (ind.span or span) if renderer.flow_aliases else None


def ctes(indicators: Sequence[Indicator], span: str, hospital_where: str, *, month_table: str = "ind_month",
         span_table: str = "ind_span", period_list: str | None = None) -> str:
    """The ``pop`` and ``hv`` CTEs (after a ``per (period)`` CTE the caller defines).

    ``pop``: the hospitals open in each period that pass *hospital_where* (on
    alias ``h``). ``hv``: one row per such hospital, period and indicator of its
    population — (hospital_code, name, adcode, period, ix, rep, num, den, pnum,
    pden, approx), *ix* the indicator's position in *indicators*. The aggregates are read
    from *month_table* and *span_table* (a build reads them before they are swapped in);
    *period_list*: the periods of ``per`` as an SQL array, when the caller has them (see :func:`joined`).
    """
    renderer = Renderer(span)
    rows = ",\n        ".join(renderer.row(ix, ind) for ix, ind in enumerate(indicators))
    return f"""
{pop_cte(hospital_where)},
hv AS (
    SELECT pop.hospital_code, pop.name, pop.adcode, pop.period, v.ix, v.rep, v.num, v.den, v.pnum, v.pden,
           v.approx
    {joined(renderer, month_table, span_table, period_list)}
    CROSS JOIN LATERAL (VALUES
        {rows}
    ) v(ix, in_pop, contrib, rep, num, den, pnum, pden, approx)
    WHERE v.in_pop
)"""


def pop_cte(hospital_where: str) -> str:
    """``pop``: the hospitals open in each period of ``per`` that pass *hospital_where* (alias ``h``)."""
    attributes = ", ".join(f"h.{a}" for a in catalogue.HOSPITAL_ATTRIBUTES)
    return f"""pop AS (
    SELECT h.hospital_code, h.name, h.adcode, {attributes}, per.period
    FROM hospitals h CROSS JOIN per
    WHERE {restrict.open_at('h', 'per.period')} AND {hospital_where}
)"""


def joined(renderer: Renderer, month_table: str = "ind_month", span_table: str = "ind_span",
           period_list: str | None = None) -> str:
    """``FROM pop`` with the aggregate rows the expressions *renderer* produced read (p, f_<span>).

    *period_list* (an SQL array of the periods of ``per``) restricts the aggregate rows in the join
    itself: the planner cannot carry the periods of ``per`` over to the tables, and read every
    month of them (a national query of one month read 60 months' rows — 720 000 per table).
    """
    def these(alias: str) -> str:
        return f" AND {alias}.period = ANY({period_list})" if period_list else ""

    span_joins = "\n    ".join(
        f"LEFT JOIN {span_table} {alias} ON {alias}.hospital_code = pop.hospital_code "
        f"AND {alias}.period = pop.period AND {alias}.span = '{alias[2:]}'{these(alias)}"
        for alias in sorted(renderer.flow_aliases)
    )
    return f"""FROM pop
    LEFT JOIN {month_table} p ON p.hospital_code = pop.hospital_code AND p.period = pop.period{these('p')}
    {span_joins}"""
