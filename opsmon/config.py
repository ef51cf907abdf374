"""Settings read from the environment, in one place.

Everything a deployment may change is here or in the database's ``settings``
table; nothing else reads ``os.environ``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEFAULT_PROVINCE = "220000"  # 吉林省


@dataclass(frozen=True)
class Settings:
    """The process-wide configuration."""

    database_url: str | None
    data_dir: Path
    province: str
    secret_key: str | None
    production: bool
    # The clock's override (OPSMON_TODAY, 'YYYY-MM-DD' or an ISO date-time, local time when naive):
    # a demo pinned in the past, and the tests' servers, run on it. None: the real clock.
    today: datetime | None = None
    # Requests per token (per address without one) to /api/v1, in flask-limiter's notation
    # (OPSMON_API_RATE_LIMIT). Counted per server process (flask-limiter's memory storage).
    api_rate_limit: str = "120 per minute"
    # Reads (the dashboard, the API's GETs) connect through OPSMON_READ_DATABASE_URL when set (a login
    # role with SELECT only, e.g. on a managed PostgreSQL), else through DATABASE_URL as the
    # opsmon_reader role; either way read-only, each statement cut off after statement_timeout_ms
    # (OPSMON_STATEMENT_TIMEOUT, milliseconds).
    read_database_url: str | None = None
    statement_timeout_ms: int = 5000

    @property
    def pgdata(self) -> Path:
        """Where the embedded PostgreSQL keeps its cluster."""
        return self.data_dir / "pgdata"


def load() -> Settings:
    """Read the settings from the environment (call again after changing it)."""
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        data_dir=Path(os.environ.get("OPSMON_DATA_DIR") or ".opsmon").resolve(),
        province=os.environ.get("OPSMON_PROVINCE") or DEFAULT_PROVINCE,
        secret_key=os.environ.get("OPSMON_SECRET_KEY") or None,
        production=os.environ.get("OPSMON_ENV", "").lower() == "production",
        today=datetime.fromisoformat(os.environ["OPSMON_TODAY"]) if os.environ.get("OPSMON_TODAY") else None,
        api_rate_limit=os.environ.get("OPSMON_API_RATE_LIMIT") or "120 per minute",
        read_database_url=os.environ.get("OPSMON_READ_DATABASE_URL") or None,
        statement_timeout_ms=int(os.environ.get("OPSMON_STATEMENT_TIMEOUT") or 5000),
    )
