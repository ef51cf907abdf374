"""The one way in: parse → validate → store, used by the upload page, the CLI and the demo.

Also the reads that belong to ingestion: a hospital's revisions, the submissions
log, the current values a preview compares a file with, and the due date of a period.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.ingest import store
from opsmon.ingest.fields import FIELDS, Kind
from opsmon.ingest.parse import KIND_NAMES, Parsed, parse
from opsmon.ingest.problems import Problem, capped, errors, in_sheet_order, make_problem, warnings
from opsmon.ingest.read import MAX_BYTES
from opsmon.ingest.validate import CHANGE_METRICS, Context, validate
from opsmon.periods import DEFAULT_DUE_DAY, add_months, check_due_day, configured_tz, due_date, to_date
from opsmon.periods import today as today_in  # ingest_bytes has a parameter 'today'

Status = Literal["accepted", "unchanged", "rejected"]

# Months of a hospital's own history read for the plausibility warnings.
HISTORY_MONTHS = 24


@dataclass
class FileResult:
    """The outcome of one file.

    For a dry run ``status`` and ``revisions_created`` say what storing would do, and
    ``changes`` lists the rows that would become new revisions (see
    :class:`opsmon.ingest.store.StoreResult`). ``parsed`` is the parsed file, for a
    preview to show its rows.
    """

    file: str
    kind: Kind | None
    status: Status
    rows: int
    revisions_created: int
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    submission_id: int | None = None
    dry_run: bool = False
    sha256: str = ""
    changes: pd.DataFrame | None = field(default=None, repr=False)
    parsed: Parsed | None = field(default=None, repr=False)

    @property
    def stored(self) -> bool:
        """Whether this call wrote new revisions (accepted, and not a dry run): the derived tables are behind."""
        return self.status == "accepted" and not self.dry_run

    def to_dict(self, language: str = "zh") -> dict[str, Any]:
        """The stable JSON shape of ``opsmon ingest --format json`` (documented in README.md)."""
        return {
            "file": self.file,
            "kind": self.kind,
            "status": self.status,
            "rows": self.rows,
            "revisions_created": self.revisions_created,
            "errors": [p.to_dict(language) for p in self.errors],
            "warnings": [p.to_dict(language) for p in self.warnings],
        }


def build_context(conn: sa.Connection, parsed: Parsed, *, today: date | None = None,
                  allowed_hospitals: set[str] | None = None) -> Context:
    """What validation needs from the database, read in a few set queries.

    *today* defaults to today in the configured zone (:func:`opsmon.periods.configured_tz`).
    """
    # Through COPY and pandas' C reader: a national registry is 12,000 rows.
    hospitals = store.read_copy(
        conn,
        "SELECT CAST(hospital_code AS text) AS hospital_code, name, CAST(adcode AS text) AS adcode, "
        "to_char(closed_period, 'YYYY-MM') AS closed_period FROM hospitals",
        dtype="string",
    )
    adcodes = set(conn.execute(sa.text("SELECT adcode FROM regions WHERE level = 'county'")).scalars())
    history = None
    frame = parsed.frame
    if parsed.kind == "monthly" and {"hospital_code", "period"} <= set(frame.columns) and len(frame):
        codes = frame["hospital_code"].dropna().unique().tolist()
        if allowed_hospitals is not None:
            # Never another hospital's figures: history is read only for rows the submitter may
            # send (the others are rejected as out of scope, and their plausibility never runs).
            codes = [c for c in codes if c in allowed_hospitals]
        periods = frame["period"].dropna()
        if codes and len(periods):
            # Only codes that can be stored (18 ASCII letters and digits) can have a history;
            # they go in as one comma-separated string: a 12,000-element array literal costs
            # the server more to parse (~60 ms) than the query itself. char(18) is the
            # column's type, so a one-hospital upload uses the key index. A file of most of
            # the registry reads every hospital's months instead: testing 300,000 rows against
            # 12,000 codes costs more than the rows of the few other hospitals (which the
            # checks never look at: they match history to the file's rows by hospital).
            stored = [c for c in codes if len(c) == 18 and c.isascii() and c.isalnum()]
            which = ("AND hospital_code = ANY(CAST(string_to_array(%(codes)s, ',') AS char(18)[])) "
                     if 2 * len(stored) <= len(hospitals) or allowed_hospitals is not None else "")
            # The months before the file's own, however old they are (a history load is
            # checked against the history before it, not against "now"). Month bounds are
            # dates worked out here: a date compared with date - interval is a timestamp
            # comparison, per row and column.
            first, last = to_date(periods.min()), to_date(periods.max())
            numbers = [f.code for f in FIELDS["monthly"] if f.type in ("money", "count")]
            metrics = [c for c in numbers if c in CHANGE_METRICS]
            rows = ("SELECT CAST(hospital_code AS text) AS hospital_code, to_char(period, 'YYYY-MM') AS period, {} "
                    f"FROM monthly_values WHERE is_current {which}"
                    "AND period >= CAST(%(start)s AS date) AND period {} CAST(%(end)s AS date)")
            dtype = {"hospital_code": "string", "period": "string", **{c: "float64" for c in numbers}}
            # Every value of the month just before the file and of its own months (last-month
            # checks); only the change metrics of the older ones (the robust z-score) — a
            # fraction of the bytes to read.
            codes_text = ",".join(stored)
            recent = store.read_copy(conn, rows.format(", ".join(numbers), "<="),
                                     {"codes": codes_text, "start": add_months(first, -1).isoformat(),
                                      "end": last.isoformat()},
                                     dtype=dtype)
            older = store.read_copy(conn, rows.format(", ".join(metrics), "<"),
                                    {"codes": codes_text, "start": add_months(first, -HISTORY_MONTHS).isoformat(),
                                     "end": add_months(first, -1).isoformat()},
                                    dtype=dtype)
            parts = [part for part in (recent, older) if not part.empty] or [recent]
            history = pd.concat(parts, ignore_index=True).reindex(columns=list(recent.columns))
    return Context(
        today=today or today_in(configured_tz(conn)),
        hospitals=hospitals,
        adcodes=adcodes,
        history=history,
        allowed_hospitals=allowed_hospitals,
    )


def _aware(moment: datetime, zone: ZoneInfo) -> datetime:
    # A naive time is the reporting calendar's (China) time — what a clerk or a history file
    # means — never the database session's zone, which on a server is usually UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def ingest_bytes(
    content: bytes,
    file_name: str,
    *,
    engine: Engine,
    kind: Kind | None = None,
    username: str = "cli",
    dry_run: bool = False,
    received_at: datetime | None = None,
    today: date | None = None,
    allowed_hospitals: set[str] | None = None,
    allowed_kinds: Collection[str] | None = None,
    max_bytes: int = MAX_BYTES,
) -> FileResult:
    """Parse, validate and (unless *dry_run*) store one file; log every attempt.

    A file with any error is rejected whole: nothing of it is stored, and the
    submissions log gains one 'rejected' row with the errors. Accepted rows that
    differ from the current revision of their (hospital, period) become a new
    revision; identical rows store nothing (a file of only such rows is 'unchanged').

    *received_at* backdates the submission (bulk loads of history, the demo); a naive
    value is China time (the configured zone: :func:`opsmon.periods.configured_tz`). It
    defaults to the moment the call starts. *allowed_hospitals* limits a hospital user to
    their own rows (a region user to the hospitals of their area);
    *allowed_kinds* the kinds of file the uploader may send; *max_bytes* bounds the file size.
    A *dry_run* logs and stores nothing but reports what storing would do.
    """
    started = datetime.now(timezone.utc)  # the default received_at: when the call starts
    sha256 = hashlib.sha256(content).hexdigest()
    parsed = parse(content, file_name, kind=kind, max_bytes=max_bytes)
    submission_id = None
    # One connection for the attempt's transactions — its log entry, the load, the outcome —
    # rather than one each from the pool (each a connect, or a pre-ping and a reset).
    with engine.connect() as conn:
        # Committed on its own before the load: a load that dies still leaves its trace.
        with conn.begin():
            zone = configured_tz(conn)
            received_at = _aware(received_at, zone) if received_at is not None else started
            attempt = dict(kind=parsed.kind, username=username, file_name=file_name,
                           sha256=sha256, size_bytes=len(content), received_at=received_at)
            if not dry_run:
                submission_id = store.open_submission(conn, **attempt)

        problems = list(parsed.problems)
        kind_refused = allowed_kinds is not None and parsed.kind is not None and parsed.kind not in allowed_kinds
        if kind_refused:
            zh, en = KIND_NAMES[parsed.kind]
            problems.append(make_problem("kind_not_permitted", value=parsed.kind, kind_zh=zh, kind_en=en))
        result_kind = parsed.kind
        revisions = 0
        changes = None
        try:
            with conn.begin() as load:
                if parsed.kind is not None and len(parsed.frame) and not kind_refused:  # refused whatever it holds
                    # Also after cell-level parse errors: a clerk sees every problem of the file at
                    # once (validate skips the cells that did not parse).
                    problems = in_sheet_order(
                        problems + validate(parsed, build_context(conn, parsed, today=today or today_in(zone),
                                                                  allowed_hospitals=allowed_hospitals)),
                        parsed.kind)
                if not errors(problems):
                    try:
                        if parsed.kind == "registry":
                            outcome = store.store_registry(conn, parsed.frame, report_changes=dry_run)
                        else:
                            # A dry run logs nothing: its submission row is rolled back with the rest.
                            sid = submission_id or store.open_submission(conn, **attempt)
                            outcome = store.store_values(conn, parsed.kind, parsed.frame, sid,
                                                         report_changes=dry_run)
                        revisions, changes = outcome.revisions_created, outcome.changes
                    except store.PeriodLocked as locked:
                        problems += locked.problems
                if dry_run or errors(problems):
                    load.rollback()
                elif revisions:
                    store.bump_data_version(conn)
        except Exception:
            if submission_id is not None:
                listed = capped(problems)
                # On a connection of its own: this one may be the reason for the failure.
                with suppress(Exception), engine.begin() as other:
                    store.close_submission(other, submission_id, kind=result_kind, status="failed",
                                           rows_total=len(parsed.frame), rows_accepted=0, revisions_created=0,
                                           errors=errors(listed), warnings=warnings(listed),
                                           periods=file_periods(parsed))
            raise

        status: Status
        if errors(problems):
            status, revisions, changes = "rejected", 0, None
        else:
            status = "accepted" if revisions else "unchanged"
        # What the result and the submissions log list: the first MAX_ERRORS errors and
        # MAX_WARNINGS warnings in sheet order, the rest counted in one last problem of each
        # (a capped list keeps an error when there was one: the status above stands).
        listed = capped(problems)
        if submission_id is not None:
            # Its own transaction: a rejected file's log entry is kept.
            with conn.begin():
                store.close_submission(
                    conn, submission_id, kind=result_kind, status=status,
                    rows_total=len(parsed.frame), rows_accepted=0 if status == "rejected" else len(parsed.frame),
                    revisions_created=revisions, errors=errors(listed), warnings=warnings(listed),
                    periods=file_periods(parsed),
                )
    return FileResult(
        file=file_name, kind=result_kind, status=status, rows=len(parsed.frame),
        revisions_created=revisions, errors=errors(listed), warnings=warnings(listed),
        submission_id=submission_id, dry_run=dry_run, sha256=sha256, changes=changes, parsed=parsed,
    )


def file_periods(parsed: Parsed) -> list[str]:
    """The well-formed reporting periods ('YYYY-MM') *parsed*'s rows name, sorted (none for a registry)."""
    if "period" not in parsed.frame.columns:
        return []
    named = pd.Series(parsed.frame["period"].dropna().unique(), dtype="string")
    return sorted(named[named.str.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", na=False)].tolist())


def ingest_path(path: Path, **kwargs: Any) -> FileResult:
    """:func:`ingest_bytes` for a file on disk (the result names the file by its base name)."""
    return ingest_bytes(Path(path).read_bytes(), Path(path).name, **kwargs)


# ---------------------------------------------------------------------------------------------
def list_revisions(engine: Engine, hospital_code: str, period: str | None = None,
                   kind: Kind = "monthly") -> pd.DataFrame:
    """Every revision of a hospital's monthly (or progress) reports, oldest first.

    Columns: period ('YYYY-MM'), revision, is_current, submission_id, username,
    file_name, received_at (when the file that created the revision arrived).
    """
    with engine.connect() as conn:
        return store.revisions(conn, kind, hospital_code, period)


def current_values(engine: Engine, kind: Kind, keys: pd.DataFrame) -> pd.DataFrame:
    """The current stored values of the (hospital, period) rows — or hospitals — named in *keys*."""
    with engine.connect() as conn:
        return store.current_values(conn, kind, keys)


def list_submissions(engine: Engine, *, limit: int = 50, username: str | None = None,
                     scope: str | None = None, period: str | None = None, status: str | None = None,
                     offset: int = 0) -> pd.DataFrame:
    """The submissions log, newest first: status, user, file, times, counts, numbers of errors and warnings,
    the reporting periods the file's rows name.

    *scope* (a region adcode or a hospital code) keeps the files uploaded by users inside it; *period*
    ('YYYY-MM') the files naming that month; *status* one outcome; *offset* skips that many (paging).
    """
    with engine.connect() as conn:
        return store.submissions(conn, limit=limit, username=username, scope=scope, period=period,
                                 status=status, offset=offset)


def get_submission(engine: Engine, submission_id: int, *, scope: str | None = None) -> dict[str, Any] | None:
    """One logged attempt with its errors and warnings, or None (also when it is outside *scope*)."""
    with engine.connect() as conn:
        return store.submission(conn, submission_id, scope=scope)


def due_day(engine: Engine) -> int:
    """The day of the following month a period's report is due (settings 'due_day', default 10)."""
    with engine.connect() as conn:
        value = store.setting(conn, "due_day")
    return check_due_day(value if value is not None else DEFAULT_DUE_DAY)


def set_due_day(engine: Engine, day: int) -> None:
    """Set the due day (1–28) for every period."""
    day = check_due_day(day)
    with engine.begin() as conn:
        store.set_setting(conn, "due_day", day)


def due_date_for(engine: Engine, period: str) -> date:
    """The date *period*'s ('YYYY-MM') report is due: the configured due day of the following month.

    A report is on time when the file holding its first accepted revision arrived by the
    end of that day, China time.
    """
    return due_date(period, due_day(engine))
