"""OpenAI Batch API adapter (official ``openai`` SDK).

Flow: upload the JSONL input (purpose ``batch``), create the batch with our metadata,
poll it, then stream ``output_file_id`` and ``error_file_id``. An expired or cancelled
batch still has output for what finished; unfinished requests are in the error file
with code ``batch_expired`` / ``batch_cancelled``. When every request failed there is no
output file (``output_file_id`` is null), only the error file.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from typing import Any

import openai
from openai.types import Batch

from batchrelay.jsonl import loads_line
from batchrelay.providers.base import (
    NO_OPTIONS,
    BatchInfo,
    BatchOptions,
    ProviderError,
    ProviderResult,
    RawFile,
)
from batchrelay.providers.custom_ids import openai_custom_id
from batchrelay.providers.errors import RETRYABLE_STATUS, resumable_stream, translate_errors
from batchrelay.providers.sdk_provider import SdkProvider

log = logging.getLogger(__name__)

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
# Our clock and the provider's may differ a little; created_at is whole seconds.
CLOCK_SKEW_SECONDS = 5.0

_RUNNING = {"validating", "in_progress", "finalizing", "cancelling"}
_END_REASONS = {"completed": "completed", "expired": "expired", "cancelled": "cancelled", "failed": "failed"}
_ENDED_AT_FIELD = {"completed": "completed_at", "expired": "expired_at", "cancelled": "cancelled_at",
                   "failed": "failed_at"}
# The files a batch keeps at OpenAI, as BatchInfo.extra names them.
_FILE_FIELDS = ("input_file_id", "output_file_id", "error_file_id")
# Per-request error codes (no HTTP response) that are worth another batch.
_RETRYABLE_CODES = {"server_error", "internal_error", "rate_limit_exceeded", "timeout", "service_unavailable"}


def normalize_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """Fit metadata to OpenAI's limits: 16 pairs, keys up to 64, values up to 512 characters.

    Pairs past the 16th are dropped (in the caller's order) and long values cut; find_candidates
    applies the same function, so matching still works. Keys are ours, not user data: a key
    too long is a programming error (cutting it could merge two keys), so it raises.
    """
    items = list(metadata.items())
    if len(items) > MAX_METADATA_PAIRS:
        log.warning("OpenAI metadata has %d pairs; keeping the first %d", len(items), MAX_METADATA_PAIRS)
    too_long = [k for k, _ in items if len(str(k)) > MAX_METADATA_KEY]
    if too_long:
        raise ValueError(f"OpenAI metadata keys are limited to {MAX_METADATA_KEY} characters: {too_long}")
    return {str(k): str(v)[:MAX_METADATA_VALUE] for k, v in items[:MAX_METADATA_PAIRS]}


def normalize_usage(usage: dict[str, Any] | None) -> dict[str, int] | None:
    """Chat/completions (prompt/completion), Responses (input/output) and embeddings usage as one shape."""
    if not isinstance(usage, dict):
        return None
    input_tokens = int(usage.get("input_tokens", usage.get("prompt_tokens", 0)) or 0)
    output_tokens = int(usage.get("output_tokens", usage.get("completion_tokens", 0)) or 0)
    total = int(usage.get("total_tokens") or input_tokens + output_tokens)
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": total}


class OpenAIProvider(SdkProvider):
    """OpenAI's adapter, and the base of every OpenAI-shaped one (providers/openai_shaped.py):
    they differ only in what these class attributes and the hooks below say."""

    name = "openai"
    default_completion_window = "24h"
    # The provider keeps our batch metadata: recovery finds and proves a batch by it at once.
    keeps_metadata = True

    def wire_endpoint(self, endpoint: str) -> str:
        """The endpoint as the provider names it in request lines and creates (a job names
        OpenAI's: /v1/chat/completions)."""
        return endpoint

    def _new_client(self, api_key: str, **client_args: Any) -> openai.OpenAI:
        return openai.OpenAI(api_key=api_key, **client_args)


    # ------------------------------------------------------------------ requests
    def provider_custom_id(self, custom_id: str, tag: str) -> str:
        return openai_custom_id(custom_id, tag)  # OpenAI accepts any string

    def request_line(self, provider_custom_id: str, body: dict[str, Any], endpoint: str) -> dict[str, Any]:
        return {"custom_id": provider_custom_id, "method": "POST", "url": self.wire_endpoint(endpoint), "body": body}

    # ------------------------------------------------------------------ batches
    def create_batch(
        self, *, requests_path: str, request_count: int, endpoint: str, metadata: dict[str, str],
        options: BatchOptions = NO_OPTIONS,
    ) -> BatchInfo:
        with translate_errors(self.name), open(requests_path, "rb") as handle:
            uploaded = self.client.files.create(file=(os.path.basename(requests_path), handle), purpose="batch")
        try:
            with translate_errors(self.name):
                # No SDK retry: a POST retried after a timeout could create a second batch.
                batch = self.client.with_options(max_retries=0).batches.create(
                    input_file_id=uploaded.id,
                    endpoint=self.wire_endpoint(endpoint),  # type: ignore[arg-type]
                    completion_window=options.completion_window or self.default_completion_window,  # type: ignore[arg-type]
                    metadata=normalize_metadata(metadata),
                )
        except ProviderError as exc:
            # A refusal (any 4xx, 429 included: the caller tries again with a new upload) leaves
            # an orphan file: delete it. An ambiguous failure (timeout, 5xx) may have created
            # the batch, whose validation still needs the file: keep it then (an adopted batch
            # names it, and it is deleted with the batch's files once collected).
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                self._delete_file_quietly(uploaded.id)
            raise
        return self._info(batch)

    def _delete_file_quietly(self, file_id: str) -> None:
        # Nothing refers to this file any more, so no safety net can retry: OpenAI's own
        # expiry of batch files (30 days by default) is the one left.
        try:
            self.client.files.delete(file_id)
        except openai.OpenAIError as exc:
            log.warning("could not delete input file %s: %s", file_id, exc)

    def delete_files(self, batch: BatchInfo) -> list[str]:
        """Delete the batch's input, output and error files; returns the ids now gone.

        Only for an ended batch (a running one still reads its input). A file that is gone
        already (deleted before, expired) counts as deleted, so a retry after a partial
        failure finishes the job. Raises ProviderError for what is worth retrying later.
        """
        if not all(key in batch.extra for key in _FILE_FIELDS):
            batch = self.retrieve_batch(batch.batch_id)
        if batch.state != "ended":
            return []
        deleted: list[str] = []
        for key in _FILE_FIELDS:
            file_id = batch.extra.get(key)
            if not file_id:
                continue
            with translate_errors(self.name):
                try:
                    self.client.files.delete(file_id)
                except openai.NotFoundError:
                    pass
            deleted.append(file_id)
        return deleted

    def find_candidates(
        self, *, metadata: dict[str, str], created_after: float, created_before: float, request_count: int
    ) -> Iterator[BatchInfo]:
        """Batches created in the window whose metadata holds every pair we sent.

        The total is compared only once known (it is 0 while a batch is validating). Where the
        provider keeps no metadata, every batch of the window and size is a candidate.
        """
        wanted = normalize_metadata(metadata) if self.keeps_metadata else {}
        latest = created_before + CLOCK_SKEW_SECONDS
        for info in self.list_batches(created_after=created_after - CLOCK_SKEW_SECONDS):
            if info.created_at > latest or any(info.metadata.get(k) != v for k, v in wanted.items()):
                continue
            if info.total and info.total != request_count:
                continue
            yield info

    def prove_ownership(self, batch: BatchInfo, *, tag: str, metadata: dict[str, str]) -> bool | None:
        """OpenAI keeps our metadata: a batch carrying the chunk's job and chunk is the chunk's.
        A provider that keeps none proves it by the chunk tag in its results (the default)."""
        if not self.keeps_metadata:
            return super().prove_ownership(batch, tag=tag, metadata=metadata)
        wanted = normalize_metadata(metadata)
        return all(batch.metadata.get(k) == v for k, v in wanted.items())

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        oldest = math.floor(created_after)  # created_at is whole seconds
        with translate_errors(self.name):
            page = self.client.batches.list(limit=max(1, min(100, page_size)))
        seen: set[str] = set()
        while True:
            fresh = False
            for batch in page.data:
                if batch.id in seen:
                    continue
                seen.add(batch.id)
                fresh = True
                if batch.created_at < oldest:
                    return  # newest first: everything after this is older still
                yield self._info(batch)
            # A compatible server that ignores ``after`` answers the same page again: stop there.
            if not fresh or not page.has_next_page():
                return
            with translate_errors(self.name):
                page = page.get_next_page()

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            return self._info(self.client.batches.retrieve(batch_id))

    def cancel_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            return self._info(self.client.batches.cancel(batch_id))

    def _info(self, batch: Batch) -> BatchInfo:
        status = batch.status
        ended = status not in _RUNNING
        counts = batch.request_counts
        ended_at = getattr(batch, _ENDED_AT_FIELD[status]) if ended else None
        errors = [e.model_dump(exclude_none=True) for e in (batch.errors.data or [])] if batch.errors else []
        return BatchInfo(
            batch_id=batch.id,
            provider_status=status,
            state="ended" if ended else "running",
            created_at=float(batch.created_at),
            end_reason=_END_REASONS[status] if ended else None,  # type: ignore[arg-type]
            total=counts.total if counts else 0,
            # OpenAI's "completed" counts successes only; BatchInfo.completed is every finished request.
            completed=(counts.completed + counts.failed) if counts else 0,
            failed=counts.failed if counts else 0,
            ended_at=float(ended_at) if ended_at is not None else None,
            metadata=dict(batch.metadata or {}),
            errors=errors,
            extra={
                "input_file_id": batch.input_file_id,
                "output_file_id": batch.output_file_id,
                "error_file_id": batch.error_file_id,
                "endpoint": batch.endpoint,
            },
        )

    # ------------------------------------------------------------------ results
    def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
        """The output file then the error file, each only if it exists, streamed in blocks."""
        if "output_file_id" not in batch.extra and "error_file_id" not in batch.extra:
            batch = self.retrieve_batch(batch.batch_id)
        for name, key in (("output", "output_file_id"), ("errors", "error_file_id")):
            file_id = batch.extra.get(key)
            if file_id:
                yield RawFile(name=name, blocks=self._download(file_id))

    def _download(self, file_id: str) -> Iterator[bytes]:
        return resumable_stream(
            lambda: self.client.files.with_streaming_response.content(file_id),
            provider=self.name,
            what=file_id,
            attempts=self.download_attempts,
        )

    def parse_result_line(self, file_name: str, line: bytes) -> ProviderResult:
        """One line of the output or error file (same shape in both).

        Raises ValueError when the line is not a result line.
        """
        # orjson first; a raw control character (e.g. CR) inside a string falls back to
        # json.loads(strict=False) and must not sink the line.
        data = loads_line(line)
        if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
            raise ValueError("not an OpenAI batch result line: no custom_id")
        custom_id = data["custom_id"]
        response = data.get("response")
        if isinstance(response, dict):
            status = int(response.get("status_code") or 0)
            body = response.get("body") if isinstance(response.get("body"), dict) else {}
            if 200 <= status < 300:
                return ProviderResult(custom_id=custom_id, outcome="succeeded", response=body,
                                      usage=normalize_usage(body.get("usage")), model=body.get("model"))
            detail = body.get("error") if isinstance(body.get("error"), dict) else {}
            return ProviderResult(
                custom_id=custom_id,
                outcome="errored",
                response=body or None,
                error={"code": detail.get("code") or detail.get("type") or f"http_{status}",
                       "type": detail.get("type"), "message": detail.get("message") or f"HTTP {status}",
                       "status_code": status},
                retryable=status in RETRYABLE_STATUS or status >= 500,
            )
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        code = error.get("code")
        message = error.get("message") or "no response"
        if code == "batch_expired":
            return ProviderResult(custom_id=custom_id, outcome="expired", error={"code": code, "message": message})
        if code == "batch_cancelled":
            return ProviderResult(custom_id=custom_id, outcome="cancelled", error={"code": code, "message": message})
        return ProviderResult(custom_id=custom_id, outcome="errored", error={"code": code, "message": message},
                              retryable=code in _RETRYABLE_CODES)
