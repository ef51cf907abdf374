"""A small per-process memo for the slow reads of a page, keyed by the data version.

A cached result is reused while the data version
(:func:`opsmon.indicators.reporting.data_version`, bumped by every accepted
file) is unchanged and for at most :data:`TTL_SECONDS` — the bound on staleness
for what the version does not cover (targets and thresholds edited by an
administrator). Each gunicorn worker keeps its own memo.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from opsmon.dashboard import data
from opsmon.indicators import reporting

TTL_SECONDS = 300
MAX_ENTRIES = 256
F = TypeVar("F", bound=Callable[..., Any])

_lock = threading.Lock()
_entries: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    return value


def memo(fn: F) -> F:
    """Cache *fn*(engine, …) per engine, arguments, data version and user scope. Treat the result as read-only."""

    @functools.wraps(fn)
    def wrapper(engine, *args: Any, **kwargs: Any) -> Any:
        version = reporting.data_version(engine)
        # The user's scope is part of the key: a result computed for one scope never serves another.
        key = (fn.__module__, fn.__qualname__, str(engine.url), version, data.scope(), _freeze(args),
               _freeze(kwargs))
        now = time.monotonic()
        with _lock:
            hit = _entries.get(key)
            if hit is not None and now - hit[0] < TTL_SECONDS:
                _entries.move_to_end(key)
                return hit[1]
        value = fn(engine, *args, **kwargs)
        with _lock:
            _entries[key] = (now, value)
            while len(_entries) > MAX_ENTRIES:
                _entries.popitem(last=False)
        return value

    return wrapper  # type: ignore[return-value]


def clear() -> None:
    """Forget everything (tests, or after an upload in this process)."""
    with _lock:
        _entries.clear()
