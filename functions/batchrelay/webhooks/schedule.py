"""When to try a failed webhook delivery again (pure functions).

Attempt 1 is immediate; after failed attempt n the next waits ``RETRY_DELAYS[n-1]`` with
±10 % jitter. Eight attempts span about 27.6 hours (at least 24.8 with the jitter), so a
receiver that is down for a day still gets the event. A ``Retry-After`` answer can only
lengthen a wait, and never beyond ``MAX_DELAY_SECONDS``.
"""

from __future__ import annotations

import random
from datetime import UTC
from email.utils import parsedate_to_datetime

RETRY_DELAYS: tuple[int, ...] = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.10
MAX_DELAY_SECONDS = 10 * 3600
# No delivery can still be retrying this long after it was created (every wait at its
# longest, Retry-After included): a delivery record is kept at least this long.
LONGEST_DELIVERY_SECONDS = int(len(RETRY_DELAYS) * MAX_DELAY_SECONDS * (1 + JITTER)) + 3600


def is_success(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also accepts "²"
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def next_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds before the attempt after failed ``attempt`` (1-based); None when it was the last."""
    if attempt < 1:
        raise ValueError("attempts are numbered from 1")
    if attempt >= MAX_ATTEMPTS:
        return None
    base = RETRY_DELAYS[attempt - 1]
    jitter = (rng or random).uniform(-JITTER, JITTER)
    delay = base * (1 + jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_DELAY_SECONDS))
    return delay

