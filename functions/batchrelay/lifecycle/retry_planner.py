"""Which requests end now and which go into a retry chunk (a new batch, never a sync call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from batchrelay.providers.base import Outcome

Decision = Literal["succeeded", "errored", "expired", "cancelled", "retry"]


@dataclass(frozen=True)
class RetryPolicy:
    attempt: int
    max_attempts: int
    retries_allowed: bool   # False once the job is being cancelled

    @property
    def can_retry(self) -> bool:
        return self.retries_allowed and self.attempt < self.max_attempts

    def decide(self, outcome: Outcome, *, retryable: bool) -> Decision:
        """For a request the provider reported."""
        if outcome == "succeeded":
            return "succeeded"
        if outcome == "errored":
            # 4xx-type errors would fail again the same way: they are final.
            return "retry" if retryable and self.can_retry else "errored"
        # expired, or cancelled without our asking (we ask only when the job is cancelling)
        return "retry" if self.can_retry else outcome

    def decide_unreported(self, end_reason: str | None) -> Decision:
        """For a request of the chunk the provider never reported on."""
        if end_reason == "failed":
            return "errored"    # the whole batch was refused (validation): it would be again
        if end_reason == "cancelled":
            return "retry" if self.can_retry else "cancelled"
        if end_reason == "lost":
            return "retry" if self.can_retry else "errored"  # never ran, as far as anyone can tell
        return "retry" if self.can_retry else "expired"


def base_of(chunk_id: str) -> str:
    return chunk_id.split("-r", 1)[0]


def retry_chunk_id(chunk_id: str, attempt: int) -> str:
    """The chunk holding the retries of ``chunk_id`` as attempt number ``attempt``."""
    return f"{base_of(chunk_id)}-r{attempt}"
