import pytest

from batchrelay.lifecycle.retry_planner import RetryPolicy, base_of, retry_chunk_id

FIRST = RetryPolicy(attempt=1, max_attempts=3, retries_allowed=True)
LAST = RetryPolicy(attempt=3, max_attempts=3, retries_allowed=True)
CANCELLING = RetryPolicy(attempt=1, max_attempts=3, retries_allowed=False)


@pytest.mark.parametrize(
    ("policy", "outcome", "retryable", "expected"),
    [
        (FIRST, "succeeded", False, "succeeded"),
        (FIRST, "errored", True, "retry"),
        (FIRST, "errored", False, "errored"),
        (LAST, "errored", True, "errored"),
        (FIRST, "expired", False, "retry"),
        (LAST, "expired", False, "expired"),
        (CANCELLING, "expired", False, "expired"),
        (CANCELLING, "errored", True, "errored"),
        (CANCELLING, "cancelled", False, "cancelled"),
    ],
)
def test_decide(policy, outcome, retryable, expected):
    assert policy.decide(outcome, retryable=retryable) == expected


@pytest.mark.parametrize(
    ("policy", "end_reason", "expected"),
    [
        (FIRST, "expired", "retry"),
        (LAST, "expired", "expired"),
        (FIRST, "failed", "errored"),
        (CANCELLING, "cancelled", "cancelled"),
        (LAST, "cancelled", "cancelled"),
        (CANCELLING, "completed", "expired"),
    ],
)
def test_decide_unreported(policy, end_reason, expected):
    assert policy.decide_unreported(end_reason) == expected


def test_retry_chunk_ids_keep_the_original_base():
    assert retry_chunk_id("c00007", 2) == "c00007-r2"
    assert retry_chunk_id("c00007-r2", 3) == "c00007-r3"
    assert base_of("c00007-r3") == "c00007"
