"""The database layer: connections (external or embedded PostgreSQL), migrations, regions."""

from opsmon.sql.db import connect, get_engine, resolve_url
from opsmon.sql.migrate import status, upgrade

__all__ = ["connect", "get_engine", "resolve_url", "status", "upgrade"]
