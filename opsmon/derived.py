"""The derived tables — aggregates, risk register, disposal records — kept up to date by the write side.

Readers never refresh: they read the last complete build (each build replaces the previous one
in one transaction, so a reader sees the old build or the new, never half of one) and say when
it was made (:func:`status`). What brings the build up to date:

- an accepted upload of a few hospitals (the dashboard, the API): :func:`after_upload` refreshes
  before the request returns — the incremental refresh costs about half a second nationally;
- everything bigger (a bulk load, a registry file, a changed due day, threshold or time zone, a
  replicated province, a month falling due as the calendar moves): the worker, :func:`run_worker`
  (``opsmon worker``, or the thread ``opsmon serve`` starts), woken by PostgreSQL ``NOTIFY`` from
  triggers on the tables a build depends on (migration 0016, and 0015's on replicated rows), and
  every *interval* seconds regardless — the calendar sends no notification.

No broker: the notifications are PostgreSQL's, and a refresh is idempotent (it compares source
keys), so a lost or repeated notification costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import disposal, indicators, periods
from opsmon.indicators import aggregate, risk
from opsmon.indicators.aggregate import RefreshResult

log = logging.getLogger(__name__)

# Channels that mean "the inputs of a build changed": the triggers of migration 0016, and the
# federation's arrival trigger (0015) on a national instance.
CHANNELS = ("opsmon_refresh", "opsmon_federation")
DEFAULT_INTERVAL = 60.0


def refresh(engine: Engine, *, force: bool = False, as_of: datetime | None = None) -> RefreshResult:
    """Bring every derived table up to date: aggregates, the risk register, then the disposal records.

    Cheap when nothing changed (each part compares the source key it was built from).
    """
    result = indicators.refresh(engine, force=force, as_of=as_of)
    disposal.sync(engine)
    return result


def small_change(engine: Engine) -> bool:
    """Whether the pending change is one an incremental refresh covers (a few hospitals' values)."""
    with engine.connect() as conn:
        key = aggregate.source_key(conn)
        stored = aggregate.stored_state(conn, "aggregates")
        if stored.source_key == key:
            return True
        return aggregate.incremental_set(conn, key, stored, aggregate.basis(conn)) is not None


def after_upload(engine: Engine, accepted: bool) -> bool:
    """After an upload: refresh now when it was accepted and small, else leave it to the worker.

    Returns whether the derived tables were refreshed here. A big file (more hospitals than an
    incremental refresh takes) is refreshed by the worker, which its commit has notified; so is a
    small one that arrives while another refresh runs (:func:`refresh_running`).
    """
    if not accepted or not small_change(engine) or refresh_running(engine):
        return False
    refresh(engine)
    return True


def refresh_running(engine: Engine) -> bool:
    """Whether another session is rebuilding the aggregates right now.

    An upload does not queue behind it: fifty hospitals confirming at once would each wait for the
    others' refreshes (0.5 s each, one at a time). The next refresh — another upload's, or the
    worker's, which this upload's commit notified — reads every committed file, this one included.
    """
    with engine.connect() as conn:
        free = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": aggregate.LOCK_KEY}).scalar_one()
        if free:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": aggregate.LOCK_KEY})
        return not free


@dataclass(frozen=True)
class Status:
    """What the derived tables were built from, and whether newer data waits."""

    built_at: datetime | None      # when the aggregates were last rebuilt
    data_as_of: datetime | None    # when the newest accepted submission in that build arrived
    pending: bool                  # accepted data (or settings) newer than the build


def status(engine: Engine) -> Status:
    """The build the readers see: when it was made, the data it holds, whether it lags (reads only)."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT refreshed_at, watermark, source_key FROM indicator_state WHERE name = 'aggregates'")).first()
        built_at, mark, key = row if row else (None, None, None)
        if aggregate.federated(conn):
            mark = None  # a data version there, not a submission id: every submission that arrived counts
        as_of = conn.execute(sa.text(
            "SELECT max(coalesce(finished_at, received_at)) FROM submissions "
            "WHERE status = 'accepted' AND (CAST(:mark AS bigint) IS NULL OR submission_id <= :mark)"),
            {"mark": mark}).scalar() if built_at is not None else None
        register_key = conn.execute(sa.text(
            "SELECT source_key FROM indicator_state WHERE name = 'risk_register'")).scalar()
        pending = (key != aggregate.source_key(conn)
                   or register_key != risk.source_key(conn, periods.now()))
    return Status(built_at, as_of, pending)


def run_worker(engine: Engine, *, interval: float = DEFAULT_INTERVAL, stop: threading.Event | None = None,
               once: bool = False) -> None:
    """Refresh whenever a channel of :data:`CHANNELS` is notified, and every *interval* seconds.

    Runs until *stop* is set (or after one refresh with *once*). A failed refresh is logged and
    retried at the next wake-up; a lost database connection is reopened.
    """
    stop = stop or threading.Event()
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    while not stop.is_set():
        try:
            with psycopg.connect(url, autocommit=True) as listener:
                for channel in CHANNELS:
                    listener.execute(f"LISTEN {channel}")
                while not stop.is_set():
                    _refresh_logged(engine)
                    if once:
                        return
                    # Wake at the first notification (then drain the burst), or after *interval*.
                    for _ in listener.notifies(timeout=interval, stop_after=1):
                        pass
                    for _ in listener.notifies(timeout=0.2):
                        pass
        except psycopg.OperationalError as error:
            log.warning("refresh worker: %s; reconnecting", error)
            stop.wait(min(interval, 5.0))


def _refresh_logged(engine: Engine) -> None:
    started = time.perf_counter()
    try:
        result = refresh(engine)
    except Exception:  # noqa: BLE001 — the worker outlives a failed refresh; the next wake-up retries
        log.exception("refresh worker: refresh failed")
        return
    if result.rebuilt:
        log.info("refresh worker: derived tables rebuilt in %.1f s", time.perf_counter() - started)


def start_worker_thread(engine: Engine, *, interval: float = DEFAULT_INTERVAL) -> threading.Event:
    """Run :func:`run_worker` in a daemon thread (``opsmon serve``); set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_worker, args=(engine,), kwargs={"interval": interval, "stop": stop},
                     name="opsmon-refresh-worker", daemon=True).start()
    return stop
