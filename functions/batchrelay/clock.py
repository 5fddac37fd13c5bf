"""The one clock and the one timestamp format (ISO 8601, UTC, milliseconds, ``Z``).

Tests replace ``now`` to step through hours (webhook retries, poll schedules); signatures
and presigned URLs are always made with the real time, which the receivers check.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now() -> float:
    """Epoch seconds."""
    return time.time()


def iso(epoch: float, *, timespec: str = "milliseconds") -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec=timespec).replace("+00:00", "Z")


def now_iso() -> str:
    return iso(time.time())


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
