"""Reporting periods ('YYYY-MM', stored as the first day of the month), the spans that end at
one, due dates and the local time zone — shared by every layer.

A span always ends at the period asked for:

``month``   the period alone;
``quarter`` the calendar quarter containing the period, from its first month to the period
            (the whole quarter when the period is a quarter's last month);
``ytd``     January of the period's year to the period;
``year``    the twelve months ending at the period (the calendar year for a December period).

**Time zone.** The reporting calendar runs on one zone: settings ``timezone`` (an IANA
name) when set, else :data:`LOCAL_TZ` (China). :func:`configured_tz` reads it wherever a
connection is at hand — a report's due time, "today" for an upload, a naive upload time;
code without one (the demo generator, :func:`today` without an argument) uses :data:`LOCAL_TZ`.

**The collecting month and the latest closed month** (the spec's "Periods"): a month is closed
once its due date has passed (:func:`latest_closed_month`); the month after the latest closed one
is being collected (:func:`collecting_month`). Views and exports that name no month show
:func:`default_period`; the one clock is :func:`now` (pinned by ``OPSMON_TODAY`` for a demo in the
past and for tests' servers).

Also the robust scale both the upload checks (a month's change against the hospital's
own history) and the trend anomalies (a month against its series) divide by:
:func:`robust_scale`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import config

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # the default zone (see configured_tz)
DEFAULT_DUE_DAY = 10  # reports are due on the 10th of the following month
_PERIOD = re.compile(r"^(\d{4})-(\d{2})(?:-01)?$")

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


def period_text(value: Any) -> Any:
    """A stored period as the rules read it: a date → 'YYYY-MM', text → its first 7 characters,
    a missing value (None, NaN, NA, NaT) → ``pd.NA``."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return pd.NA
    if isinstance(value, date):  # pd.Timestamp too
        return to_period(value)
    return str(value)[:7]


def month_index(value: date | pd.Period) -> int:
    """*value*'s month counted from January of year 0: the difference of two is the months between."""
    return value.year * 12 + value.month - 1


