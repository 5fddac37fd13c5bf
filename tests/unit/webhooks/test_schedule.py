"""The retry schedule: at least 24 hours, jitter, Retry-After within a ceiling."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from batchrelay.webhooks import schedule


def test_eight_attempts_cover_at_least_24_hours_even_with_the_least_jitter():
    assert schedule.MAX_ATTEMPTS == 8
    assert schedule.RETRY_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)
    shortest = sum(d * (1 - schedule.JITTER) for d in schedule.RETRY_DELAYS)
    assert shortest >= 24 * 3600


@pytest.mark.parametrize("seed", range(20))
def test_delays_stay_within_jitter_of_the_schedule(seed):
    rng = random.Random(seed)
    for attempt, base in enumerate(schedule.RETRY_DELAYS, start=1):
        delay = schedule.next_delay(attempt, rng=rng)
        assert base * 0.9 <= delay <= base * 1.1


def test_no_delay_after_the_last_attempt():
    assert schedule.next_delay(schedule.MAX_ATTEMPTS) is None
    with pytest.raises(ValueError):
        schedule.next_delay(0)


def test_retry_after_lengthens_a_wait_but_never_shortens_it_or_passes_the_ceiling():
    rng = random.Random(1)
    assert schedule.next_delay(1, retry_after=120, rng=rng) == 120
    assert 270 <= schedule.next_delay(2, retry_after=1, rng=rng) <= 330
    assert schedule.next_delay(1, retry_after=10 * 86400, rng=rng) == schedule.MAX_DELAY_SECONDS


def test_parse_retry_after_seconds_and_http_date():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert schedule.parse_retry_after("120", now=now.timestamp()) == 120
    date = format_datetime(now + timedelta(minutes=30), usegmt=True)
    assert schedule.parse_retry_after(date, now=now.timestamp()) == pytest.approx(1800)
    past = format_datetime(now - timedelta(minutes=30), usegmt=True)
    assert schedule.parse_retry_after(past, now=now.timestamp()) == 0
    assert schedule.parse_retry_after("soon", now=now.timestamp()) is None
    assert schedule.parse_retry_after(None, now=now.timestamp()) is None


def test_only_2xx_is_success():
    assert schedule.is_success(200) and schedule.is_success(204)
    assert not any(schedule.is_success(s) for s in (None, 199, 301, 410, 429, 500))


def test_retry_after_with_non_ascii_digits_is_ignored_not_a_crash():
    assert schedule.parse_retry_after("\u00b2", now=0.0) is None
    assert schedule.parse_retry_after("\u0663", now=0.0) is None  # Arabic-Indic three
