"""Fixtures for the indicator tests: the hand-checkable province of :mod:`fixture`."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

import province_fixture as fixture


@pytest.fixture
def province(engine: Engine) -> Engine:
    """A fresh database holding the fixture province."""
    fixture.load(engine)
    return engine
