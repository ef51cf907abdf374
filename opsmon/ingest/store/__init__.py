"""Store a validated file: one transaction, set-based SQL, revisions, the submissions log.

A file is accepted whole or not at all: its rows are COPYed into a temporary staging
table and set-based statements write the rows that differ from their current revision,
all in the caller's transaction. One job a module:

- :mod:`.values` — new revisions of monthly and progress rows, registry upserts, the data
  version that caches watch, and reading current values and a hospital's revisions back;
- :mod:`.staging` — the COPY of a file's rows into the temp table the writers read;
- :mod:`.period_locks` — refusing a file that holds a locked period;
- :mod:`.log` — the submissions log: an attempt opened, closed, listed, read;
- :mod:`.settings` — the settings table;
- :mod:`.frames` — query results as DataFrames (through ``COPY`` for large reads).

Callers use the names below (``from opsmon.ingest import store``; ``store.store_values``).
"""

from opsmon.ingest.store.frames import read_copy
from opsmon.ingest.store.log import close_submission, open_submission, submission, submissions
from opsmon.ingest.store.period_locks import PeriodLocked, check_locks
from opsmon.ingest.store.settings import set_setting, setting
from opsmon.ingest.store.values import (
    StoreResult,
    bump_data_version,
    current_values,
    revisions,
    store_registry,
    store_values,
)

__all__ = [
    "PeriodLocked",
    "StoreResult",
    "bump_data_version",
    "check_locks",
    "close_submission",
    "current_values",
    "open_submission",
    "read_copy",
    "revisions",
    "set_setting",
    "setting",
    "store_registry",
    "store_values",
    "submission",
    "submissions",
]
