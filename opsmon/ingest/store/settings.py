"""The settings table: small JSON values by key (the due day of a period, …)."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa


def setting(conn: sa.Connection, key: str) -> Any:
    """A value of the settings table (JSON-decoded), None when unset."""
    return conn.execute(sa.text("SELECT value FROM settings WHERE key = :k"), {"k": key}).scalar()


def set_setting(conn: sa.Connection, key: str, value: Any) -> None:
    """Insert or replace a value of the settings table."""
    conn.execute(sa.text(
        "INSERT INTO settings (key, value) VALUES (:k, CAST(:v AS jsonb)) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
    ), {"k": key, "v": json.dumps(value)})
