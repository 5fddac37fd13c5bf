"""The provider adapter contract: what every provider brings, in one place.

Domain code (submitter, poller, collector, fast paths) talks to providers only through this
module's types, so the lifecycle can be tested with the simulator and reasoned about
without the SDKs. A provider is one adapter module beside this one
(``<name>_provider.py``, a ``BatchProvider``) and one entry in ``batchrelay.registry``
(endpoints, per-batch limits, ``Capabilities``, request body rules, environment names).

What an adapter implements, and what the lifecycle relies on:

- **Request format** (``provider_custom_id``, ``request_line``): one line of the provider's
  batch input per request; ids the provider cannot take are mapped deterministically
  (the chunk input keeps both ids, so results map back).
- **Create** (``create_batch``): from a local JSONL file of request lines, with our
  metadata where the provider keeps it, and the chunk's ``BatchOptions`` (``options``:
  its one model, for providers that take the model on the batch rather than on each
  request; the job's ``timeout_hours`` where the provider has such a setting; the job's
  ``completion_window``, set only for providers whose registry entry has
  ``completion_windows``). Every adapter's ``create_batch`` takes ``options`` (a keyword,
  ``NO_OPTIONS`` by default; new adapters such as Gemini follow the same contract) and
  uses what its API takes, ignoring the rest. Never retried by the SDK: a retried POST could
  make a second batch. Raise ``ProviderError`` with ``status_code``: a 4xx/429 proves
  nothing was made; a timeout or 5xx is ambiguous, and recovery runs ``find_batch``; code
  ``quota_exceeded`` (errors.QUOTA_EXCEEDED) says the provider has no room for another batch
  now, and the chunk is held. ``metadata`` names the job, the chunk, which of the chunk's
  batches this is (``batchrelay_batch``: 1, then one more after each batch the chunk lost)
  and its model. An adapter that reads the chunk's request lines from the bucket itself
  (``reads_input_from_bucket``: Bedrock) gets no local file.
- **Find** (``find_candidates``, ``prove_ownership``): the batches an interrupted create
  may have made, and proof that one is this chunk's (its metadata, a name, an idempotency
  token, or the chunk tag every request id carries: the registry entry's ``recovery`` says
  which). A candidate is adopted only once proven; one that cannot be told yet is waited for.
- **List sweep** (``list_batches``): newest first, paging back only to ``created_after``;
  the poller's one call per page for every batch in flight.
- **Retrieve / cancel** (``retrieve_batch``, ``cancel_batch``): ``BatchInfo`` normalized:
  running or ended, the end reason (completed, expired, cancelled, failed; capacity
  refusals as ``token_limit_exceeded`` errors), progress counts where the provider has them.
- **Results** (``raw_result_files``, ``parse_result_line``): byte streams (never a whole
  file in memory) and one ``ProviderResult`` per line, outcome and retryability decided
  here (5xx, 429, overload: worth a new batch; 4xx: final).
- **Cleanup** (``delete_files``): files the provider keeps for an ended batch (input,
  output, errors), deleted once the chunk is collected (registry ``input_files``); a file
  gone already counts as deleted. A ``ProviderError`` is logged and retried by the poller's
  safety net (``lifecycle.provider_files``), never fatal to a job. An adapter that uploads
  input deletes it itself when the create is refused (nothing else knows the file).

``ProviderError`` is the only exception an adapter lets out of a provider call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

# Normalized lifecycle of a provider batch.
BatchState = Literal["running", "ended"]
# Why an ended batch ended.
# "lost": the provider answers that the batch does not exist (404): its requests never ran
# as far as we can know, and go to a new batch like those of an expired one.
EndReason = Literal["completed", "expired", "cancelled", "failed", "lost"]
Outcome = Literal["succeeded", "errored", "expired", "cancelled"]


@dataclass
class BatchInfo:
    batch_id: str
    provider_status: str                 # the provider's own word: in_progress, finalizing, ended...
    state: BatchState
    created_at: float                    # epoch seconds
    end_reason: EndReason | None = None
    total: int = 0
    completed: int = 0                   # requests finished so far (succeeded + errored) if known
    failed: int = 0
    ended_at: float | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # OpenAI: whole-batch validation errors ([{"code", "message", "line"?}]); empty otherwise.
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Adapter-private details the adapter needs later (file ids, results url).
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def lost(cls, batch_id: str, message: str) -> BatchInfo:
        """What is known of a batch the provider says does not exist."""
        return cls(batch_id=batch_id, provider_status="not_found", state="ended", created_at=0.0,
                   end_reason="lost", errors=[{"code": "batch_not_found", "message": message}])

    @property
    def capacity_exhausted(self) -> bool:
        """The batch failed because the organization's enqueued-token limit was reached."""
        return self.end_reason == "failed" and any(e.get("code") == "token_limit_exceeded" for e in self.errors)


