"""Provincial instances → a national instance by PostgreSQL logical replication.

A province publishes its source rows; the national instance (``OPSMON_PROVINCE=100000``)
subscribes to each province and computes its own derived tables from what arrives.
See docs/scaling.md ("Option A") for the deployment.

What is replicated (publication :data:`PUBLICATION`):
    ``hospitals`` (the registry), ``monthly_values`` and ``progress_values`` — every
    revision, not only the current one: timeliness is decided by the first revision's
    arrival, and the national view keeps the revision history — and ``submissions``
    without ``errors`` and ``warnings`` (a rejected file's errors quote its rows; they stay
    in the province). Users, sessions, audit log, settings, targets and the derived tables
    are not replicated: the nation has its own.

Collisions, and what guards against them:
    * Submission ids: each province's live in its own range, ``left(province, 2) × 10^12``
      (:func:`publish` renumbers the existing ones once and bounds the sequence), so two
      provinces never send the same id.
    * Hospital codes (USCC) and region codes (GB/T 2260) are national. A province's own
      database only holds hospitals in its counties (a foreign key to its regions). On the
      national side the triggers of migration 0015 refuse (before the row is written) a
      replicated hospital whose county the nation does not know, one already registered
      (by another province), and any row of a province without a subscription. A refused
      row stops that province's replication where it is: its apply worker retries the
      transaction (every few seconds) and fails again until the cause is fixed — nothing
      of it is applied, the other provinces go on; :func:`status` counts the ``errors``
      and the national server's log names the row. (Not ``disable_on_error``: that would
      also disable a subscription whenever its province's connection drops.)

Refresh: the same triggers bump the data version on every applied transaction (as ingest
does for an upload), under the refreshes' lock, and queue the hospitals whose values it
brought (``federation_changes``, migration 0018), so the next refresh — ``opsmon worker``,
woken by their notification on channel ``opsmon_federation``, or :func:`refresh` — rebuilds
only those hospitals' rows, as after an upload (a province's initial copy, or a registry
change, rebuilds in full).

A province that is down: its rows stay as they were; the replication slot on the
province keeps its changes until the nation catches up. :func:`status` gives each
province's data as-of time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon import geo

PUBLICATION = "opsmon_national"
SUBSCRIPTION_PREFIX = "opsmon_"
ID_RANGE = 10**12  # submission ids per province
PUBLISHED_TABLES = ("hospitals", "submissions", "monthly_values", "progress_values")
SUBMISSION_COLUMNS = ("submission_id", "kind", "username", "file_name", "sha256", "size_bytes", "received_at",
                      "finished_at", "status", "rows_total", "rows_accepted", "revisions_created", "periods")
VALUE_TABLES = ("monthly_values", "progress_values")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
STATUS_COLUMNS = ["name", "province", "province_name", "state", "as_of", "last_receipt", "last_arrival",
                  "latest_submission", "hospitals", "lag_seconds", "errors"]


class FederationError(RuntimeError):
    """A federation command cannot be carried out (the message says why and what to do)."""


@dataclass(frozen=True)
class Published:
    """What :func:`publish` did."""

    province: str
    renumbered: int      # submissions moved into the province's id range (0 on a second run)
    created: bool        # the publication was created now (False: it existed)
    first_id: int        # the province's range: first_id .. first_id + ID_RANGE - 1


def id_range(province: str) -> tuple[int, int]:
    """The submission ids of *province* (first, last)."""
    first = int(province[:2]) * ID_RANGE
    return first, first + ID_RANGE - 1


def _province(conn: sa.Connection) -> str | None:
    return conn.execute(sa.text("SELECT value #>> '{}' FROM settings WHERE key = 'province'")).scalar()


def _wal_level(conn: sa.Connection) -> str:
    return conn.execute(sa.text("SHOW wal_level")).scalar_one()


def _require_national(conn: sa.Connection, command: str) -> None:
    province = _province(conn)
    if province != geo.NATION:
        raise FederationError(
            f"`opsmon federation {command}` is for the national instance (OPSMON_PROVINCE={geo.NATION}); "
            f"this database holds province {province}")


def publish(engine: Engine) -> Published:
    """Make this provincial database publish its source rows to a national instance.

    Needs ``wal_level = logical``. Moves the existing submissions into the province's id
    range (once; their values follow) and bounds the id sequence to that range, then
    creates the publication. Running it again changes nothing.
    """
    with engine.begin() as conn:
        province = _province(conn)
        if province is None:
            raise FederationError("this database is not set up: run `opsmon db upgrade` first")
        if province == geo.NATION:
            raise FederationError("`opsmon federation publish` is for a provincial instance; this one is the "
                                  f"national instance ({geo.NATION}), which subscribes (opsmon federation subscribe)")
        level = _wal_level(conn)
        if level != "logical":
            raise FederationError(
                f"wal_level is '{level}': logical replication needs wal_level = logical. Set it in "
                "postgresql.conf (or ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL")
        first, last = id_range(province)
        # No file may be stored while the ids move: EXCLUSIVE conflicts with the ROW EXCLUSIVE lock every
        # ingest writer holds (ingest/store/values.py lock_writers), so stores wait until this commits.
        conn.execute(sa.text("LOCK TABLE submissions, monthly_values, progress_values IN EXCLUSIVE MODE"))
        outside = conn.execute(sa.text("SELECT count(*) FROM submissions WHERE submission_id > :last"),
                               {"last": last}).scalar_one()
        if outside:
            raise FederationError(f"{outside} submissions have ids above province {province}'s range "
                                  f"({first}..{last}); was this database another province's?")
        renumbered = _renumber(conn, first)
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence('submissions', 'submission_id')")).scalar_one()
        top = conn.execute(sa.text("SELECT max(submission_id) FROM submissions")).scalar()
        conn.execute(sa.text(f"ALTER SEQUENCE {sequence} MINVALUE {first} MAXVALUE {last} START WITH {first + 1} "
                             f"RESTART WITH {max(top or first, first) + 1}"))
        exists = conn.execute(sa.text("SELECT 1 FROM pg_publication WHERE pubname = :p"),
                              {"p": PUBLICATION}).scalar()
        if not exists:
            conn.execute(sa.text(
                f"CREATE PUBLICATION {PUBLICATION} FOR TABLE hospitals, monthly_values, progress_values, "
                f"submissions ({', '.join(SUBMISSION_COLUMNS)}) WITH (publish = 'insert, update, delete')"))
    return Published(province, renumbered, not exists, first)


def _renumber(conn: sa.Connection, first: int) -> int:
    """Move submissions below *first* up by *first* (the value rows' references with them)."""
    below = conn.execute(sa.text("SELECT count(*) FROM submissions WHERE submission_id < :f"),
                         {"f": first}).scalar_one()
    if not below:
        return 0
    foreign_keys = conn.execute(sa.text(
        "SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE contype = 'f' AND confrelid = 'submissions'::regclass")).all()
    for fk in foreign_keys:
        conn.execute(sa.text(f'ALTER TABLE {fk.tbl} DROP CONSTRAINT "{fk.conname}"'))
    conn.execute(sa.text("UPDATE submissions SET submission_id = submission_id + :f WHERE submission_id < :f"),
                 {"f": first})
    for fk in foreign_keys:
        conn.execute(sa.text(f"UPDATE {fk.tbl} SET submission_id = submission_id + :f WHERE submission_id < :f"),
                     {"f": first})
        conn.execute(sa.text(f'ALTER TABLE {fk.tbl} ADD CONSTRAINT "{fk.conname}" {fk.definition}'))
    # The refresh's watermarks are submission ids too: they move with them (order is kept).
    conn.execute(sa.text("UPDATE indicator_state SET watermark = watermark + :f WHERE watermark < :f"),
                 {"f": first})
    return below


def _check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise FederationError(f"a subscription name is lower-case letters, digits and _ (starting with a "
                              f"letter, at most 40), got {name!r}")
    return name


def _publisher(conninfo: str) -> str:
    """The province a publisher serves, after checking it publishes and its ids are in range."""
    try:
        with psycopg.connect(conninfo, connect_timeout=10, autocommit=True) as pub:
            province = pub.execute("SELECT value #>> '{}' FROM settings WHERE key = 'province'").fetchone()
            published = pub.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (PUBLICATION,)).fetchone()
            minvalue = pub.execute(
                "SELECT seqmin FROM pg_sequence WHERE seqrelid = "
                "CAST(pg_get_serial_sequence('submissions', 'submission_id') AS regclass)").fetchone()
    except psycopg.Error as exc:
        raise FederationError(f"cannot read the province's database ({conninfo_safe(conninfo)}): "
                              f"{str(exc).strip()}") from exc
    if not province or not province[0]:
        raise FederationError("the database at the conninfo is not an opsmon instance (no province setting)")
    province = province[0]
    if province == geo.NATION:
        raise FederationError("the conninfo names a national instance; subscribe to provinces")
    if not published or minvalue is None or minvalue[0] != id_range(province)[0]:
        raise FederationError(f"province {province} does not publish yet: run `opsmon federation publish` there")
    return province


