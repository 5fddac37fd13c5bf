"""One provider adapter per name, built once per container (Lambda reuses it across calls)."""

from __future__ import annotations

from functools import lru_cache

from batchrelay.providers.base import BatchProvider


@lru_cache(maxsize=8)
def get_provider(name: str) -> BatchProvider:
    if name == "openai":
        from batchrelay.providers.openai_provider import OpenAIProvider

        return OpenAIProvider()
    if name == "anthropic":
        from batchrelay.providers.anthropic_provider import AnthropicProvider

        return AnthropicProvider()
    raise ValueError(f"unknown provider: {name!r}")


def reset_providers() -> None:
    """Forget the cached adapters (tests change keys and base URLs between cases)."""
    get_provider.cache_clear()
