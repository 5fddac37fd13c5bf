"""Anthropic Message Batches adapter (official ``anthropic`` SDK).

No file upload: the requests go in the create call's body. Outcome counts stay zero
until the whole batch has ended (``processing`` holds the total meanwhile), so progress
is only known at the end. Results are one JSONL stream at ``results_url``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import anthropic
from anthropic.types.messages import MessageBatch

from batchrelay.jsonl import loads_line
from batchrelay.providers.base import (
    NO_OPTIONS,
    BatchInfo,
    BatchOptions,
    ProviderError,
    ProviderResult,
    RawFile,
)
from batchrelay.providers.custom_ids import anthropic_custom_id
from batchrelay.providers.errors import resumable_stream, translate_errors
from batchrelay.providers.sdk_provider import SdkProvider

log = logging.getLogger(__name__)

CLOCK_SKEW_SECONDS = 5.0

# errored results whose cause is on Anthropic's side or transient: worth another batch.
_RETRYABLE_ERROR_TYPES = {"api_error", "overloaded_error", "rate_limit_error", "timeout_error"}


def normalize_usage(usage: dict[str, Any] | None) -> dict[str, int] | None:
    """input/output/total tokens; prompt-cache tokens are added as their own keys when present."""
    if not isinstance(usage, dict):
        return None
    result = {
        "input_tokens": int(usage.get("input_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
    }
    cache_keys = ("cache_creation_input_tokens", "cache_read_input_tokens")
    cached = {k: int(usage[k]) for k in cache_keys if usage.get(k)}
    result["total_tokens"] = result["input_tokens"] + result["output_tokens"] + sum(cached.values())
    return result | cached


def _write_create_body(requests_path: str, body_path: str) -> int:
    """Write {"requests": [line, line, ...]} from a JSONL file of request lines; returns the count."""
    count = 0
    with open(requests_path, "rb") as lines, open(body_path, "wb") as body:
        body.write(b'{"requests":[')
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            if count:
                body.write(b",")
            body.write(line)
            count += 1
        body.write(b"]}")
    return count


class AnthropicProvider(SdkProvider):
    name = "anthropic"

    def _new_client(self, api_key: str, **client_args: Any) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key=api_key, **client_args)


    # ------------------------------------------------------------------ requests
    def provider_custom_id(self, custom_id: str, tag: str) -> str:
        return anthropic_custom_id(custom_id, tag)

    def request_line(self, provider_custom_id: str, body: dict[str, Any], endpoint: str) -> dict[str, Any]:
        return {"custom_id": provider_custom_id, "params": body}

    # ------------------------------------------------------------------ batches
    def create_batch(
        self, *, requests_path: str, request_count: int, endpoint: str, metadata: dict[str, str],
        options: BatchOptions = NO_OPTIONS,
    ) -> BatchInfo:
        # The body {"requests": [...]} is assembled on disk from the chunk's lines and streamed
        # (the SDK's create would hold a 256 MB batch, several times over, in memory).
        # ``metadata`` has no place in this API: the chunk tag in every custom_id proves ownership.
        body_path = f"{requests_path}.body.json"
        try:
            count = _write_create_body(requests_path, body_path)
            if count != request_count:
                log.warning("chunk file has %d requests, expected %d", count, request_count)
            with translate_errors(self.name), open(body_path, "rb") as body:
                # No SDK retry: a POST retried after a timeout could create a second batch.
                created = self.client.with_options(max_retries=0).post(
                    "/v1/messages/batches",
                    cast_to=MessageBatch,
                    content=body,
                    options={"headers": {"Content-Type": "application/json"}},
                )
            return self._info(created)
        finally:
            if os.path.exists(body_path):
                os.unlink(body_path)

    def find_candidates(
        self, *, metadata: dict[str, str], created_after: float, created_before: float, request_count: int
    ) -> Iterator[BatchInfo]:
        """Every batch created in the window with ``request_count`` requests, newest first.

        Anthropic batches carry no metadata: a candidate is proven the chunk's only by its
        results (``prove_ownership``: every request id carries the chunk's tag), once it ended.
        """
        latest = created_before + CLOCK_SKEW_SECONDS
        for info in self.list_batches(created_after=created_after - CLOCK_SKEW_SECONDS):
            if info.total == request_count and info.created_at <= latest:
                yield info

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        with translate_errors(self.name):
            page = self.client.messages.batches.list(limit=max(1, min(1000, page_size)))
        while True:
            for batch in page.data:
                if batch.created_at.timestamp() < created_after:
                    return  # newest first: the rest is older still
                yield self._info(batch)
            if not page.has_next_page():
                return
            with translate_errors(self.name):
                page = page.get_next_page()

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            return self._info(self.client.messages.batches.retrieve(batch_id))

    def cancel_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            return self._info(self.client.messages.batches.cancel(batch_id))

    @staticmethod
    def _info(batch: MessageBatch) -> BatchInfo:
        counts = batch.request_counts
        total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
        ended = batch.processing_status == "ended"
        end_reason = None
        if ended:
            if batch.cancel_initiated_at is not None:
                end_reason = "cancelled"
            elif counts.expired:
                end_reason = "expired"
            else:
                end_reason = "completed"
        return BatchInfo(
            batch_id=batch.id,
            provider_status=batch.processing_status,
            state="ended" if ended else "running",
            created_at=batch.created_at.timestamp(),
            end_reason=end_reason,  # type: ignore[arg-type]
            total=total,
            completed=counts.succeeded + counts.errored,
            failed=counts.errored,
            ended_at=batch.ended_at.timestamp() if batch.ended_at else None,
            extra={"results_url": batch.results_url},
        )

    # ------------------------------------------------------------------ results
    def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
        if batch.state != "ended":
            raise ProviderError(f"anthropic: batch {batch.batch_id} has not ended; no results yet",
                                retryable=True, code="not_ended")
        # The SDK looks up results_url itself (one retrieve) and streams it with auth headers.
        blocks = resumable_stream(
            lambda: self.client.messages.batches.with_streaming_response.results(batch.batch_id),
            provider=self.name,
            what=batch.batch_id,
            attempts=self.download_attempts,
        )
        yield RawFile(name="results", blocks=blocks)

    def parse_result_line(self, file_name: str, line: bytes) -> ProviderResult:
        """One results line. Raises ValueError when the line is not a result line."""
        # orjson first; a raw control character (e.g. CR) inside a string falls back to
        # json.loads(strict=False) and must not sink the line.
        data = loads_line(line)
        if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
            raise ValueError("not an Anthropic batch result line: no custom_id")
        custom_id = data["custom_id"]
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        kind = result.get("type")
        if kind == "succeeded":
            message = result.get("message") if isinstance(result.get("message"), dict) else {}
            return ProviderResult(custom_id=custom_id, outcome="succeeded", response=message,
                                  usage=normalize_usage(message.get("usage")), model=message.get("model"))
        if kind == "expired":
            return ProviderResult(custom_id=custom_id, outcome="expired",
                                  error={"type": "expired", "message": "The batch expired before this request ran."})
        if kind == "canceled":
            return ProviderResult(custom_id=custom_id, outcome="cancelled",
                                  error={"type": "canceled", "message": "The batch was canceled before this request "
                                                                        "ran."})
        if kind == "errored":
            envelope = result.get("error") if isinstance(result.get("error"), dict) else {}
            detail = envelope.get("error") if isinstance(envelope.get("error"), dict) else envelope
            error_type = str(detail.get("type") or "api_error")
            return ProviderResult(
                custom_id=custom_id,
                outcome="errored",
                error={"type": error_type, "code": error_type, "message": detail.get("message") or error_type},
                retryable=error_type in _RETRYABLE_ERROR_TYPES,
            )
        raise ValueError(f"unknown Anthropic result type: {kind!r}")
