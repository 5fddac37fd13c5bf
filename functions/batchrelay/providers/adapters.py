"""Provider adapters, one per registered provider, built once per container (Lambda reuses
them across calls). The registry (``batchrelay.registry``) names each adapter's class; it
is imported only here, on first use, so a function loads only the SDKs it talks to."""

from __future__ import annotations

import importlib
from functools import lru_cache

from batchrelay import registry
from batchrelay.providers.base import BatchProvider


def adapter_class(name: str) -> type[BatchProvider]:
    module_name, _, class_name = registry.spec(name).adapter.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


@lru_cache(maxsize=32)
def get_provider(name: str) -> BatchProvider:
    return adapter_class(name).for_registered(name)


def reset_providers() -> None:
    """Forget the cached adapters (tests change keys and base URLs between cases)."""
    get_provider.cache_clear()
