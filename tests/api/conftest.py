"""The API's tests run over HTTP against ``opsmon serve`` on a small demo province of their own
(writable: the pushes change it), the server's clock at the demo's reference date."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
import requests
import sqlalchemy as sa

from opsmon.access import tokens, users
from opsmon.ingest.fields import FIELDS
from opsmon.sql import db
from tests.conftest import DEMO_TODAY, writable_demo
from tests.dashboard.conftest import serve

API_MONTH = "2026-05"  # the demo's last month (DEMO_TODAY is 2026-06-23)


@pytest.fixture(autouse=True)
def api_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens are made on the server's day: an expiry is judged on the same clock."""
    monkeypatch.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())


@pytest.fixture(scope="session")
def api_db_url(databases, template_db, tmp_path_factory) -> str:
    """A demo province of 40 hospitals × 14 months for the API's tests (they write to it; in 14 months the
    12-month risk rules fire, so there are risks to dispose of)."""
    return writable_demo(databases, template_db, tmp_path_factory, "api-demo", seed=5)


@pytest.fixture(scope="session")
def api_engine(api_db_url: str) -> Iterator[sa.Engine]:
    eng = db.create_engine(api_db_url, poolclass=sa.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def api_url(api_db_url: str, tmp_path_factory) -> Iterator[str]:
    """``opsmon serve`` on the API demo, its clock at DEMO_TODAY, a rate limit no test reaches by accident."""
    with serve(api_db_url, tmp_path_factory.mktemp("api-serve"), ready_path="/healthz",
               OPSMON_TODAY=DEMO_TODAY.isoformat(), OPSMON_API_RATE_LIMIT="100000 per minute") as url:
        yield url


@dataclass(frozen=True)
class Caller:
    """A user with a token, and a requests session sending it."""

    username: str
    token: str
    token_id: int
    http: requests.Session


def make_caller(engine: sa.Engine, username: str, role: str, unit: str, *, label: str = "",
                expires_on: date | None = None) -> Caller:
    """A user (made unless it exists) and a new token of theirs."""
    if users.get_user(engine, username) is None:
        users.add_user(engine, username, "test-password-1", role, unit)
    token, secret = tokens.add_token(engine, username, label=label or f"{username}-test", expires_on=expires_on)
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {secret}"
    return Caller(username, secret, token.token_id, http)


def hospitals_in(engine: sa.Engine, prefecture: str) -> list[str]:
    """Codes of the open hospitals in *prefecture*, in code order."""
    with engine.connect() as conn:
        return [c.strip() for c in conn.execute(sa.text(
            "SELECT h.hospital_code FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
            "WHERE a.ancestor_adcode = :p AND h.closed_period IS NULL ORDER BY 1"), {"p": prefecture}).scalars()]


def prefectures(engine: sa.Engine) -> list[str]:
    """Prefectures with at least two open hospitals, in code order."""
    with engine.connect() as conn:
        found = conn.execute(sa.text(
            "SELECT a.ancestor_adcode FROM hospitals h JOIN region_ancestors a ON a.adcode = h.adcode "
            "JOIN regions r ON r.adcode = a.ancestor_adcode WHERE r.level = 'prefecture' "
            "AND h.closed_period IS NULL GROUP BY 1 HAVING count(*) >= 2 ORDER BY 1")).scalars().all()
    return list(found)


def month_row(engine: sa.Engine, hospital: str, period: str = API_MONTH) -> dict[str, object]:
    """The hospital's current monthly row for *period* as field code → value (amounts as Decimals)."""
    codes = [f.code for f in FIELDS["monthly"]]
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            f"SELECT {', '.join(c for c in codes if c not in ('hospital_code', 'period'))} FROM monthly_values "
            "WHERE hospital_code = :h AND period = CAST(:p AS date) AND is_current"),
            {"h": hospital, "p": f"{period}-01"}).mappings().first()
    assert row is not None, f"{hospital} has no {period} report"
    return {"hospital_code": hospital, "period": period, **dict(row)}


def more_other_revenue(row: dict[str, object], amount: int) -> dict[str, object]:
    """*row* with *amount* yuan more 其他收入, and so as much more 总收入 (the identity holds)."""
    return {**row, "other_revenue": row["other_revenue"] + amount, "total_revenue": row["total_revenue"] + amount}


def month_csv(*rows: dict[str, object]) -> bytes:
    """Rows as a CSV file with field codes as headers (what an HRP system may send)."""
    columns = [c for c in rows[0] if any(r[c] is not None for r in rows)]
    buf = io.StringIO(newline="")
    out = csv.writer(buf)
    out.writerow(columns)
    out.writerows([["" if r[c] is None else r[c] for c in columns] for r in rows])
    return buf.getvalue().encode("utf-8")


def revisions(engine: sa.Engine, hospital: str, period: str = API_MONTH) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM monthly_values WHERE hospital_code = :h "
                                    "AND period = CAST(:p AS date)"), {"h": hospital, "p": f"{period}-01"}).scalar()
