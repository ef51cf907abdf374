"""Ingestion: parse hospitals' files, validate them against the spec, store them with revisions.

The public API is :func:`ingest_bytes` / :func:`ingest_path` (in ``opsmon.ingest.api``);
this package never imports Dash.
"""

from typing import Any

__all__ = ["FileResult", "ingest_bytes", "ingest_path"]


def __getattr__(name: str) -> Any:
    # Lazy, so light modules (uscc, fields) import without pulling in pandas I/O and SQL.
    if name in __all__:
        from opsmon.ingest import api

        return getattr(api, name)
    raise AttributeError(name)
