"""When to look at a batch again, and how long to hold a chunk the provider had no room for.

A status check costs a provider call, so checks are spread by what we know:
- right after submission, look soon (validation failures show up in the first minute);
- with progress counts (OpenAI), estimate the remaining time from the rate so far and
  look again halfway there: checks close in on the predicted end, so the end is seen
  within about a minute of happening while a far-off end costs few calls;
- without progress (Anthropic counts move only at the end), look at every run: nothing
  predicts the end, and the poller asks such a provider with one list sweep per run for
  all its batches (a page per 100), so looking every minute costs at most 1,440 calls a
  day per 100 batches in flight, and an end is seen within about a minute.
"""

from __future__ import annotations

from batchrelay.settings import get_settings

# The poller runs once a minute when deployed, so sooner is pointless; local mode, whose
# schedule fires every few seconds against the simulator, lowers it (POLL_MIN_DELAY_SECONDS).
MIN_DELAY_S = 60
FRESH_AGE_S = 180           # "just submitted"
MAX_DELAY_WITH_PROGRESS_S = 30 * 60
MAX_DELAY_WITHOUT_PROGRESS_S = 10 * 60
BLIND_AGE_FRACTION = 0.25   # without progress: wait a quarter of the batch's age

HOLD_BASE_S = 10 * 60       # token_limit_exceeded: wait for queued work to drain
HOLD_MAX_S = 2 * 60 * 60

# Chunks that wait on us rather than on the provider (pending, creating, ended) stay in
# the due index with this delay: if the message that should move them on was lost, the
# poller sends it again.
SAFETY_NET_S = 15 * 60


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def estimated_remaining_s(*, age_s: float, total: int, completed: int) -> float | None:
    """Seconds until the batch is done at the rate seen so far; None without progress."""
    if total <= 0 or completed <= 0:
        return None
    if completed >= total:
        return 0.0
    return age_s * (total - completed) / completed


def min_delay_s() -> int:
    """The shortest wait between two checks (the setting; MIN_DELAY_S when deployed)."""
    return get_settings().poll_min_delay_seconds


def next_check_delay(
    *, now: float, created_at: float, total: int, completed: int, progress_counts: bool = True
) -> int:
    """Seconds from ``now`` until the next status check of a running batch."""
    shortest = min_delay_s()
    age = max(0.0, now - created_at)
    if age < FRESH_AGE_S or not progress_counts:
        return shortest
    remaining = estimated_remaining_s(age_s=age, total=total, completed=completed)
    if remaining is None:
        return int(_clamp(age * BLIND_AGE_FRACTION, shortest, MAX_DELAY_WITHOUT_PROGRESS_S))
    return int(_clamp(remaining / 2, shortest, MAX_DELAY_WITH_PROGRESS_S))


def hold_delay(previous_batches: int) -> int:
    """How long a chunk waits after the provider refused its batch for capacity."""
    doublings = max(0, previous_batches - 1)
    return int(min(HOLD_BASE_S * 2 ** min(doublings, 10), HOLD_MAX_S))

