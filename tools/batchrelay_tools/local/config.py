"""Local mode's own settings, read from the environment (documented in the README, "Local mode")."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

LOOPBACK = "127.0.0.1"
DEFAULT_PORT = 8787

ENV_PORT = "BATCHRELAY_PORT"
ENV_API_KEY = "BATCHRELAY_API_KEY"
ENV_EXTRA_API_KEYS = "BATCHRELAY_EXTRA_API_KEYS"
ENV_POLL_SECONDS = "BATCHRELAY_POLL_SECONDS"
ENV_RETRY_SECONDS = "BATCHRELAY_RETRY_SECONDS"
ENV_CONCURRENCY = "BATCHRELAY_CONCURRENCY"
ENV_AWS_PORT = "BATCHRELAY_AWS_PORT"
ENV_SIM_PROCESSING_SECONDS = "BATCHRELAY_SIM_PROCESSING_SECONDS"
ENV_SIM_FAILURE_FRACTION = "BATCHRELAY_SIM_FAILURE_FRACTION"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# API Gateway refuses API key values shorter than this (and local mode registers its keys there).
MIN_API_KEY_LENGTH = 20


def generate_api_key() -> str:
    return "brk_local_" + secrets.token_urlsafe(24)


@dataclass
class LocalConfig:
    port: int = DEFAULT_PORT            # the API; 0 picks a free port
    aws_port: int = 0                   # the AWS emulator; 0 picks a free port
    api_key: str = ""                   # "" generates one
    extra_api_keys: list[str] = field(default_factory=list)  # more tenants, for tests
    poll_seconds: float = 2.0           # the poller's schedule (EventBridge: every minute)
    # How long a failed SQS record stays invisible before it is retried. Deployed, that is
    # the queue's visibility timeout (minutes); locally it is short so retries are quick.
    retry_seconds: float = 2.0
    # Receiving threads per queue. Invocations of one function still run one at a time
    # (one warm container each), so more threads only keep a batch ready.
    concurrency: int = 1
    sim_processing_seconds: float = 2.0
    sim_failure_fraction: float = 0.0   # retryable per-request failures on the first attempt
    api_key_generated: bool = False

    @classmethod
    def from_env(cls) -> LocalConfig:
        api_key = os.environ.get(ENV_API_KEY, "").strip()
        extra = [k.strip() for k in os.environ.get(ENV_EXTRA_API_KEYS, "").split(",") if k.strip()]
        return cls(
            port=_int(ENV_PORT, DEFAULT_PORT),
            aws_port=_int(ENV_AWS_PORT, 0),
            api_key=api_key,
            extra_api_keys=extra,
            poll_seconds=_float(ENV_POLL_SECONDS, 2.0),
            retry_seconds=_float(ENV_RETRY_SECONDS, 2.0),
            concurrency=max(1, _int(ENV_CONCURRENCY, 1)),
            sim_processing_seconds=_float(ENV_SIM_PROCESSING_SECONDS, 2.0),
            sim_failure_fraction=_float(ENV_SIM_FAILURE_FRACTION, 0.0),
        )

    def short_api_keys(self) -> list[str]:
        """Keys given that API Gateway would refuse (fewer than MIN_API_KEY_LENGTH characters)."""
        return [k for k in (self.api_key, *self.extra_api_keys) if k and len(k) < MIN_API_KEY_LENGTH]

    def ensure_api_key(self) -> str:
        if not self.api_key:
            self.api_key = generate_api_key()
            self.api_key_generated = True
        return self.api_key
