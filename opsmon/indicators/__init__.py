"""Indicators: what the dashboard and the exports read. Never imports Dash.

Public API::

    query(engine, ids, level, period, span="month", region=None, filters=None, scope=None) -> DataFrame
        # COLUMNS; ``approx`` marks 近似 values (a v1 stand-in where optional fields are absent)
    series(engine, id, code, start, end, span="month", filters=None, scope=None) -> DataFrame
    refresh(engine, force=False, as_of=None) -> RefreshResult    # aggregates + risk register
    CATALOGUE, get(id)                                           # the indicator catalogue
    programme.status / export.progress_table                     # programme status, 进展情况表
    targets.evaluate(engine, region=None, as_of=None, scope=None)
    risk.changes / risk.register / risk.thresholds / risk.refresh_register
    trends.yoy / trends.forecast_year_end / trends.anomalies
    export.export_table / export.progress_table_xlsx
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from opsmon.indicators import aggregate, risk
from opsmon.indicators.aggregate import RefreshResult
from opsmon.indicators.catalogue import BY_ID, CATALOGUE, IDS, Indicator, get
from opsmon.indicators.query import COLUMNS, LEVELS, query, series
from opsmon.periods import SPANS


def refresh(engine: Engine, *, force: bool = False, as_of: datetime | None = None) -> RefreshResult:
    """Bring the materialised aggregates and the risk register up to date with the data.

    The write side's job (:mod:`opsmon.derived`, which also brings the disposal records along);
    cheap when nothing changed. Reads never call it: they read the last build.
    """
    result = aggregate.refresh(engine, force=force)
    risk.refresh_register(engine, as_of=as_of, force=force)
    return result


__all__ = ["BY_ID", "CATALOGUE", "COLUMNS", "IDS", "LEVELS", "SPANS", "Indicator", "RefreshResult", "get", "query",
           "refresh", "series"]
