"""Reporting periods ('YYYY-MM'), due dates and the local time zone, shared by every layer."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_DUE_DAY = 10  # reports are due on the 10th of the following month


def last_month(now: pd.Timestamp | None = None) -> str:
    """The month before *now* (default: now in China), as YYYY-MM."""
    now = now if now is not None else pd.Timestamp.now(tz=LOCAL_TZ)
    return str(now.tz_localize(None).to_period("M") - 1) if now.tzinfo else str(now.to_period("M") - 1)


def due_date(period: str, due_day: int = DEFAULT_DUE_DAY) -> date:
    """The day a period's report is due: *due_day* of the following month."""
    year, month = map(int, period.split("-"))
    return date(year + month // 12, month % 12 + 1, due_day)