@dataclass(frozen=True)
class BatchOptions:
    """What a create takes from the chunk and its job besides the request lines.

    ``model``: the chunk's one model (set for providers that declare ``one_model_per_batch``;
    Mistral takes it on the job, not in each request). ``timeout_hours``: the job's own
    limit on how long the provider may run the batch (providers with such a setting; None
    means the provider's default). ``completion_window``: the job's window (OpenAI-shaped
    providers that offer a choice: Groq's 24h to 7d; None means the adapter's default).
    """

    model: str | None = None
    timeout_hours: int | None = None
    completion_window: str | None = None


NO_OPTIONS = BatchOptions()


@dataclass
class ProviderResult:
    """One request's outcome as the provider reported it (custom_id is the provider's id)."""

    custom_id: str
    outcome: Outcome
    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None   # {"type"/"code", "message", "status_code"?}
    usage: dict[str, int] | None = None  # {"input_tokens", "output_tokens", "total_tokens"}
    retryable: bool = False              # errored for a cause worth another batch (5xx, 429, overload)
    model: str | None = None
    # "on_demand": answered by a synchronous call at the synchronous price (Bedrock, below
    # its record minimum); None: by the batch, at the batch price.
    service_tier: str | None = None


@dataclass
class RawFile:
    """A raw result file the provider produced, streamed in byte blocks."""

    name: str                            # "output" | "errors" | "results"
    blocks: Iterator[bytes]


class ProviderError(Exception):
    """A provider call failed. ``retryable`` tells the caller whether to try again later."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code
        self.code = code


def results_carry_tag(provider: BatchProvider, batch: BatchInfo, tag: str) -> bool | None:
    """Whether the first result line of an ended batch carries ``tag`` (None: no results)."""
    from batchrelay.jsonl import iter_lines
    from batchrelay.providers.custom_ids import tag_of

    for raw_file in provider.raw_result_files(batch):
        for line in iter_lines(raw_file.blocks):
            return tag_of(provider.parse_result_line(raw_file.name, line).custom_id) == tag
    return None


class BatchProvider(ABC):
    name: str
    # True: create_batch reads the chunk's provider lines from the bucket (it gets no local file).
    reads_input_from_bucket: bool = False

    @classmethod
    def for_registered(cls, name: str) -> BatchProvider:
        """The adapter of the registered provider ``name`` (``providers.adapters`` builds it so).
        One class may serve several entries (configured OpenAI-compatible servers): it takes
        the name; a class of one provider ignores it."""
        return cls()

    @abstractmethod
    def provider_custom_id(self, custom_id: str, tag: str) -> str:
        """The id sent to the provider for a user's custom_id in the chunk tagged ``tag``:
        the tag first (``custom_ids.tagged``), then the id in a form the provider accepts."""

    @abstractmethod
    def request_line(self, provider_custom_id: str, body: dict[str, Any], endpoint: str) -> dict[str, Any]:
        """One request in the provider's batch input format."""

    @abstractmethod
    def create_batch(
        self, *, requests_path: str, request_count: int, endpoint: str, metadata: dict[str, str],
        options: BatchOptions = NO_OPTIONS,
    ) -> BatchInfo:
        """Create a batch from a local JSONL file of ``request_line`` objects."""

    @abstractmethod
    def find_candidates(
        self, *, metadata: dict[str, str], created_after: float, created_before: float, request_count: int
    ) -> Iterator[BatchInfo]:
        """Every batch created in the window that could be one an interrupted creation made
        for this chunk: its size, and its metadata where the provider keeps metadata."""

    def prove_ownership(self, batch: BatchInfo, *, tag: str, metadata: dict[str, str]) -> bool | None:
        """Whether ``batch`` was made for the chunk: True, False, or None while it cannot be
        told yet. By default its requests are read from its results (their ids carry the
        chunk's tag), which exist once it has ended; adapters whose batches keep metadata
        decide from it at once."""
        if batch.state != "ended":
            return None
        return results_carry_tag(self, batch, tag)

    @abstractmethod
    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        """Batches newest first, paging back only until ``created_after``."""

    @abstractmethod
    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        ...

    @abstractmethod
    def cancel_batch(self, batch_id: str) -> BatchInfo:
        ...

    @abstractmethod
    def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
        """The batch's result files as byte streams (nothing held whole in memory)."""

    @abstractmethod
    def parse_result_line(self, file_name: str, line: bytes) -> ProviderResult:
        """Turn one line of a raw result file into a ProviderResult."""

    def delete_files(self, batch: BatchInfo) -> list[str]:
        """Delete what the provider keeps for an ended batch; returns the ids now gone.

        Providers without files (Anthropic: results expire on their own) keep nothing.
        Raises ProviderError when a deletion should be tried again later.
        """
        return []
