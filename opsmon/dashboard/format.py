"""Numbers and times formatted for Chinese readers."""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def timestamp(value: datetime) -> str:
    """A point in time in China Standard Time, e.g. ``2026-11-08 14:05``."""
    if value.tzinfo is not None:
        value = value.astimezone(LOCAL_TZ)
    return value.strftime("%Y-%m-%d %H:%M")


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage with one decimal (``0.4907`` → ``49.1%``); ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * 100:.{digits}f}%"


def integer(value: float | int | None) -> str:
    """A count with thousands separators; ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{int(value):,}"
