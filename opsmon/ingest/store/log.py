"""The submissions log: every file attempt, opened before its load and closed with its outcome."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from opsmon.ingest.fields import Kind
from opsmon.ingest.problems import Problem
from opsmon.ingest.store.frames import read_frame


def open_submission(
    conn: sa.Connection,
    *,
    kind: Kind | None,
    username: str,
    file_name: str,
    sha256: str,
    size_bytes: int,
    received_at: datetime | None,
) -> int:
    """Record a file attempt as 'processing' and return its id.

    Call it on its own committed connection: the row must survive a load that dies.
    """
    return conn.execute(
        sa.text(
            "INSERT INTO submissions (kind, username, file_name, sha256, size_bytes, received_at, status) "
            "VALUES (:kind, :user, :file, :sha, :size, coalesce(:at, now()), 'processing') "
            "RETURNING submission_id"
        ),
        {"kind": kind, "user": username, "file": file_name, "sha": sha256, "size": size_bytes, "at": received_at},
    ).scalar_one()


def close_submission(
    conn: sa.Connection,
    submission_id: int,
    *,
    kind: Kind | None,
    status: str,
    rows_total: int,
    rows_accepted: int,
    revisions_created: int,
    errors: list[Problem],
    warnings: list[Problem],
    periods: list[str] | None = None,
) -> None:
    """Write a submission's outcome (*periods*: the reporting periods its rows name)."""
    conn.execute(
        sa.text(
            "UPDATE submissions SET kind = :kind, status = :status, finished_at = clock_timestamp(), "
            "rows_total = :total, rows_accepted = :accepted, revisions_created = :revs, "
            "errors = CAST(:errors AS jsonb), warnings = CAST(:warnings AS jsonb), "
            "periods = CAST(:periods AS text[]) WHERE submission_id = :id"
        ),
        {
            "id": submission_id,
            "kind": kind,
            "status": status,
            "total": rows_total,
            "accepted": rows_accepted,
            "revs": revisions_created,
            "errors": json.dumps([p.to_dict() for p in errors], ensure_ascii=False),
            "warnings": json.dumps([p.to_dict() for p in warnings], ensure_ascii=False),
            "periods": list(periods or []),
        },
    )


SUBMISSION_COLUMNS = ("submission_id, kind, username, file_name, sha256, size_bytes, received_at, finished_at, "
                      "status, rows_total, rows_accepted, revisions_created, periods")


# Submissions a scope may see: those whose uploader belongs inside it (the top of the hierarchy sees all,
# including CLI and demo loads). A file's errors quote its rows, so a hospital sees only its own users' files.
_SUBMITTED_IN_SCOPE = """(
    CAST(:scope AS text) IS NULL
    OR :scope = (SELECT adcode FROM regions WHERE parent_adcode IS NULL)
    OR username IN (SELECT u.username FROM users u WHERE u.hospital_code = :scope)
    OR username IN (SELECT u.username FROM users u LEFT JOIN hospitals h ON h.hospital_code = u.hospital_code
                    WHERE coalesce(h.adcode, u.region_adcode) IN
                          (SELECT adcode FROM region_ancestors WHERE ancestor_adcode = :scope)))"""


def submissions(conn: sa.Connection, *, limit: int = 50, username: str | None = None,
                scope: str | None = None, period: str | None = None, status: str | None = None,
                offset: int = 0) -> pd.DataFrame:
    """The submissions log, newest first, with the number of errors and warnings of each attempt.

    *scope* (a region adcode or hospital code) keeps the files uploaded by users inside it;
    *period* ('YYYY-MM') the files whose rows name it; *status* the attempts with that outcome.
    """
    where = "WHERE " + _SUBMITTED_IN_SCOPE + (" AND username = :user " if username else " ")
    if period:
        where += "AND CAST(:period AS text) = ANY(periods) "
    if status:
        where += "AND status = :status "
    return read_frame(conn, (
        f"SELECT {SUBMISSION_COLUMNS}, jsonb_array_length(errors) AS n_errors, "
        f"jsonb_array_length(warnings) AS n_warnings FROM submissions {where}"
        "ORDER BY received_at DESC, submission_id DESC LIMIT :limit OFFSET :offset"
    ), {"limit": limit, "user": username, "scope": scope, "period": period, "status": status, "offset": offset})


def submission(conn: sa.Connection, submission_id: int, *, scope: str | None = None) -> dict[str, Any] | None:
    """One submission with its errors and warnings (lists of problem dicts); None if there is none in *scope*."""
    row = conn.execute(sa.text(
        f"SELECT {SUBMISSION_COLUMNS}, errors, warnings FROM submissions WHERE submission_id = :id "
        f"AND {_SUBMITTED_IN_SCOPE}"
    ), {"id": submission_id, "scope": scope}).mappings().first()
    return dict(row) if row else None
