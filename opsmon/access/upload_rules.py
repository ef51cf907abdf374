"""What a user may upload: the kinds of file their role sends, and the hospitals their rows may name.

The same rules whether the file comes through the upload page or ``opsmon ingest --as USER``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from opsmon.access.users import User


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
