"""URL is the state: a page's view lives in its query string, so a link reproduces it.

Pages read the query string in ``layout(**query)`` (Dash passes each parameter as
a string, or a list when a key repeats) through the ``parse_*`` helpers here,
which drop anything invalid rather than fail; callbacks write the view back with
:func:`search` into the page's own ``dcc.Location(refresh=False)``: the browser's
history gets an entry, so the back button restores the previous view (Dash
re-renders the page from the older URL).

Keys shared by every page:

``lang``      ``en`` for English; absent for Chinese (the default)
``period``    'YYYY-MM'
``span``      month, quarter, ytd, year
``indicator`` a catalogue id
``level``     prefecture, county, hospital
``region``    a region adcode
``tier``, ``category``, ``affiliation``, ``authority``   comma-separated values
``pilot``     1 (pilot hospitals only) or 0 (non-pilot only)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from opsmon.dashboard.strings import current_language
from opsmon.indicators import IDS, SPANS
from opsmon.indicators.restrict import FILTERS

# Hospital-attribute filters the pages offer, in display order (query-string key → restrict filter key).
FILTER_KEYS: dict[str, str] = {"tier": "tier", "category": "category", "affiliation": "affiliation",
                               "authority": "authority", "pilot": "is_pilot"}

QueryValue = str | Sequence[str] | None


def first(value: QueryValue) -> str | None:
    """One query-string value: the first when a key repeats; None for empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = next(iter(value), None)
        if value is None:
            return None
    value = str(value).strip()
    return value or None


def as_list(value: QueryValue) -> list[str]:
    """Comma-separated and/or repeated values → a list without blanks or repeats, in order."""
    if value is None:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for part in parts:
        for item in str(part).split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def language(value: QueryValue) -> str:
    """'en' when the URL asks for English, else 'zh'."""
    return "en" if first(value) == "en" else "zh"


def choice(value: QueryValue, allowed: Iterable[str], default: str | None = None) -> str | None:
    """*value* if it is one of *allowed*, else *default*."""
    value = first(value)
    return value if value is not None and value in set(allowed) else default


def choices(value: QueryValue, allowed: Iterable[str]) -> list[str]:
    """The values of *value* that are in *allowed* (order kept)."""
    allowed = set(allowed)
    return [v for v in as_list(value) if v in allowed]


def period(value: QueryValue, periods: Sequence[str], default: str | None = None) -> str | None:
    """*value* if it is one of *periods* (newest first), else *default* — or, without one (or when it is not
    among *periods*), the newest; None when *periods* is empty.

    The pages pass :func:`opsmon.dashboard.components.default_period` (the latest closed month) or, on
    报送, the collecting month as *default*.
    """
    fallback = default if default in periods else (periods[0] if periods else None)
    return choice(value, periods, fallback)


def span(value: QueryValue, default: str = "month") -> str:
    return choice(value, SPANS, default) or default


def indicator(value: QueryValue, default: str, allowed: Iterable[str] = IDS) -> str:
    return choice(value, allowed, default) or default


def boolean(value: QueryValue) -> bool | None:
    """'1'/'true' → True, '0'/'false' → False, anything else → None."""
    value = (first(value) or "").lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    return None


def filters(query: Mapping[str, QueryValue]) -> dict[str, Any]:
    """The hospital filters of a query string, as the URL keys (``tier`` … ``pilot``), valid values only."""
    out: dict[str, Any] = {}
    for key, api_key in FILTER_KEYS.items():
        allowed = FILTERS[api_key]
        if allowed is None:
            flag = boolean(query.get(key))
            if flag is not None:
                out[key] = flag
        else:
            values = choices(query.get(key), allowed)
            if values:
                out[key] = values
    return out


def api_filters(view_filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """URL filters → the ``filters`` argument of the indicator API (None when there are none)."""
    out = {}
    for key, value in (view_filters or {}).items():
        if key in FILTER_KEYS and value not in (None, [], ""):
            out[FILTER_KEYS[key]] = list(value) if isinstance(value, (list, tuple)) else value
    return out or None


def filters_from_controls(tier=None, category=None, affiliation=None, authority=None,
                          pilot: str | None = None) -> dict[str, Any]:
    """Control values (multi-select lists, a pilot choice '', '1' or '0') → URL filters."""
    query = {"tier": tier, "category": category, "affiliation": affiliation, "authority": authority,
             "pilot": pilot}
    return filters({k: v for k, v in query.items() if v not in (None, "")})


def search(params: Mapping[str, Any]) -> str:
    """A query string ('?a=1&b=x,y', or '' when empty) from *params*; None, '' and [] are left out.

    Lists are comma-joined, booleans are 1/0, ``lang`` is kept only for English.
    """
    items: list[tuple[str, str]] = []
    for key, value in params.items():
        if key == "lang":
            value = "en" if value == "en" else None
        if value is None or value == "" or (isinstance(value, (list, tuple)) and not value):
            continue
        if isinstance(value, bool):
            value = "1" if value else "0"
        elif isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        items.append((key, str(value)))
    return "?" + urlencode(items, safe=",") if items else ""


def href(path: str, **params: Any) -> str:
    """A link to *path* with *params* in its query string, in the request's language."""
    return path + search({**params, "lang": current_language()})