def conninfo_safe(conninfo: str) -> str:
    """*conninfo* without its password (for messages and status)."""
    return re.sub(r"(password\s*=\s*)(\S+)", r"\1***", conninfo)


def subscribe(engine: Engine, name: str, conninfo: str) -> str:
    """Subscribe this national instance to the province at *conninfo*; return its adcode.

    The national server connects with *conninfo* (as must this process, to check the
    province first). The province's current rows are copied, then changes stream.
    """
    _check_name(name)
    with engine.begin() as conn:
        _require_national(conn, "subscribe")
        if conn.execute(sa.text("SELECT 1 FROM federation_sources WHERE name = :n UNION ALL "
                                "SELECT 1 FROM pg_subscription WHERE subname = :s"),
                        {"n": name, "s": SUBSCRIPTION_PREFIX + name}).first():
            raise FederationError(f"a subscription named {name!r} exists (opsmon federation status)")
    province = _publisher(conninfo)
    with engine.begin() as conn:
        taken = conn.execute(sa.text("SELECT name FROM federation_sources WHERE province = :p"),
                             {"p": province}).scalar()
        if taken:
            raise FederationError(f"province {province} is already subscribed as {taken!r}")
        known = conn.execute(sa.text("SELECT 1 FROM regions WHERE adcode = :p AND level = 'province'"),
                             {"p": province}).scalar()
        if not known:
            raise FederationError(f"province {province} is not in the national regions")
        local = conn.execute(sa.text(
            "SELECT (SELECT count(*) FROM submissions WHERE submission_id < :r) "
            "+ (SELECT count(*) FROM hospitals WHERE left(adcode, 2) = left(:p, 2))"),
            {"r": ID_RANGE, "p": province}).scalar_one()
        if local:
            raise FederationError(
                f"this national database already holds data loaded here (or hospitals of {province}): a "
                "national instance fed by replication takes no uploads of its own; use an empty one")
        conn.execute(sa.text("INSERT INTO federation_sources (name, province) VALUES (:n, :p)"),
                     {"n": name, "p": province})
        # Watermarks count data versions from now on (aggregate.watermark): build in full once.
        conn.execute(sa.text("UPDATE indicator_state SET watermark = NULL"))
    try:
        # CREATE SUBSCRIPTION (it creates the slot on the province) cannot run in a transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(
                f"CREATE SUBSCRIPTION {SUBSCRIPTION_PREFIX}{name} CONNECTION :c PUBLICATION {PUBLICATION}"),
                {"c": conninfo})
    except sa.exc.DBAPIError as exc:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM federation_sources WHERE name = :n"), {"n": name})
        raise FederationError(f"CREATE SUBSCRIPTION failed: {str(exc.orig).strip()}") from exc
    return province


