from __future__ import annotations

import pytest

from tests.support.driver import Driver, VirtualClock
from tests.support.fake_provider import FakeProvider


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def fake(aws, clock, monkeypatch) -> FakeProvider:
    """Every provider name answers with this one in-memory provider."""
    from batchrelay.lifecycle import provider_lookup

    provider = FakeProvider("openai", clock=clock)
    monkeypatch.setattr(provider_lookup, "provider_for", lambda name: provider)
    return provider


@pytest.fixture
def driver(aws, clock, monkeypatch) -> Driver:
    # The driver makes a failed record visible again at once, standing in for the queue's
    # visibility timeout (30 min), which in AWS always outlasts the creation lease.
    from batchrelay.settings import get_settings

    monkeypatch.setenv("CREATION_LEASE_SECONDS", "0")
    get_settings.cache_clear()
    return Driver(aws, clock)
