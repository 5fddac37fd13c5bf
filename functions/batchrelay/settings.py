"""Settings read from the environment once, on first use, and cached.

Importing any module needs no environment; ``get_settings()`` is called where a value
is needed. Tests and local mode change the environment and call ``get_settings.cache_clear()``.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field

from batchrelay import constants as c


class ProviderLimits(BaseModel):
    max_requests: int
    max_bytes: int


class Settings(BaseModel):
    table_name: str = Field(default="")
    bucket_name: str = Field(default="")
    jobs_queue_url: str = Field(default="")
    collect_queue_url: str = Field(default="")
    webhooks_queue_url: str = Field(default="")
    events_topic_arn: str = Field(default="")
    openai_secret_arn: str = ""
    anthropic_secret_arn: str = ""
    openai_webhook_secret_arn: str = ""
    default_chunk_size: int = c.DEFAULT_CHUNK_SIZE
    default_max_attempts: int = c.DEFAULT_MAX_ATTEMPTS
    openai_limits: ProviderLimits = ProviderLimits(
        max_requests=c.OPENAI_MAX_REQUESTS_PER_BATCH, max_bytes=c.OPENAI_MAX_BYTES_PER_BATCH
    )
    anthropic_limits: ProviderLimits = ProviderLimits(
        max_requests=c.ANTHROPIC_MAX_REQUESTS_PER_BATCH, max_bytes=c.ANTHROPIC_MAX_BYTES_PER_BATCH
    )
    retention_days: int = c.DEFAULT_RETENTION_DAYS
    presign_expiry_seconds: int = c.DEFAULT_PRESIGN_EXPIRY_SECONDS
    webhook_allow_http: bool = False
    webhook_allow_loopback: bool = False
    # "host:port" / "*:port" allowed besides https on 443 (see webhooks.ssrf).
    webhook_allowed_destinations: tuple[str, ...] = ()
    secrets_key_id: str = ""
    prices_file: str = ""
    poll_min_delay_seconds: int = c.DEFAULT_POLL_MIN_DELAY_SECONDS
    creation_lease_seconds: int = c.DEFAULT_CREATION_LEASE_SECONDS

    def provider_limits(self, provider: str) -> ProviderLimits:
        return self.openai_limits if provider == "openai" else self.anthropic_limits


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


def _list(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


def _bool(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    return Settings(
        table_name=env.get(c.ENV_TABLE_NAME, ""),
        bucket_name=env.get(c.ENV_BUCKET_NAME, ""),
        jobs_queue_url=env.get(c.ENV_JOBS_QUEUE_URL, ""),
        collect_queue_url=env.get(c.ENV_COLLECT_QUEUE_URL, ""),
        webhooks_queue_url=env.get(c.ENV_WEBHOOKS_QUEUE_URL, ""),
        events_topic_arn=env.get(c.ENV_EVENTS_TOPIC_ARN, ""),
        openai_secret_arn=env.get(c.ENV_OPENAI_SECRET_ARN, ""),
        anthropic_secret_arn=env.get(c.ENV_ANTHROPIC_SECRET_ARN, ""),
        openai_webhook_secret_arn=env.get(c.ENV_OPENAI_WEBHOOK_SECRET_ARN, ""),
        default_chunk_size=_int(c.ENV_DEFAULT_CHUNK_SIZE, c.DEFAULT_CHUNK_SIZE),
        default_max_attempts=_int(c.ENV_DEFAULT_MAX_ATTEMPTS, c.DEFAULT_MAX_ATTEMPTS),
        openai_limits=ProviderLimits(
            max_requests=_int(c.ENV_OPENAI_MAX_REQUESTS, c.OPENAI_MAX_REQUESTS_PER_BATCH),
            max_bytes=_int(c.ENV_OPENAI_MAX_BYTES, c.OPENAI_MAX_BYTES_PER_BATCH),
        ),
        anthropic_limits=ProviderLimits(
            max_requests=_int(c.ENV_ANTHROPIC_MAX_REQUESTS, c.ANTHROPIC_MAX_REQUESTS_PER_BATCH),
            max_bytes=_int(c.ENV_ANTHROPIC_MAX_BYTES, c.ANTHROPIC_MAX_BYTES_PER_BATCH),
        ),
        retention_days=_int(c.ENV_RETENTION_DAYS, c.DEFAULT_RETENTION_DAYS),
        presign_expiry_seconds=_int(c.ENV_PRESIGN_EXPIRY_SECONDS, c.DEFAULT_PRESIGN_EXPIRY_SECONDS),
        webhook_allow_http=_bool(c.ENV_WEBHOOK_ALLOW_HTTP),
        webhook_allow_loopback=_bool(c.ENV_WEBHOOK_ALLOW_LOOPBACK),
        webhook_allowed_destinations=_list(c.ENV_WEBHOOK_ALLOWED_DESTINATIONS),
        secrets_key_id=env.get(c.ENV_SECRETS_KEY_ID, ""),
        prices_file=env.get(c.ENV_PRICES_FILE, ""),
        creation_lease_seconds=_int(c.ENV_CREATION_LEASE_SECONDS, c.DEFAULT_CREATION_LEASE_SECONDS),
        poll_min_delay_seconds=max(
            1, _int(c.ENV_POLL_MIN_DELAY_SECONDS, c.DEFAULT_POLL_MIN_DELAY_SECONDS)
        ),
    )