def unsubscribe(engine: Engine, name: str) -> int:
    """Drop the subscription *name* and the province's replicated rows; return how many hospitals went.

    The slot on the province is dropped with it when the province is reachable; when it is
    not, the subscription is detached from the slot, which must then be dropped there
    (``SELECT pg_drop_replication_slot('opsmon_<name>')``) or the province keeps WAL for it.
    """
    _check_name(name)
    sub = SUBSCRIPTION_PREFIX + name
    with engine.begin() as conn:
        _require_national(conn, "unsubscribe")
        province = conn.execute(sa.text("SELECT province FROM federation_sources WHERE name = :n"),
                                {"n": name}).scalar()
        if province is None:
            raise FederationError(f"no subscription named {name!r} (opsmon federation status)")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.execute(sa.text("SELECT 1 FROM pg_subscription WHERE subname = :s"), {"s": sub}).scalar():
            conn.execute(sa.text(f"ALTER SUBSCRIPTION {sub} DISABLE"))
            try:
                conn.execute(sa.text(f"DROP SUBSCRIPTION {sub}"))
            except sa.exc.DBAPIError:  # the province is unreachable: keep its slot, drop ours
                conn.execute(sa.text(f"ALTER SUBSCRIPTION {sub} SET (slot_name = NONE)"))
                conn.execute(sa.text(f"DROP SUBSCRIPTION {sub}"))
    first, last = id_range(province)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(122528763572079)"))  # aggregate.LOCK_KEY
        bounds = {"first": first, "last": last}
        for table in VALUE_TABLES:
            conn.execute(sa.text(f"DELETE FROM {table} WHERE submission_id BETWEEN :first AND :last"), bounds)
        conn.execute(sa.text("DELETE FROM submissions WHERE submission_id BETWEEN :first AND :last"), bounds)
        gone = conn.execute(sa.text("DELETE FROM hospitals WHERE left(adcode, 2) = left(:p, 2)"),
                            {"p": province}).rowcount
        conn.execute(sa.text("DELETE FROM federation_sources WHERE name = :n"), {"n": name})
        conn.execute(sa.text("UPDATE data_state SET version = version + 1, changed_at = now()"))
        conn.execute(sa.text("UPDATE indicator_state SET watermark = NULL"))
    return gone


