"""The simulator's ledger: every batch created and every request billed, as the provider
would invoice them, whatever its clients recorded.

A batch's entry is taken at creation (provider, id, instant, metadata, and per request the
custom_id and a digest of the body) and its outcome is computed from the batch's timeline
as if it ran to its end: a batch nobody ever looks at again is billed all the same. A
request is billed when it succeeded (errored, expired and cancelled requests are not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Outcomes of one request in one batch, as the provider settles it.
SUCCEEDED = "succeeded"
ERRORED = "errored"
EXPIRED = "expired"
CANCELLED = "cancelled"
BATCH_FAILED = "batch_failed"     # the whole batch was refused at validation (OpenAI), nothing ran


@dataclass
class LedgerRequest:
    custom_id: str
    body_digest: str
    outcome: str = ""
    error_status: int | None = None   # the per-request HTTP status of an errored request

    @property
    def billed(self) -> bool:
        return self.outcome == SUCCEEDED


@dataclass
class LedgerBatch:
    provider: str
    batch_id: str
    created_at: float
    ends_at: float                      # when it ends (or ended) if left alone after now
    metadata: dict[str, str] = field(default_factory=dict)
    requests: list[LedgerRequest] = field(default_factory=list)
    end_reason: str = ""               # completed | expired | cancelled | failed
    fail_codes: list[str] = field(default_factory=list)
    cancel_requested_at: float | None = None
    vanished: bool = False              # answers 404 to its owner

    @property
    def billed_requests(self) -> int:
        return sum(1 for r in self.requests if r.billed)

    def outcome_of(self, body_digest: str) -> LedgerRequest | None:
        return next((r for r in self.requests if r.body_digest == body_digest), None)
