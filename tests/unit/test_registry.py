"""The provider registry: what each built-in provider declares, and its rules."""

from __future__ import annotations

import pytest

from batchrelay import registry
from batchrelay.providers.adapters import adapter_class


def test_one_model_per_batch_is_declared_per_provider():
    assert registry.spec("openai").capabilities.one_model_per_batch is True
    assert registry.spec("anthropic").capabilities.one_model_per_batch is False  # Message Batches mix models


def test_every_entry_names_an_adapter_of_its_own_name():
    for spec in registry.specs():
        assert adapter_class(spec.name).name == spec.name


def test_an_unknown_provider_is_named_in_the_error():
    with pytest.raises(registry.UnknownProvider, match="nope"):
        registry.spec("nope")


def test_names_are_checked_and_registered_once():
    with pytest.raises(ValueError):
        registry.register(registry.spec("openai"))
    bad = registry.ProviderSpec(
        name="Bad-Name", title="x", adapter="m:C", endpoints=(), limits=registry.ProviderLimits(1, 1),
        capabilities=registry.spec("openai").capabilities,
    )
    with pytest.raises(ValueError):
        registry.register(bad)
