"""Fixtures for the document tests: 通报 built once per session from the read-only demo, its clock pinned."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import DEMO_TODAY

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PROVINCE = "220000"
PREFECTURE = "220100"  # 长春市


@contextmanager
def pinned() -> Iterator[None]:
    """The demo's reference date as the clock (which month is closed; overdue judged on it) — only
    while the block runs: other tests of the session must not inherit it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())
        yield


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSMON_TODAY", DEMO_TODAY.isoformat())


@pytest.fixture(scope="session")
def closed_month(demo_engine: Engine) -> str:
    from opsmon.indicators import risk

    with pinned():
        return risk.latest_closed_period(demo_engine)


@pytest.fixture(scope="session")
def bulletin_docx(demo_engine: Engine, closed_month: str) -> dict[str, bytes]:
    """The DOCX 通报 of the latest closed month for the province and for 长春市."""
    from opsmon.documents import bulletin

    with pinned():
        return {code: bulletin.render(demo_engine, closed_month, region=code, fmt="docx")
                for code in (PROVINCE, PREFECTURE)}


@pytest.fixture(scope="session")
def bulletin_pdf(demo_engine: Engine, closed_month: str) -> bytes:
    """The province's PDF 通报 of the latest closed month."""
    from opsmon.documents import bulletin

    with pinned():
        return bulletin.render(demo_engine, closed_month, fmt="pdf")