def status(engine: Engine) -> pd.DataFrame:
    """Each subscribed province's state and the time its national data are as of.

    Columns (:data:`STATUS_COLUMNS`): ``state`` — ``streaming`` (connected; the province's
    data here are current as of ``last_receipt``), ``copying`` (the initial copy is under
    way), ``down`` (enabled but not connected: the province or the network is down; its
    data are as of ``last_arrival`` at best), ``disabled`` (stopped, e.g. after a refused
    row: see ``errors`` and the national server's log); ``as_of`` — the time the national
    rows of the province are known to be current: the last message from the province
    when streaming, else the last time its rows arrived; ``latest_submission`` — the
    newest file received by the province that is here; ``hospitals`` — its hospitals
    here; ``lag_seconds`` — how old the last message from the province is (None when
    not connected).
    """
    with engine.connect() as conn:
        _require_national(conn, "status")
        frame = pd.read_sql_query(sa.text("""
SELECT f.name, CAST(f.province AS text) AS province, r.name AS province_name,
       CASE WHEN NOT coalesce(s.subenabled, false) THEN 'disabled'
            WHEN EXISTS (SELECT 1 FROM pg_subscription_rel sr WHERE sr.srsubid = s.oid AND sr.srsubstate <> 'r')
                 THEN 'copying'
            WHEN w.pid IS NULL THEN 'down'
            ELSE 'streaming' END AS state,
       CASE WHEN w.pid IS NOT NULL THEN w.last_msg_receipt_time ELSE f.last_arrival END AS as_of,
       w.last_msg_receipt_time AS last_receipt, f.last_arrival,
       (SELECT max(received_at) FROM submissions
        WHERE submission_id BETWEEN CAST(left(f.province, 2) AS bigint) * :r
                                AND CAST(left(f.province, 2) AS bigint) * :r + :r - 1) AS latest_submission,
       (SELECT count(*) FROM hospitals h WHERE left(h.adcode, 2) = left(f.province, 2)) AS hospitals,
       extract(epoch FROM now() - w.last_msg_send_time) AS lag_seconds,
       coalesce(st.apply_error_count + st.sync_error_count, 0) AS errors
FROM federation_sources f
JOIN regions r ON r.adcode = f.province
LEFT JOIN pg_subscription s ON s.subname = :prefix || f.name
LEFT JOIN pg_stat_subscription w ON w.subid = s.oid AND w.relid IS NULL
LEFT JOIN pg_stat_subscription_stats st ON st.subid = s.oid
ORDER BY f.province"""), conn, params={"r": ID_RANGE, "prefix": SUBSCRIPTION_PREFIX})
    frame["hospitals"] = frame["hospitals"].astype("int64")
    frame["errors"] = frame["errors"].astype("int64")
    frame["lag_seconds"] = frame["lag_seconds"].astype("float64")
    return frame[STATUS_COLUMNS]


def refresh(engine: Engine):
    """Bring the national derived tables up to date with what has arrived (the aggregates and the risk register).

    What ``opsmon worker`` does on each notification on channel ``opsmon_federation``; for a
    one-off catch-up without the worker.
    """
    from opsmon import indicators

    return indicators.refresh(engine)
