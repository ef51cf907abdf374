"""The memo for the slow reads of a page: Flask-Caching, keyed by the query, the data version and the user's scope.

Why Flask-Caching rather than a dictionary of our own (the project declares it): expiry,
the size bound and thread safety are its job, not ours, and the store is configuration —
``SimpleCache`` here, one per process (each gunicorn worker its own); a shared backend
such as Redis would be a change of ``CACHE_TYPE``, not of code.

A result is reused while the data version (``reporting.data_version``, bumped by
every accepted file) is unchanged: the version is part of the key, so an upload is
seen at once. The timeout (:data:`TTL_SECONDS`) only bounds the staleness of what the
version does not cover (targets and thresholds edited by an administrator).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import dash
from flask_caching import Cache

from opsmon.dashboard import data
from opsmon.indicators import reporting

TTL_SECONDS = 300
MAX_ENTRIES = 256
F = TypeVar("F", bound=Callable[..., Any])

_cache = Cache(config={"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": TTL_SECONDS,
                       "CACHE_THRESHOLD": MAX_ENTRIES})


def install(app: dash.Dash) -> None:
    """Give *app*'s server its cache (each app its own store)."""
    _cache.init_app(app.server)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set)):
        return tuple(_freeze(v) for v in value)
    return value


def memo(fn: F) -> F:
    """Cache *fn*(engine, …) per engine, arguments, data version and user scope (inside a request of the app)."""

    @functools.wraps(fn)
    def wrapper(engine, *args: Any, **kwargs: Any) -> Any:
        # The user's scope is part of the key: a result computed for one scope never serves another.
        key = (fn.__module__, fn.__qualname__, str(engine.url), reporting.data_version(engine), data.scope(),
               _freeze(args), _freeze(kwargs))
        key = "opsmon:" + hashlib.sha256(repr(key).encode()).hexdigest()
        hit = _cache.get(key)
        if hit is None:
            hit = fn(engine, *args, **kwargs)
            _cache.set(key, hit)
        return hit

    return wrapper  # type: ignore[return-value]


def clear() -> None:
    """Forget everything this app has cached (tests)."""
    _cache.clear()
