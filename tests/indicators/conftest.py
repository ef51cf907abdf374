"""Fixtures for the indicator tests: the hand-checkable province of :mod:`fixture`."""

from __future__ import annotations

import province_fixture as fixture
import pytest
from sqlalchemy.engine import Engine


@pytest.fixture
def province(engine: Engine) -> Engine:
    """A fresh database holding the fixture province."""
    fixture.load(engine)
    return engine
