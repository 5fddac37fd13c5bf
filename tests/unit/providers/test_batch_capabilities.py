"""Capabilities an adapter declares as class attributes, read through the registry."""

from __future__ import annotations

import pytest

from batchrelay.providers import registry
from batchrelay.providers.base import BatchProvider


def test_one_model_per_batch_is_declared_by_each_adapter():
    assert registry.one_model_per_batch("openai") is True
    assert registry.one_model_per_batch("anthropic") is False   # Message Batches take mixed models


def test_a_provider_that_says_nothing_gets_the_safe_default():
    # More, smaller batches are always accepted; a mixed batch may fail whole.
    assert BatchProvider.one_model_per_batch is True


def test_the_registry_gives_classes_without_building_clients():
    assert registry.provider_class("openai").name == "openai"
    with pytest.raises(ValueError):
        registry.provider_class("nope")
