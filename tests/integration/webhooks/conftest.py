"""Fixtures of the webhook tests (helpers: tests/support/webhooks.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from batchrelay.settings import get_settings
from tests.support.webhooks import FakeClock, QueueDriver, Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def webhook_env(aws, monkeypatch) -> dict[str, str]:
    """The stack on moto, with http and loopback receivers allowed (as in local mode)."""
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP", "1")
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "1")
    get_settings.cache_clear()
    return aws


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """Moves the delivery scheduler and moto's SQS delays/visibility together."""
    import moto.sqs.models

    from batchrelay import clock as webhook_clock

    fake = FakeClock()
    monkeypatch.setattr(webhook_clock, "now", lambda: fake.now)
    monkeypatch.setattr(moto.sqs.models, "unix_time_millis", lambda *a: fake.now * 1000)
    return fake


@pytest.fixture
def queue(webhook_env) -> QueueDriver:
    return QueueDriver(webhook_env)
