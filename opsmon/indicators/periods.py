"""Periods ('YYYY-MM', stored as the first day of the month) and the spans that end at one.

A span always ends at the period asked for:

``month``   the period alone;
``quarter`` the calendar quarter containing the period, from its first month to the period
            (the whole quarter when the period is a quarter's last month);
``ytd``     January of the period's year to the period;
``year``    the twelve months ending at the period (the calendar year for a December period).
"""

from __future__ import annotations

from opsmon.periods import add_months, month_range, to_date, to_period

__all__ = ["SPANS", "SPAN_LABELS", "add_months", "check_span", "month_range", "to_date", "to_period"]

SPANS: tuple[str, ...] = ("month", "quarter", "ytd", "year")
SPAN_LABELS: dict[str, tuple[str, str]] = {
    "month": ("当月", "Month"),
    "quarter": ("本季度", "Quarter to date"),
    "ytd": ("本年累计", "Year to date"),
    "year": ("近12个月", "Last 12 months"),
}
def check_span(span: str) -> str:
    """*span* if it is one of :data:`SPANS`; ``ValueError`` otherwise."""
    if span not in SPANS:
        raise ValueError(f"span must be one of {SPANS}, got {span!r}")
    return span
