"""The one place the lifecycle gets a provider adapter (tests replace ``provider_for``)."""

from __future__ import annotations

from batchrelay.providers.base import BatchProvider


def provider_for(name: str) -> BatchProvider:
    from batchrelay.providers.adapters import get_provider

    return get_provider(name)
