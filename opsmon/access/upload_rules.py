"""What a user may upload — the kinds of file their role sends, the hospitals their rows may name —
and uploading as them.

One path whether the file comes through the upload page or ``opsmon ingest --as USER``:
:func:`upload_as` applies the rules, ingests and writes the audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.access.audit import record_upload
from opsmon.access.users import User
from opsmon.ingest.api import FileResult, ingest_bytes


@dataclass(frozen=True)
class UploadRules:
    """Arguments for :func:`opsmon.ingest.api.ingest_bytes`: ``allowed_hospitals`` None means any."""

    allowed_kinds: tuple[str, ...]
    allowed_hospitals: set[str] | None


def upload_rules(engine: Engine, user: User) -> UploadRules:
    """A hospital user: its own hospital; a region user: the hospitals of its area; the top of the hierarchy: any.

    ``PermissionError`` for a role that may not upload at all.
    """
    role = user.permissions
    if not role.upload_kinds:
        raise PermissionError(f"a {user.role} user may not upload")
    if user.hospital_code:
        return UploadRules(role.upload_kinds, {user.hospital_code.strip()})
    with engine.connect() as conn:
        is_root = conn.execute(sa.text("SELECT parent_adcode IS NULL FROM regions WHERE adcode = :c"),
                               {"c": user.scope}).scalar()
        if is_root:
            return UploadRules(role.upload_kinds, None)
        codes = conn.execute(sa.text(
            "SELECT h.hospital_code FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
            "WHERE a.ancestor_adcode = :c"), {"c": user.scope}).scalars().all()
    return UploadRules(role.upload_kinds, {c.strip() for c in codes})


def upload_as(engine: Engine, user: User | None, content: bytes, file_name: str, *, kind: str | None = None,
              dry_run: bool = False, address: str | None = None, rules: UploadRules | None = None) -> FileResult:
    """Ingest *content* as *user* — its role's kinds, its scope's hospitals — and audit the attempt.

    *user* None is the operator ``cli`` (the command line without ``--as``): unrestricted.
    *rules*: the user's :func:`upload_rules`, when the caller has them already (a load of many files).
    Every attempt is in the audit log, previews (dry runs) included: the submissions log keeps
    no dry run, and what a user looked at must be traceable.
    ``PermissionError`` for a role that may not upload at all.
    """
    username = user.username if user is not None else "cli"
    limits = {}
    if user is not None:
        allowed = rules or upload_rules(engine, user)
        limits = {"allowed_hospitals": allowed.allowed_hospitals, "allowed_kinds": allowed.allowed_kinds}
    result = ingest_bytes(content, file_name, engine=engine, kind=kind, username=username, dry_run=dry_run, **limits)
    record_upload(engine, result, username=username, address=address)
    return result
