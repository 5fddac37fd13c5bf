from __future__ import annotations

from collections.abc import Iterator

import pytest

from batchrelay import registry
from batchrelay_tools.simulator import SimulatorServer, SimulatorSettings
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


@pytest.fixture
def sim(aws, clock, monkeypatch) -> Iterator[SimulatorServer]:
    """The provider simulator on the driver's virtual clock, reached through the real SDKs."""
    from batchrelay.providers.adapters import reset_providers
    from batchrelay.settings import get_settings

    with SimulatorServer(SimulatorSettings(processing_seconds=100.0), clock=clock) as server:
        # Every registered provider at its place on the simulator (as local mode routes them).
        for spec in registry.specs():
            monkeypatch.setenv(spec.base_url_env, server.base_url + spec.simulator_path)
            monkeypatch.setenv(spec.api_key_env, f"{spec.name}-sim-key")
        get_settings.cache_clear()   # their SDKs take the base URL from the settings only
        reset_providers()
        yield server
    reset_providers()


@pytest.fixture
def bedrock_sim(aws, clock, monkeypatch) -> Iterator[SimulatorServer]:
    """The simulator as Amazon Bedrock (boto3's bedrock and bedrock-runtime clients), S3 on moto,
    on the driver's virtual clock, with a record minimum of 10 (tests.support.bedrock)."""
    from batchrelay.providers.adapters import reset_providers
    from batchrelay.settings import get_settings
    from tests.support.bedrock import TEST_MINIMUM, simulator_env

    settings = SimulatorSettings(processing_seconds=100.0, bedrock_min_records=TEST_MINIMUM)
    with SimulatorServer(settings, clock=clock) as server:
        for name, value in simulator_env(server).items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        reset_providers()
        yield server
    reset_providers()
