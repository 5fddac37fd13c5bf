"""An in-memory BatchProvider for lifecycle tests: scripted outcomes, faults, call counts.

Batches end ``processing_s`` after creation on the injected clock. Each request's outcome
comes from ``outcome_for(provider_custom_id, attempt_seen)`` (attempt_seen counts how
many batches carried this id so far): "succeeded", "retryable", "permanent", "expired"
(not run: left out of the output), "missing" (never reported). Like OpenAI, a batch
whose requests name several models fails validation whole, unless the provider registry
says the provider of this name takes mixed models (Anthropic).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from batchrelay import registry
from batchrelay.providers.base import BatchInfo, BatchProvider, ProviderError, ProviderResult, RawFile
from batchrelay.providers.custom_ids import tagged, untagged

_SAFE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class FakeBatch:
    batch_id: str
    created_at: float
    ends_at: float
    requests: list[tuple[str, Any]]
    metadata: dict[str, str]
    fail_with: list[dict[str, Any]] = field(default_factory=list)
    expire_fraction: float | None = None
    cancelled_at: float | None = None
    outcomes: dict[str, str] = field(default_factory=dict)


def always_succeed(_pcid: str, _attempt: int) -> str:
    return "succeeded"


class FakeProvider(BatchProvider):
    def __init__(self, name: str = "openai", *, clock: Callable[[], float] = time.time, processing_s: float = 0.0):
        self.name = name
        self.clock = clock
        self.processing_s = processing_s
        self.outcome_for: Callable[[str, int], str] = always_succeed
        self.batches: dict[str, FakeBatch] = {}
        self.calls: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()       # batches each provider id was sent in
        self.create_errors: list[ProviderError] = []
        self.ambiguous_creates_next = 0           # make the batch, then answer 500 (the answer is lost)
        self.find_errors: list[ProviderError] = []  # raised by the next candidate searches
        self.keeps_metadata = True                # False: like Anthropic, batches carry no metadata
        self.shows_progress = True                # False: like Anthropic, counts move only at the end
        self.token_limit_next = 0
        self.validation_failures_next = 0
        self.expire_next: float | None = None     # next batch expires after this fraction
        self.cut_downloads_next = 0
        self.raw_carriage_return = False
        self.answer_suffix = ""                   # appended to every answer's text
        self.model = "gpt-4o-mini-2024-07-18"
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- ids and request format ---
    def provider_custom_id(self, custom_id: str, tag: str) -> str:
        if _SAFE.match(custom_id):
            return tagged(tag, custom_id)
        return tagged(tag, "h_" + hashlib.sha256(custom_id.encode()).hexdigest()[:40])

    def request_line(self, provider_custom_id: str, body: dict[str, Any], endpoint: str) -> dict[str, Any]:
        return {"custom_id": provider_custom_id, "method": "POST", "url": endpoint, "body": body}

    # --- batches ---
    def create_batch(
        self, *, requests_path: str, request_count: int, endpoint: str, metadata: dict[str, str]
    ) -> BatchInfo:
        with self._lock:
            self.calls["create"] += 1
            if self.create_errors:
                raise self.create_errors.pop(0)
            with open(requests_path, "rb") as handle:
                requests = [(line["custom_id"], line["body"]) for line in map(orjson.loads, handle) if line]
            assert len(requests) == request_count, (len(requests), request_count)
            now = self.clock()
            batch = FakeBatch(
                batch_id=f"batch_{next(self._ids):04d}", created_at=now, ends_at=now + self.processing_s,
                requests=requests, metadata=dict(metadata),
            )
            models = {body.get("model") for _pcid, body in requests}
            if len(models) > 1 and registry.spec(self.name).capabilities.one_model_per_batch:
                # As OpenAI does: the whole batch fails validation.
                batch.fail_with = [{"code": "mismatched_model", "message": f"one model per batch, got {models}"}]
            elif self.token_limit_next:
                self.token_limit_next -= 1
                batch.fail_with = [{"code": "token_limit_exceeded", "message": "Enqueued token limit reached"}]
            elif self.validation_failures_next:
                self.validation_failures_next -= 1
                batch.fail_with = [{"code": "invalid_request", "message": "bad line", "line": 1}]
            if self.expire_next is not None:
                batch.expire_fraction, self.expire_next = self.expire_next, None
            if not batch.fail_with:
                for pcid, _body in requests:
                    # Outcomes are scripted on the user's ids: the chunk tag changes between attempts.
                    request = untagged(pcid)
                    self.seen[request] += 1
                    batch.outcomes[pcid] = self.outcome_for(request, self.seen[request])
            if not self.keeps_metadata:
                batch.metadata = {}
            self.batches[batch.batch_id] = batch
            if self.ambiguous_creates_next:
                self.ambiguous_creates_next -= 1
                raise ProviderError("server error after the batch was made", retryable=True, status_code=500)
            return self._info(batch)

    def _ended(self, batch: FakeBatch) -> bool:
        now = self.clock()
        return bool(batch.fail_with) or batch.cancelled_at is not None or now >= batch.ends_at

    def _info(self, batch: FakeBatch) -> BatchInfo:
        total = len(batch.requests)
        if batch.fail_with:
            return BatchInfo(batch.batch_id, "failed", "ended", batch.created_at, end_reason="failed",
                             metadata=batch.metadata, errors=batch.fail_with, ended_at=batch.created_at)
        if batch.cancelled_at is not None:
            done = sum(1 for o in batch.outcomes.values() if o != "missing") // 2
            return BatchInfo(batch.batch_id, "cancelled", "ended", batch.created_at, end_reason="cancelled",
                             total=total, completed=done, metadata=batch.metadata, ended_at=batch.cancelled_at,
                             extra={"done": done})
        if not self._ended(batch):
            span = max(batch.ends_at - batch.created_at, 1e-9)
            completed = int(total * min(1.0, (self.clock() - batch.created_at) / span)) if self.shows_progress else 0
            return BatchInfo(batch.batch_id, "in_progress", "running", batch.created_at, total=total,
                             completed=completed, metadata=batch.metadata)
        if batch.expire_fraction is not None:
            done = int(total * batch.expire_fraction)
            return BatchInfo(batch.batch_id, "expired", "ended", batch.created_at, end_reason="expired",
                             total=total, completed=done, metadata=batch.metadata, ended_at=batch.ends_at,
                             extra={"done": done})
        return BatchInfo(batch.batch_id, "completed", "ended", batch.created_at, end_reason="completed",
                         total=total, completed=total, metadata=batch.metadata, ended_at=batch.ends_at,
                         extra={"done": total})

    def find_candidates(
        self, *, metadata: dict[str, str], created_after: float, created_before: float, request_count: int,
    ) -> Iterator[BatchInfo]:
        self.calls["find"] += 1
        if self.find_errors:
            raise self.find_errors.pop(0)
        for batch in sorted(self.batches.values(), key=lambda b: b.created_at, reverse=True):
            if not created_after <= batch.created_at <= created_before:
                continue
            matches = not self.keeps_metadata or all(batch.metadata.get(k) == v for k, v in metadata.items())
            if matches and len(batch.requests) == request_count:
                yield self._info(batch)

    def prove_ownership(self, batch: BatchInfo, *, tag: str, metadata: dict[str, str]) -> bool | None:
        if self.keeps_metadata:
            return all(batch.metadata.get(k) == v for k, v in metadata.items())
        return super().prove_ownership(batch, tag=tag, metadata=metadata)  # by the tag in its results

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        newest_first = sorted(self.batches.values(), key=lambda b: (b.created_at, b.batch_id), reverse=True)
        for start in range(0, max(1, len(newest_first)), page_size):
            self.calls["list_page"] += 1
            for batch in newest_first[start : start + page_size]:
                if batch.created_at < created_after:
                    return
                yield self._info(batch)

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        self.calls["retrieve"] += 1
        if batch_id not in self.batches:
            raise ProviderError(f"no batch {batch_id}", retryable=False, status_code=404)
        return self._info(self.batches[batch_id])

    def cancel_batch(self, batch_id: str) -> BatchInfo:
        self.calls["cancel"] += 1
        batch = self.batches[batch_id]
        if not self._ended(batch):
            batch.cancelled_at = self.clock()
        return self._info(batch)

    # --- results ---
    def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
        self.calls["results"] += 1
        fake = self.batches[batch.batch_id]
        if fake.fail_with:
            return
        done_limit = batch.extra.get("done", len(fake.requests))
        lines = []
        for index, (pcid, body) in enumerate(fake.requests):
            outcome = fake.outcomes[pcid]
            if index >= done_limit or outcome in ("missing", "expired"):
                continue   # not run: the provider does not report it
            lines.append(self._result_line(pcid, body, outcome))
        data = b"".join(lines)
        cut = self.cut_downloads_next > 0
        if cut:
            self.cut_downloads_next -= 1
        yield RawFile("output", self._blocks(data, cut=cut))

    @staticmethod
    def _blocks(data: bytes, *, cut: bool, size: int = 4096) -> Iterator[bytes]:
        for start in range(0, len(data), size):
            if cut and start >= len(data) // 2:
                raise ProviderError("connection closed mid-download", retryable=True)
            yield data[start : start + size]

    def _result_line(self, pcid: str, body: Any, outcome: str) -> bytes:
        text = f"answer to {pcid}{self.answer_suffix}"
        if self.raw_carriage_return:
            text += "\r with a raw carriage return"
        record: dict[str, Any] = {"custom_id": pcid, "outcome": "succeeded", "model": self.model}
        if outcome == "succeeded":
            record["response"] = {"model": self.model, "content": text}
            record["usage"] = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
        else:
            record["outcome"] = "errored"
            record["retryable"] = outcome == "retryable"
            record["error"] = {"code": "server_error" if outcome == "retryable" else "invalid_request",
                               "message": outcome, "status_code": 500 if outcome == "retryable" else 400}
        encoded = json.dumps(record)
        if self.raw_carriage_return:
            encoded = encoded.replace("\\r", "\r")   # a raw \r byte inside a JSON string
        return encoded.encode() + b"\n"

    def parse_result_line(self, file_name: str, line: bytes) -> ProviderResult:
        record = json.loads(line, strict=False)
        return ProviderResult(
            custom_id=record["custom_id"], outcome=record["outcome"], response=record.get("response"),
            error=record.get("error"), usage=record.get("usage"), retryable=record.get("retryable", False),
            model=record.get("model"),
        )
