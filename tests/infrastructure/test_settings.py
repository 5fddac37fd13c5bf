"""Deployment settings from CDK context: parsing and the limits AWS enforces, at synth time."""

from __future__ import annotations

import pytest

from infra.settings import StackSettings


def test_defaults_bound_every_queue_consumer():
    settings = StackSettings()
    assert (settings.jobs_max_concurrency, settings.collect_max_concurrency, settings.webhooks_max_concurrency) == (
        5,
        10,
        20,
    )
    assert settings.webhook_allowed_destinations == ()


@pytest.mark.parametrize("field", ["jobs_max_concurrency", "collect_max_concurrency", "webhooks_max_concurrency"])
@pytest.mark.parametrize("value", [0, 1, 1001])
def test_max_concurrency_outside_lambdas_range_is_refused(field, value):
    with pytest.raises(ValueError, match=f"{field.split('_')[0]}_max_concurrency must be between 2 and 1000"):
        StackSettings(**{field: value})


def test_a_malformed_webhook_destination_is_refused_at_synth():
    with pytest.raises(ValueError, match="host:port"):
        StackSettings(webhook_allowed_destinations=("hooks.example.com",))
    assert StackSettings(webhook_allowed_destinations=("hooks.example.com:8443", "*:9443"))
