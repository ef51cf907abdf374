"""The one way in: parse → validate → store, used by the upload page, the CLI and the demo."""

from __future__ import annotations

import hashlib
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.ingest import store
from opsmon.ingest.fields import Kind
from opsmon.ingest.parse import Parsed, parse
from opsmon.ingest.problems import Problem, errors, warnings
from opsmon.ingest.validate import Context, validate

Status = Literal["accepted", "unchanged", "rejected"]

# Months of a hospital's own history read for the plausibility warnings.
HISTORY_MONTHS = 24


@dataclass
class FileResult:
    """The outcome of one file."""

    file: str
    kind: Kind | None
    status: Status
    rows: int
    revisions_created: int
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    submission_id: int | None = None
    dry_run: bool = False

    def to_dict(self, language: str = "zh") -> dict[str, Any]:
        """The stable JSON shape of ``opsmon ingest --format json``."""
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
    """What validation needs from the database, read in a few set queries."""
    hospitals = pd.read_sql_query(
        sa.text("SELECT hospital_code, name, adcode, to_char(closed_period, 'YYYY-MM') AS closed_period "
                "FROM hospitals"),
        conn,
    )
    adcodes = set(conn.execute(sa.text("SELECT adcode FROM regions WHERE level = 'county'")).scalars())
    history = None
    if parsed.kind == "monthly" and "hospital_code" in parsed.frame and len(parsed.frame):
        codes = parsed.frame["hospital_code"].dropna().unique().tolist()
        history = pd.read_sql_query(
            sa.text(
                "SELECT m.*, to_char(m.period, 'YYYY-MM') AS period FROM ("
                "  SELECT * FROM monthly_values WHERE is_current AND hospital_code = ANY(:codes)"
                "  AND period >= date_trunc('month', now()) - make_interval(months => :n)) m"
            ),
            conn,
            params={"codes": codes, "n": HISTORY_MONTHS},
        )
        history = history.loc[:, ~history.columns.duplicated(keep="last")]
    return Context(
        today=today or date.today(),
        hospitals=hospitals,
        adcodes=adcodes,
        history=history,
        allowed_hospitals=allowed_hospitals,
    )


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
) -> FileResult:
    """Parse, validate and (unless *dry_run*) store one file; log every attempt.

    *received_at* backdates the submission (bulk loads of history, the demo);
    *allowed_hospitals* limits a hospital user to their own rows.
    """
    parsed = parse(content, file_name, kind=kind)
    attempt = dict(kind=parsed.kind, username=username, file_name=file_name,
                   sha256=hashlib.sha256(content).hexdigest(), size_bytes=len(content), received_at=received_at)
    submission_id = None
    if not dry_run:
        # Committed on its own before the load: a load that dies still leaves its trace.
        with engine.begin() as conn:
            submission_id = store.open_submission(conn, **attempt)

    problems = list(parsed.problems)
    result_kind = parsed.kind
    revisions = 0
    try:
        with engine.begin() as conn:
            if not errors(problems):
                problems += validate(parsed, build_context(conn, parsed, today=today,
                                                           allowed_hospitals=allowed_hospitals))
            if not errors(problems):
                try:
                    if parsed.kind == "registry":
                        outcome = store.store_registry(conn, parsed.frame)
                    else:
                        # A dry run logs nothing: its submission row is rolled back with the rest.
                        sid = submission_id or store.open_submission(conn, **attempt)
                        outcome = store.store_values(conn, parsed.kind, parsed.frame, sid)
                    revisions = outcome.revisions_created
                except store.PeriodLocked as locked:
                    problems += locked.problems
            if dry_run or errors(problems):
                conn.rollback()
            elif revisions:
                store.bump_data_version(conn)
    except Exception:
        if submission_id is not None:
            with suppress(Exception), engine.begin() as conn:
                store.close_submission(conn, submission_id, kind=result_kind, status="failed",
                                       rows_total=len(parsed.frame), rows_accepted=0, revisions_created=0,
                                       errors=errors(problems), warnings=warnings(problems))
        raise

    status: Status
    if errors(problems):
        status, revisions = "rejected", 0
    else:
        status = "accepted" if revisions else "unchanged"
    if submission_id is not None:
        # Its own transaction: a rejected file's log entry is kept.
        with engine.begin() as conn:
            store.close_submission(
                conn, submission_id, kind=result_kind, status=status,
                rows_total=len(parsed.frame), rows_accepted=0 if status == "rejected" else len(parsed.frame),
                revisions_created=revisions, errors=errors(problems), warnings=warnings(problems),
            )
    return FileResult(
        file=file_name, kind=result_kind, status=status, rows=len(parsed.frame),
        revisions_created=revisions, errors=errors(problems), warnings=warnings(problems),
        submission_id=submission_id, dry_run=dry_run,
    )


def ingest_path(path: Path, **kwargs: Any) -> FileResult:
    """:func:`ingest_bytes` for a file on disk (the result names the file by its base name)."""
    return ingest_bytes(Path(path).read_bytes(), Path(path).name, **kwargs)
