"""The simulator's knobs: speed, per-request failures and whole-batch / transport faults.

Everything here can be set at construction and changed while the server runs
(``POST /_sim/config`` with a JSON object of the same field names). Counters named
``*_next`` are consumed: each affected call decrements them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

ErrorKind = Literal["retryable", "permanent"]
AttemptKey = Literal["custom_id", "body"]


@dataclass
class FailureRule:
    """Fail the requests this rule selects, with a retryable (5xx/429/overloaded) or permanent (400) error.

    A request is selected when its custom_id matches ``pattern`` (``re.search``) or when the
    deterministic hash of its custom_id falls below ``fraction`` (0.0..1.0). With neither set
    the rule selects nothing. ``first_attempt_only`` fails a request only the first time the
    simulator sees it (keyed by custom_id or by the request body), so a retry batch succeeds.
    """

    pattern: str | None = None
    fraction: float = 0.0
    kind: ErrorKind = "retryable"
    # HTTP status of the per-request error; default 500 for retryable, 400 for permanent.
    # 429 gives a rate-limit error; Anthropic maps 529 to overloaded_error.
    status_code: int | None = None
    first_attempt_only: bool = False
    attempt_key: AttemptKey = "custom_id"
    message: str | None = None

    def selects(self, custom_id: str) -> bool:
        if self.pattern and re.search(self.pattern, custom_id):
            return True
        return self.fraction > 0 and hash_fraction(custom_id) < self.fraction

    @property
    def effective_status(self) -> int:
        if self.status_code:
            return self.status_code
        return 500 if self.kind == "retryable" else 400

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailureRule:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown failure rule fields: {sorted(unknown)}")
        return cls(**data)


def hash_fraction(text: str) -> float:
    """A stable number in [0, 1) for a string (the same on every run and machine)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class SimulatorSettings:
    # --- speed (seconds; fractional and tiny values are fine for tests) ---
    validating_seconds: float = 0.0       # OpenAI: time in "validating"
    processing_seconds: float = 2.0       # OpenAI "in_progress" / Anthropic "in_progress"
    finalizing_seconds: float = 0.0       # OpenAI: time in "finalizing"
    cancelling_seconds: float = 0.0       # OpenAI "cancelling" / Anthropic "canceling"
    pending_seconds: float = 0.0          # Gemini: time in BATCH_STATE_PENDING before it runs

    # --- per-request outcomes ---
    failure_rules: list[FailureRule] = field(default_factory=list)

    # --- whole-batch faults (consumed per batch create) ---
    validation_failures_next: int = 0      # OpenAI: batch fails validation (errors.data with line numbers)
    token_limit_failures_next: int = 0     # OpenAI: batch fails with code token_limit_exceeded
    # Batches end expired after finishing this fraction of their requests (None: never expire).
    expire_after_fraction: float | None = None
    quota_failures_next: int = 0           # Bedrock: the create is refused (ServiceQuotaExceededException)
    bedrock_min_records: int = 100         # Bedrock: a job with fewer records is refused (ValidationException)

    # --- transport faults ---
    create_errors_next: int = 0            # next N batch-create calls answer with an HTTP error
    create_error_status: int = 429         # 429, 500, 503, 529 (Anthropic overloaded)
    # Next N batch creates make the batch, then answer 500: the client cannot know it exists
    # (an ambiguous create, which batchrelay's recovery must find and adopt).
    lost_create_answers_next: int = 0
    retry_after_seconds: float = 0.01      # sent as retry-after-ms with 429/5xx so SDKs retry quickly
    download_bytes_per_second: float | None = None  # throttle result downloads
    cut_downloads_next: int = 0            # next N result downloads close the connection mid-body
    cut_after_fraction: float = 0.5        # how far into the body a cut download gets
    delete_file_errors_next: int = 0       # next N file deletions answer HTTP 500 (nothing deleted)

    # --- content ---
    # Write a raw carriage-return byte (not the escape "\\r") inside response text. Such lines
    # are not strict JSON; clients must split on b"\n" only and parse with strict=False.
    raw_carriage_return: bool = False
    # Answers of about this many output tokens (four characters each); None: short answers.
    answer_tokens: int | None = None
    openai_model: str = "gpt-4o-mini-2024-07-18"
    anthropic_model: str = "claude-sonnet-4-5-20250929"

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update (the body of POST /_sim/config)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        for name, value in changes.items():
            if name == "failure_rules":
                value = [r if isinstance(r, FailureRule) else FailureRule.from_dict(r) for r in value or []]
            setattr(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimulatorSettings:
        settings = cls()
        settings.update(data)
        return settings