def add_months(value: date, months: int) -> date:
    """The first day of the month *months* after *value*'s month."""
    index = month_index(value) + months
    return date(index // 12, index % 12 + 1, 1)


def shift_series(periods: pd.Series, months: int) -> pd.Series:
    """'YYYY-MM' texts moved by *months*, vectorised: :func:`add_months` over a Series.

    Reads the first seven characters ('YYYY-MM-01' works too); NA — and text that is not a
    period — gives NA. Returns a ``string`` Series on *periods*' index.
    """
    s = periods.astype("string")
    y = pd.to_numeric(s.str.slice(0, 4), errors="coerce")
    m = pd.to_numeric(s.str.slice(5, 7), errors="coerce")
    total = y * 12 + (m - 1) + months
    out = (total // 12).astype("Int64").astype("string").str.zfill(4) + "-" + \
        ((total % 12) + 1).astype("Int64").astype("string").str.zfill(2)
    return out.astype("string")


def month_range(start: str | date, end: str | date) -> list[date]:
    """Every month from *start* to *end* inclusive (first days)."""
    first, last = to_date(start), to_date(end)
    out = []
    while first <= last:
        out.append(first)
        first = add_months(first, 1)
    return out


def configured_tz(db: sa.Connection | Engine) -> ZoneInfo:
    """The reporting calendar's zone: settings ``timezone`` if set, else :data:`LOCAL_TZ`.

    *db* is a connection (the query joins its transaction, or begins one) or an engine.
    ``ZoneInfoNotFoundError`` (a ``KeyError``) when the setting names no known zone.
    """
    if isinstance(db, Engine):
        with db.connect() as conn:
            return configured_tz(conn)
    name = db.execute(sa.text("SELECT value #>> '{}' FROM settings WHERE key = 'timezone'")).scalar()
    return ZoneInfo(name) if name else LOCAL_TZ


def now(tz: ZoneInfo = LOCAL_TZ) -> datetime:
    """The current time in *tz* — the one clock of the reporting calendar.

    The real clock, unless the configuration pins it (``OPSMON_TODAY``, :attr:`opsmon.config.Settings.today`;
    a naive value is read in *tz*): a demo pinned in the past, and the tests' servers, then open their
    views on the months of that day.
    """
    pinned = config.load().today
    if pinned is None:
        return datetime.now(tz)
    return pinned.replace(tzinfo=tz) if pinned.tzinfo is None else pinned.astimezone(tz)


_clock = now  # for the functions whose parameter *now* hides it


def today(tz: ZoneInfo = LOCAL_TZ) -> date:
    """Today's date in *tz* (default: China, the reporting calendar's zone), whatever the server's own zone
    (:func:`now`'s clock)."""
    return now(tz).date()


def last_month(on: date | None = None) -> str:
    """The month before the one *on* falls in (default: today in China), as YYYY-MM."""
    return to_period(add_months(on or today(), -1))


def check_due_day(day: Any) -> int:
    """*day* as an int when it is 1–28 (a day every month has); ``ValueError`` otherwise."""
    value = int(day)
    if not 1 <= value <= 28:
        raise ValueError(f"the due day must be 1–28, got {day}")
    return value


def due_date(period: str, due_day: int = DEFAULT_DUE_DAY) -> date:
    """The day a period's report is due: *due_day* of the following month."""
    year, month = map(int, period.split("-"))
    return date(year + month // 12, month % 12 + 1, due_day)


def configured_due_day(db: sa.Connection | Engine) -> int:
    """The due day: settings ``due_day`` if set (1–28), else :data:`DEFAULT_DUE_DAY`."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return configured_due_day(conn)
    value = db.execute(sa.text("SELECT value #>> '{}' FROM settings WHERE key = 'due_day'")).scalar()
    return check_due_day(value if value is not None else DEFAULT_DUE_DAY)


def latest_closed_month(now: datetime | None = None, due_day: int = DEFAULT_DUE_DAY, tz: ZoneInfo = LOCAL_TZ
                        ) -> str:
    """The latest month whose due date has passed at *now* ('YYYY-MM'): the month views open on.

    A month's report is due at the end of *due_day* of the following month, local time in *tz*
    (as ``aggregate.DUE_SQL``): the due date has passed from 00:00 of the next day. So on a day
    after the due day the month before is closed; on or before it, the month before that. On
    2026-12-02 (due day 10) that is 2026-10; from 2026-12-11 00:00, 2026-11. *now* defaults to
    :func:`now`; a naive *now* is local time in *tz*.
    """
    check_due_day(due_day)
    local = (_clock(tz) if now is None else
             now.replace(tzinfo=tz) if now.tzinfo is None else now.astimezone(tz))
    back = 1 if local.day > due_day else 2  # the due day ends at midnight: the day after it, the month is closed
    return to_period(add_months(local.date(), -back))


def collecting_month(now: datetime | None = None, due_day: int = DEFAULT_DUE_DAY, tz: ZoneInfo = LOCAL_TZ) -> str:
    """The month being collected at *now* ('YYYY-MM'): the month after :func:`latest_closed_month`.

    The spec calls it "the latest month whose due date has not yet passed"; with its example (on
    2026-12-02 the collecting month is 2026-11) that is the *earliest* month whose due date is
    still ahead — the next one due. Until the due day it is the month before *now*'s month; after
    it, *now*'s own month (nothing is due for it yet: 已报 0 at first). The submissions and upload
    pages open on it.
    """
    return to_period(add_months(to_date(latest_closed_month(now, due_day, tz)), 1))


def reporting_months(db: sa.Connection | Engine, now: datetime | None = None) -> tuple[str, str]:
    """(collecting month, latest closed month) at *now* (default :func:`now`) with the configured due day
    and zone (settings ``due_day`` and ``timezone``)."""
    if isinstance(db, Engine):
        with db.connect() as conn:
            return reporting_months(conn, now)
    due_day, tz = configured_due_day(db), configured_tz(db)
    return collecting_month(now, due_day, tz), latest_closed_month(now, due_day, tz)


def default_period(db: sa.Connection | Engine, now: datetime | None = None) -> str | None:
    """The month a view or an export that names none shows ('YYYY-MM'; None without data).

    The latest closed month (:func:`reporting_months`) when it has data; else the newest month
    with data before it (a database whose data stop earlier — a demo pinned in the past); else,
    when every month with data is later (a first month still being collected), the newest one.
    "Data": any current monthly value.
    """
    if isinstance(db, Engine):
        with db.connect() as conn:
            return default_period(conn, now)
    closed = reporting_months(db, now)[1]
    return db.execute(sa.text(
        "SELECT to_char(coalesce(max(period) FILTER (WHERE period <= CAST(:closed AS date)), max(period)), "
        "'YYYY-MM') FROM monthly_values WHERE is_current"), {"closed": f"{closed}-01"}).scalar()
