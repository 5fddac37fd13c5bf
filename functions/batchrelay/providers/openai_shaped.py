"""OpenAI-shaped batch providers: OpenAI's Files + Batches API at another address.

One adapter family on ``OpenAIProvider`` (none of its logic is copied): each provider
differs only in its client (address, credentials, api-version), the endpoint names its
request lines and creates use, its completion windows, whether it keeps batch metadata,
and what its registry entry says (limits, expiry, prices).

- **Azure OpenAI** (``AzureOpenAIProvider``): ``AZURE_OPENAI_BASE_URL`` is one of
  the resource endpoint ``https://RES.openai.azure.com`` (the SDK's ``AzureOpenAI`` client:
  ``/openai/files?api-version=...``), a deployment URL ``.../openai/deployments/DEP`` (the same
  client on deployment-scoped paths) or the resource's v1 base URL ``.../openai/v1`` (the
  ``OpenAI`` client, no api-version). ``body.model`` is the batch deployment's name; request
  lines and creates name Azure's endpoints (``/chat/completions``: no ``/v1``). Azure never
  expires a batch: the lifecycle's maximum batch age ends one that runs too long.
- **Groq** (``GroqProvider``): OpenAI's client at ``https://api.groq.com/openai/v1``; the
  completion window (24h to 7d) is a job setting.
- **OpenAI-compatible servers** configured by name (``OpenAICompatibleProvider``): all of it
  from the registry entry the configuration made (``registry.compatible_spec``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import openai

from batchrelay import registry
from batchrelay.providers import credentials
from batchrelay.providers.base import BatchInfo, ProviderError
from batchrelay.providers.errors import translate_errors
from batchrelay.providers.openai_provider import OpenAIProvider
from batchrelay.settings import get_settings

# GA api-version with the Batch API (Azure's "API version lifecycle" page lists newer ones;
# AZURE_OPENAI_API_VERSION overrides it).
AZURE_DEFAULT_API_VERSION = "2024-10-21"
# What the openai SDK needs as a key for a server that takes none (``needs_api_key`` false).
NO_KEY = "none"


class OpenAICompatibleProvider(OpenAIProvider):
    """An OpenAI-shaped provider, as its registry entry describes it."""

    def __init__(self, client: Any | None = None, *, provider: str | None = None, **kwargs: Any):
        super().__init__(client, **kwargs)
        if provider is not None:
            self.name = provider
        spec = registry.spec(self.name)
        self.keeps_metadata = spec.capabilities.batch_metadata
        if spec.completion_windows is not None:
            self.default_completion_window = spec.completion_windows.default

    @classmethod
    def for_registered(cls, name: str) -> OpenAICompatibleProvider:
        return cls(provider=name)

    def _resolve_api_key(self) -> str:
        if self._api_key or registry.spec(self.name).needs_api_key:
            return super()._resolve_api_key()
        configured = get_settings().provider(self.name)
        return configured.api_key or (credentials.api_key(self.name) if configured.secret_arn else NO_KEY)

    def _new_client(self, api_key: str, **client_args: Any) -> openai.OpenAI:
        if not client_args.get("base_url"):
            raise ProviderError(f"{self.name}: no base URL: set {registry.spec(self.name).base_url_env}",
                                retryable=False, code="missing_configuration")
        return openai.OpenAI(api_key=api_key, **client_args)


class GroqProvider(OpenAICompatibleProvider):
    """Groq lists every batch in one answer (no ``limit``, ``after`` or ``has_more`` in its API
    reference), in no documented order: one call, sorted here newest first."""

    name = "groq"

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        oldest = math.floor(created_after)
        with translate_errors(self.name):
            page = self.client.batches.list()
        batches = sorted(page.data, key=lambda batch: batch.created_at, reverse=True)
        for batch in batches:
            if batch.created_at < oldest:
                return
            yield self._info(batch)


class AzureOpenAIProvider(OpenAICompatibleProvider):
    name = "azure_openai"

    def __init__(self, client: Any | None = None, *, api_version: str | None = None, **kwargs: Any):
        super().__init__(client, **kwargs)
        self._api_version = api_version

    def wire_endpoint(self, endpoint: str) -> str:
        # Azure's batch lines and creates name /chat/completions, /embeddings, /responses.
        return endpoint.removeprefix("/v1") if endpoint.startswith("/v1/") else endpoint

    def _new_client(self, api_key: str, **client_args: Any) -> openai.OpenAI:
        base_url = str(client_args.pop("base_url", "") or "").rstrip("/")
        if not base_url:
            raise ProviderError(
                f"{self.name}: no resource endpoint: set {registry.spec(self.name).base_url_env} to "
                "https://<resource>.openai.azure.com (or a deployment URL, or the resource's /openai/v1)",
                retryable=False, code="missing_configuration",
            )
        if base_url.endswith("/openai/v1"):
            return openai.OpenAI(api_key=api_key, base_url=base_url, **client_args)
        api_version = self._api_version or get_settings().provider(self.name).api_version or AZURE_DEFAULT_API_VERSION
        if "/openai/deployments/" in base_url:
            return openai.AzureOpenAI(base_url=base_url, api_key=api_key, api_version=api_version, **client_args)
        return openai.AzureOpenAI(azure_endpoint=base_url, api_key=api_key, api_version=api_version, **client_args)
