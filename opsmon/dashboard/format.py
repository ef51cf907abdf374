"""Numbers and times formatted for Chinese readers (and English ones, in the request's language)."""

from __future__ import annotations

import math
from datetime import datetime
from opsmon.dashboard.strings import current_language
from opsmon.periods import LOCAL_TZ


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


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def money(yuan: float | None) -> str:
    """Money for Chinese readers: 亿元 from 1e8, 万元 from 1e4, else 元 (en: ¥ with m / bn)."""
    if _missing(yuan):
        return "—"
    size = abs(yuan)
    if current_language() == "en":
        if size >= 1e9:
            return f"¥{yuan / 1e9:,.2f} bn"
        if size >= 1e6:
            return f"¥{yuan / 1e6:,.2f} m"
        return f"¥{yuan:,.0f}"
    if size >= 1e8:
        return f"{yuan / 1e8:,.2f} 亿元"
    if size >= 1e4:
        return f"{yuan / 1e4:,.1f} 万元"
    return f"{yuan:,.0f} 元"


def number(value: float | None, decimals: int = 1) -> str:
    """A plain number with thousands separators and *decimals* decimals; ``—`` when missing."""
    if _missing(value):
        return "—"
    return f"{value:,.{decimals}f}"


# Units the catalogue uses → how a value is shown after the number (zh, en).
_UNIT_TEXT = {"元": ("元", "yuan"), "家": ("家", ""), "个": ("个", ""), "月": ("个月", "months"), "日": ("日", "days"),
              "天": ("天", "days")}


def indicator_value(ind, value: float | None) -> str:
    """*value* of catalogue entry *ind* as a person reads it.

    Percentages with one decimal (0.4907 → 49.1%); money totals (元 sums) in
    万元 / 亿元; per-unit 元 values (次均费用) with their decimals; counts as integers.
    """
    if _missing(value):
        return "—"
    if ind.unit == "%":
        return percent(value, 1)
    if ind.unit == "元" and ind.kind == "sum":  # a total (拖欠薪酬总额); per-unit 元 (次均费用) stays in 元
        return money(value)
    if ind.unit in ("家", "个"):
        return integer(value)
    unit = _UNIT_TEXT.get(ind.unit, (ind.unit, ind.unit))[0 if current_language() == "zh" else 1]
    text = number(value, ind.decimals)
    return f"{text} {unit}".strip() if unit else text


def d3_format(ind) -> str:
    """The d3-format spec of *ind*'s raw values (for AG Grid columns and plotly axes and hovers)."""
    if ind.unit == "%":
        return ".1%"
    return f",.{ind.decimals}f"


def period_label(period: str | None) -> str:
    """'2026-10' → '2026年10月' (en: 'Oct 2026')."""
    if not period:
        return "—"
    year, month = (int(x) for x in period.split("-"))
    if current_language() == "en":
        return datetime(year, month, 1).strftime("%b %Y")
    return f"{year}年{month}月"
