"""Numbers and sentences for documents: deterministic formatting of query values.

The rules (the tests format export values the same way):

* percentages (catalogue unit '%', values are fractions): ``value × 100`` with one
  decimal and ``%`` — ``0.4907`` → ``49.1%``;
* a change between two percentages: in percentage points, ``(a − b) × 100`` with one
  decimal — ``+0.5个百分点`` in tables, ``提高0.5个百分点`` / ``下降0.5个百分点`` / ``持平``
  (when it rounds to 0.0) in prose; other changes in the value's own unit (money as money);
* a growth rate (catalogue kind 'growth'): ``增长5.1%`` / ``下降2.3%`` / ``持平``;
* money (元 totals): 亿元 with two decimals from 1 亿, 万元 with one decimal from 1 万,
  else whole 元, thousands separated — ``1.23亿元``, ``4,560.0万元``;
* counts (家, 个): whole numbers with the unit — ``31家``;
* other units: the catalogue's decimals and unit (``4.0个月``, ``35天``; ratios without a
  unit: two decimals);
* a missing value (None, NaN): ``—``.

Python's ``format`` rounds the binary value half to even; the same call is used for
every number, so a value is always printed the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from opsmon.indicators.catalogue import Indicator

MISSING = "—"
# Units the catalogue uses → how they follow a number.
UNIT_TEXT = {"元": "元", "家": "家", "个": "个", "月": "个月", "日": "日", "天": "天"}


def missing(value: object) -> bool:
    """Whether *value* is absent (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(fraction: float | None, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.4907`` → ``49.1%``."""
    if missing(fraction):
        return MISSING
    return _no_negative_zero(f"{fraction * 100:.{decimals}f}") + "%"


def money(yuan: float | None) -> str:
    """Money in 亿元 (from 1e8, two decimals), 万元 (from 1e4, one decimal) or 元."""
    if missing(yuan):
        return MISSING
    # The unit follows the value as printed: 9,999.6 元 prints as 1.0万元, not 10,000元.
    size = abs(yuan)
    if round(size, 2) >= 1e8 or round(size / 1e4, 1) >= 1e4:
        return _no_negative_zero(f"{yuan / 1e8:,.2f}") + "亿元"
    if round(size) >= 1e4:
        return _no_negative_zero(f"{yuan / 1e4:,.1f}") + "万元"
    return _no_negative_zero(f"{yuan:,.0f}") + "元"


def count(value: float | int | None, unit: str = "家") -> str:
    """A count with its unit: ``31家``."""
    if missing(value):
        return MISSING
    return f"{int(round(value)):,}{unit}"


def number(value: float | None, decimals: int = 1) -> str:
    """A plain number with thousands separators."""
    if missing(value):
        return MISSING
    return _no_negative_zero(f"{value:,.{decimals}f}")


def _no_negative_zero(text: str) -> str:
    """'-0.0' → '0.0': a value that rounds to zero has no sign."""
    return text[1:] if text.startswith("-") and not any(c in "123456789" for c in text) else text


def value(ind: Indicator, v: float | None) -> str:
    """*v*, a value of catalogue entry *ind* from a query frame, with its unit."""
    if missing(v):
        return MISSING
    if ind.unit == "%":
        return percent(v)
    if ind.unit == "元" and ind.kind == "sum":  # a total; per-unit 元 (次均费用) keeps its decimals
        return money(v)
    if ind.unit in ("家", "个"):
        return count(v, ind.unit)
    return number(v, ind.decimals) + UNIT_TEXT.get(ind.unit, ind.unit)


def points(now: float | None, before: float | None) -> float | None:
    """The change from *before* to *now* (fractions) in percentage points, rounded to one decimal."""
    if missing(now) or missing(before):
        return None
    return round((now - before) * 100, 1)


def change(ind: Indicator, now: float | None, before: float | None) -> str:
    """The change of *ind* from *before* to *now*, as a table cell: ``+0.5个百分点``, ``-1.2个月``, ``—``.

    Percentages change in percentage points; other units in their own unit.
    """
    if missing(now) or missing(before):
        return MISSING
    if ind.unit == "%":
        text = f"{(now - before) * 100:+.1f}"
        return ("0.0" if float(text) == 0 else text) + "个百分点"
    if ind.unit == "元" and ind.kind == "sum":
        delta = now - before
        text = money(abs(delta))
        level = not any(c in "123456789" for c in text)  # rounds to nothing: no sign
        return ("" if level else "+" if delta > 0 else "-" if delta < 0 else "") + text
    text = f"{now - before:+,.{ind.decimals}f}"
    return ("0" if float(text.replace(",", "")) == 0 else text) + UNIT_TEXT.get(ind.unit, ind.unit)


def change_words(ind: Indicator, now: float | None, before: float | None) -> str:
    """The change as words: ``提高0.5个百分点`` / ``下降1.2个月`` / ``持平``; ``""`` when either is missing."""
    if missing(now) or missing(before):
        return ""
    if ind.unit == "%":
        amount = abs(round((now - before) * 100, 1))
        text = f"{amount:.1f}个百分点"
    elif ind.unit == "元" and ind.kind == "sum":
        text = money(abs(now - before))
        amount = 0 if not any(c in "123456789" for c in text) else abs(now - before)
    else:
        amount = abs(round(now - before, ind.decimals))
        text = number(amount, ind.decimals) + UNIT_TEXT.get(ind.unit, ind.unit)
    if amount == 0:
        return "持平"
    return ("提高" if now > before else "下降") + text


def growth_words(rate: float | None) -> str:
    """A growth rate as words: ``增长5.1%`` / ``下降2.3%`` / ``持平``; ``—`` when missing."""
    if missing(rate):
        return MISSING
    text = f"{abs(rate) * 100:.1f}"
    if float(text) == 0:
        return "持平"
    return ("增长" if rate > 0 else "下降") + text + "%"


def month_label(period: str) -> str:
    """'2026-05' → '2026年5月'."""
    year, month = (int(x) for x in period.split("-"))
    return f"{year}年{month}月"


def ytd_label(period: str) -> str:
    """The months of the year to *period*: '2026-05' → '1—5月', '2026-01' → '1月'."""
    month = int(period.split("-")[1])
    return "1月" if month == 1 else f"1—{month}月"


def date_label(day: date) -> str:
    """A date as 2026年6月23日."""
    return f"{day.year}年{day.month}月{day.day}日"


def enumerate_names(names: Sequence[str], limit: int | None = None) -> str:
    """Names joined with 、; beyond *limit* names, ``等n家`` closes the list."""
    names = list(names)
    if limit is not None and len(names) > limit:
        return "、".join(names[:limit]) + f"等{len(names)}家"
    return "、".join(names)


def sentence(*clauses: str) -> str:
    """Clauses joined with ，and closed with 。 (empty clauses left out)."""
    kept = [c.strip("，。 ") for c in clauses if c and c.strip("，。 ")]
    return "，".join(kept) + "。" if kept else ""
