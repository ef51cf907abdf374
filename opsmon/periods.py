"""Reporting periods ('YYYY-MM'), due dates and the local time zone, shared by every layer."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_DUE_DAY = 10  # reports are due on the 10th of the following month
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


def today() -> date:
    """Today's date in China (the reporting calendar's zone), whatever the server's own zone."""
    return datetime.now(LOCAL_TZ).date()


def last_month(on: date | None = None) -> str:
    """The month before the one *on* falls in (default: today in China), as YYYY-MM."""
    return to_period(add_months(on or today(), -1))


def due_date(period: str, due_day: int = DEFAULT_DUE_DAY) -> date:
    """The day a period's report is due: *due_day* of the following month."""
    year, month = map(int, period.split("-"))
    return date(year + month // 12, month % 12 + 1, due_day)
