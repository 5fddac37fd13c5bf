"""One provider adapter per name, built once per container (Lambda reuses it across calls)."""

from __future__ import annotations

from functools import lru_cache

from batchrelay.providers.base import BatchProvider


def provider_class(name: str) -> type[BatchProvider]:
    """The adapter class (imports its SDK); its class attributes declare its capabilities."""
    if name == "openai":
        from batchrelay.providers.openai_provider import OpenAIProvider

        return OpenAIProvider
    if name == "anthropic":
        from batchrelay.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider
    raise ValueError(f"unknown provider: {name!r}")


def one_model_per_batch(name: str) -> bool:
    """Whether the provider's batches hold one model each (BatchProvider.one_model_per_batch)."""
    return provider_class(name).one_model_per_batch


@lru_cache(maxsize=8)
def get_provider(name: str) -> BatchProvider:
    return provider_class(name)()


def reset_providers() -> None:
    """Forget the cached adapters (tests change keys and base URLs between cases)."""
    get_provider.cache_clear()
