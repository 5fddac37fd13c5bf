"""The account's API Gateway API keys, found by value: the Lambda authorizer's directory.

API Gateway finds a key by its value itself only when it reads the ``x-api-key`` header (API
key source HEADER); the authorizer has to do it for the ``Authorization: Bearer`` header, so
it reads the keys (``apigateway:GET /apikeys`` with their values) and keeps them for a while.
A value it does not know makes it read them again, at most every few seconds, so a key created
a moment ago works at once and a stream of wrong keys cannot hammer the API Gateway API.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from batchrelay import constants as c
from batchrelay.aws import clients


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    value: str
    enabled: bool


def account_api_keys() -> Iterator[ApiKey]:
    """Every API key of the account and region, with its value (paged)."""
    apigateway = clients.client("apigateway")
    position = None
    while True:
        page = apigateway.get_api_keys(includeValues=True, limit=500, **({"position": position} if position else {}))
        for item in page.get("items", []):
            if item.get("value"):
                yield ApiKey(key_id=item["id"], value=item["value"], enabled=bool(item.get("enabled")))
        position = page.get("position")
        if not position:
            return


class KeyDirectory:
    def __init__(
        self,
        *,
        ttl_seconds: float = c.KEY_DIRECTORY_TTL_SECONDS,
        miss_refresh_seconds: float = c.KEY_DIRECTORY_MISS_REFRESH_SECONDS,
        load: Callable[[], Iterator[ApiKey]] = account_api_keys,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._miss_refresh = miss_refresh_seconds
        self._load_keys = load
        self._clock = clock
        self._keys: dict[str, ApiKey] | None = None
        self._loaded_at = 0.0
        self.loads = 0

    def _load(self, now: float) -> dict[str, ApiKey]:
        self._keys = {key.value: key for key in self._load_keys()}
        self._loaded_at = now
        self.loads += 1
        return self._keys

    def find(self, value: str) -> ApiKey | None:
        """The key with this value, or None (unknown)."""
        now = self._clock()
        keys = self._keys
        if keys is None or now - self._loaded_at >= self._ttl:
            keys = self._load(now)
        key = keys.get(value)
        if key is None and now - self._loaded_at >= self._miss_refresh:
            key = self._load(now).get(value)
        return key

    def forget(self) -> None:
        self._keys = None


_directory: KeyDirectory | None = None


def key_directory() -> KeyDirectory:
    """One directory per container."""
    global _directory
    if _directory is None:
        _directory = KeyDirectory()
    return _directory


def reset_key_directory() -> None:
    global _directory
    _directory = None
