"""Periods ('YYYY-MM', stored as the first day of the month) and the spans that end at one.

A span always ends at the period asked for:

``month``   the period alone;
``quarter`` the calendar quarter containing the period, from its first month to the period
            (the whole quarter when the period is a quarter's last month);
``ytd``     January of the period's year to the period;
``year``    the twelve months ending at the period (the calendar year for a December period).
"""

from __future__ import annotations

import re
from datetime import date

SPANS: tuple[str, ...] = ("month", "quarter", "ytd", "year")
SPAN_LABELS: dict[str, tuple[str, str]] = {
    "month": ("当月", "Month"),
    "quarter": ("本季度", "Quarter to date"),
    "ytd": ("本年累计", "Year to date"),
    "year": ("近12个月", "Last 12 months"),
}
# The first month of each span ending at the date expression {p}, in SQL.
SPAN_START_SQL: dict[str, str] = {
    "month": "{p}",
    "quarter": "CAST(date_trunc('quarter', {p}) AS date)",
    "ytd": "CAST(date_trunc('year', {p}) AS date)",
    "year": "CAST({p} - interval '11 months' AS date)",
}

_PERIOD = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")


def to_date(period: str | date) -> date:
    """'YYYY-MM' (or a date) → the first day of that month."""
    if isinstance(period, date):
        return period.replace(day=1)
    m = _PERIOD.match(str(period).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"a period is 'YYYY-MM', got {period!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)


def to_period(value: date) -> str:
    """A date → 'YYYY-MM'."""
    return f"{value.year:04d}-{value.month:02d}"


def add_months(value: date, months: int) -> date:
    """The first day of the month *months* after *value*'s month."""
    index = value.year * 12 + value.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_range(start: str | date, end: str | date) -> list[date]:
    """Every month from *start* to *end* inclusive (first days)."""
    first, last = to_date(start), to_date(end)
    out = []
    while first <= last:
        out.append(first)
        first = add_months(first, 1)
    return out


def check_span(span: str) -> str:
    """*span* if it is one of :data:`SPANS`; ``ValueError`` otherwise."""
    if span not in SPANS:
        raise ValueError(f"span must be one of {SPANS}, got {span!r}")
    return span
