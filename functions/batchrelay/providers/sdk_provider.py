"""What the SDK-backed adapters share: an official SDK client, built on first use with our
timeouts and retry budget (the SDKs retry 429/5xx/timeouts with backoff and jitter
themselves), the API key from ``credentials`` and the base URL from the provider's settings
(``<NAME>_BASE_URL``: the local simulator, a compatible server)."""

from __future__ import annotations

from typing import Any

import httpx2

from batchrelay.providers import credentials
from batchrelay.providers.base import BatchProvider
from batchrelay.settings import get_settings

DEFAULT_TIMEOUT = httpx2.Timeout(60.0, connect=10.0)
DEFAULT_MAX_RETRIES = 3


class SdkProvider(BatchProvider):
    def __init__(
        self,
        client: Any | None = None,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        timeout: float | httpx2.Timeout = DEFAULT_TIMEOUT,
        download_attempts: int = 4,
    ):
        self._client = client
        self._client_args: dict[str, Any] = {"max_retries": max_retries, "timeout": timeout}
        self._base_url = base_url
        self._api_key = api_key
        self.download_attempts = download_attempts

    def _new_client(self, api_key: str, **client_args: Any) -> Any:
        raise NotImplementedError

    @property
    def client(self) -> Any:
        # Built on first use, so parsing and id mapping need no credentials.
        if self._client is None:
            args = dict(self._client_args)
            base_url = self._base_url or get_settings().provider(self.name).base_url
            if base_url:
                args["base_url"] = base_url
            self._client = self._new_client(self._resolve_api_key(), **args)
        return self._client

    def _resolve_api_key(self) -> str:
        return self._api_key or credentials.api_key(self.name)
