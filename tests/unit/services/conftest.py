"""The services' rules on in-memory stores (`tests/fakes.py`): no database, a clock moved by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.clock import SettableClock

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)
