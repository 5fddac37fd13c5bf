"""Mistral batch jobs adapter (official ``mistralai`` SDK).

Flow: upload the JSONL input (purpose ``batch``), create the job with the chunk's one model,
our metadata and the job's ``timeout_hours``, poll it, then download ``output_file`` and
``error_file`` once it has ended. The model is the job's, not the request's: request lines
are ``{"custom_id", "body"}`` with the body's ``model`` left out, and the create names it.

Statuses: QUEUED, RUNNING and CANCELLATION_REQUESTED are running; SUCCESS is completed,
FAILED failed, TIMEOUT_EXCEEDED expired (what finished is in its files; the lifecycle sends
the rest to a new batch) and CANCELLED cancelled. Counts (total, succeeded, failed) move
while a job runs. Result lines are ``{"id", "custom_id", "response": {"status_code",
"body"}, "error"}``, the envelope ``mistralai.extra.batch`` parses; requests a job never ran
are in neither file.

mistralai retries by elapsed time, not by count: ``max_retries`` becomes a time budget that
holds about that many backoff steps. The create is never retried (a retried POST could make
a second job).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import httpx2
from mistralai.client import Mistral, errors
from mistralai.client.models import BatchJob
from mistralai.client.utils import BackoffStrategy, RetryConfig

from batchrelay.jsonl import loads_line
from batchrelay.providers.base import (
    NO_OPTIONS,
    BatchInfo,
    BatchOptions,
    ProviderError,
    ProviderResult,
    RawFile,
)
from batchrelay.providers.custom_ids import tagged
from batchrelay.providers.errors import RETRYABLE_STATUS, resumable_stream, translate_errors
from batchrelay.providers.sdk_provider import SdkProvider

log = logging.getLogger(__name__)

# Our clock and the provider's may differ a little; created_at is whole seconds.
CLOCK_SKEW_SECONDS = 5.0
DEFAULT_TIMEOUT_HOURS = 24
MAX_PAGE_SIZE = 100

_RUNNING = {"QUEUED", "RUNNING", "CANCELLATION_REQUESTED"}
_END_REASONS = {"SUCCESS": "completed", "FAILED": "failed", "TIMEOUT_EXCEEDED": "expired", "CANCELLED": "cancelled"}
# Backoff of the SDK's own retries (milliseconds).
_BACKOFF_INITIAL_MS, _BACKOFF_MAX_MS, _BACKOFF_EXPONENT, _JITTER_MS = 500, 8_000, 2.0, 250
NO_RETRY = RetryConfig("none", BackoffStrategy(0, 0, 1.0, 0), retry_connection_errors=False)


def retry_config(max_retries: int) -> RetryConfig:
    """mistralai's retry policy for about ``max_retries`` retries: the SDK stops retrying once
    the time since the first attempt exceeds a budget, here that of ``max_retries`` backoff steps."""
    if max_retries <= 0:
        return NO_RETRY
    steps = sum(min(_BACKOFF_MAX_MS, _BACKOFF_INITIAL_MS * _BACKOFF_EXPONENT**i) + _JITTER_MS
                for i in range(max_retries - 1))
    budget = int(steps + _BACKOFF_INITIAL_MS)
    return RetryConfig(
        "backoff",
        BackoffStrategy(_BACKOFF_INITIAL_MS, _BACKOFF_MAX_MS, _BACKOFF_EXPONENT, budget, jitter_ms=_JITTER_MS),
        retry_connection_errors=True,
    )


def normalize_usage(usage: Any) -> dict[str, int] | None:
    """Chat/FIM (prompt/completion tokens) and embeddings/moderation (prompt tokens only) usage."""
    if not isinstance(usage, dict):
        return None
    input_tokens = int(usage.get("prompt_tokens") or 0)
    output_tokens = int(usage.get("completion_tokens") or 0)
    total = int(usage.get("total_tokens") or input_tokens + output_tokens)
    return {"input_tokens": input_tokens, "output_tokens": output_tokens, "total_tokens": total}


def _error_detail(body: Any, status: int) -> dict[str, Any]:
    """{code, type, message} from a Mistral error body ({"object": "error", "message", "type",
    "code"}, or {"detail": [...]} from request validation)."""
    if not isinstance(body, dict):
        return {"code": f"http_{status}", "type": None, "message": str(body) if body else f"HTTP {status}"}
    message = body.get("message") or body.get("detail") or f"HTTP {status}"
    return {
        "code": str(body.get("code") or body.get("type") or f"http_{status}"),
        "type": body.get("type"),
        "message": message if isinstance(message, str) else str(message),
    }


class MistralProvider(SdkProvider):
    name = "mistral"

    def _new_client(self, api_key: str, **client_args: Any) -> Mistral:
        timeout = client_args.get("timeout")
        seconds = timeout.read if isinstance(timeout, httpx2.Timeout) else timeout
        return Mistral(
            api_key=api_key,
            server_url=client_args.get("base_url"),
            retry_config=retry_config(int(client_args.get("max_retries", 0))),
            timeout_ms=int(seconds * 1000) if seconds else None,
        )

    # ------------------------------------------------------------------ requests
    def provider_custom_id(self, custom_id: str, tag: str) -> str:
        return tagged(tag, custom_id)  # Mistral takes any string

    def request_line(self, provider_custom_id: str, body: dict[str, Any], endpoint: str) -> dict[str, Any]:
        # The job names the model for every request (create_batch): the line carries no model.
        return {"custom_id": provider_custom_id, "body": {k: v for k, v in body.items() if k != "model"}}

    # ------------------------------------------------------------------ batches
    def create_batch(
        self, *, requests_path: str, request_count: int, endpoint: str, metadata: dict[str, str],
        options: BatchOptions = NO_OPTIONS,
    ) -> BatchInfo:
        if not options.model:
            # Planning gives every chunk of a one-model-per-batch provider its model.
            raise ProviderError("mistral: a batch job needs a model; the chunk has none", retryable=False,
                                status_code=400, code="missing_model")
        with translate_errors(self.name), open(requests_path, "rb") as handle:
            uploaded = self.client.files.upload(
                file={"file_name": os.path.basename(requests_path), "content": handle}, purpose="batch"
            )
        try:
            with translate_errors(self.name):
                # No SDK retry: a POST retried after a timeout could create a second job.
                job = self.client.batch.jobs.create(
                    input_files=[uploaded.id],
                    model=options.model,
                    endpoint=endpoint,  # type: ignore[arg-type]
                    metadata={str(k): str(v) for k, v in metadata.items()},
                    timeout_hours=options.timeout_hours or DEFAULT_TIMEOUT_HOURS,
                    retries=NO_RETRY,
                )
        except ProviderError as exc:
            # A refusal (4xx, 429 included) made nothing and leaves an orphan file: delete it.
            # An ambiguous failure (timeout, 5xx) may have made the job, which reads the file.
            if exc.status_code is not None and 400 <= exc.status_code < 500:
                self._delete_file_quietly(uploaded.id)
            raise
        return self._info(job)

    def _delete_file_quietly(self, file_id: str) -> None:
        try:
            self.client.files.delete(file_id=file_id)
        except (errors.MistralError, errors.NoResponseError, httpx2.HTTPError) as exc:
            log.warning("could not delete input file %s: %s", file_id, exc)

    def delete_files(self, batch: BatchInfo) -> list[str]:
        """Delete the job's input, output and error files once it has ended; returns the ids
        now gone (a file gone already counts). Raises ProviderError to be retried later."""
        if "input_files" not in batch.extra:
            batch = self.retrieve_batch(batch.batch_id)
        if batch.state != "ended":
            return []
        file_ids = [*batch.extra.get("input_files", []), batch.extra.get("output_file"), batch.extra.get("error_file")]
        deleted: list[str] = []
        for file_id in filter(None, file_ids):
            with translate_errors(self.name):
                try:
                    self.client.files.delete(file_id=file_id)
                except errors.MistralError as exc:
                    if exc.status_code != 404:
                        raise
            deleted.append(file_id)
        return deleted

    def find_candidates(
        self, *, metadata: dict[str, str], created_after: float, created_before: float, request_count: int
    ) -> Iterator[BatchInfo]:
        """Jobs created in the window whose metadata holds every pair we sent (and, once known,
        the chunk's request count)."""
        latest = created_before + CLOCK_SKEW_SECONDS
        for info in self.list_batches(created_after=created_after - CLOCK_SKEW_SECONDS):
            if info.created_at > latest or not self._carries(info, metadata):
                continue
            if info.total and info.total != request_count:
                continue
            yield info

    def prove_ownership(self, batch: BatchInfo, *, tag: str, metadata: dict[str, str]) -> bool | None:
        """Mistral keeps our metadata: a job carrying the chunk's job and chunk is the chunk's."""
        return self._carries(batch, metadata)

    @staticmethod
    def _carries(batch: BatchInfo, metadata: dict[str, str]) -> bool:
        return all(batch.metadata.get(str(k)) == str(v) for k, v in metadata.items())

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        """Newest first, page by page, until a job older than ``created_after``. Pages are
        numbered, so a job created meanwhile can push one onto the next page: it is seen twice
        and yielded once."""
        oldest = math.floor(created_after)  # created_at is whole seconds
        size = max(1, min(MAX_PAGE_SIZE, page_size))
        seen: set[str] = set()
        page_number = 0
        while True:
            with translate_errors(self.name):
                page = self.client.batch.jobs.list(
                    page=page_number, page_size=size, order_by="-created",
                    created_after=datetime.fromtimestamp(oldest, UTC),
                )
            jobs = page.data or []
            for job in jobs:
                if job.created_at < oldest:
                    return  # newest first: everything after this is older still
                if job.id not in seen:
                    seen.add(job.id)
                    yield self._info(job)
            page_number += 1
            if len(jobs) < size or page_number * size >= page.total:
                return

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            return self._info(self.client.batch.jobs.get(job_id=batch_id))

    def cancel_batch(self, batch_id: str) -> BatchInfo:
        with translate_errors(self.name):
            return self._info(self.client.batch.jobs.cancel(job_id=batch_id))

    def _info(self, job: BatchJob) -> BatchInfo:
        status = str(job.status)
        if status not in _RUNNING and status not in _END_REASONS:
            # A status this adapter does not know: keep checking rather than collect too early.
            log.warning("mistral job %s has an unknown status %r; treated as running", job.id, status)
        ended = status in _END_REASONS
        finished = max(job.completed_requests or 0, (job.succeeded_requests or 0) + (job.failed_requests or 0))
        return BatchInfo(
            batch_id=job.id,
            provider_status=status,
            state="ended" if ended else "running",
            created_at=float(job.created_at),
            end_reason=_END_REASONS[status] if ended else None,  # type: ignore[arg-type]
            total=job.total_requests or 0,
            completed=finished,
            failed=job.failed_requests or 0,
            ended_at=float(job.completed_at) if ended and isinstance(job.completed_at, int) else None,
            metadata={str(k): str(v) for k, v in (job.metadata or {}).items()} if isinstance(job.metadata, dict)
            else {},
            errors=[{"code": "batch_error", "message": e.message, "count": e.count} for e in job.errors or []]
            if status == "FAILED" else [],
            extra={
                "input_files": [str(f) for f in job.input_files],
                "output_file": _optional(job.output_file),
                "error_file": _optional(job.error_file),
                "endpoint": job.endpoint,
                "model": _optional(job.model),
            },
        )

    # ------------------------------------------------------------------ results
    def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
        """The output file then the error file, each only if the job has one, streamed in blocks."""
        if "output_file" not in batch.extra or (batch.state == "ended" and batch.extra.get("output_file") is None
                                                and batch.extra.get("error_file") is None):
            batch = self.retrieve_batch(batch.batch_id)
        for name, key in (("output", "output_file"), ("errors", "error_file")):
            file_id = batch.extra.get(key)
            if file_id:
                yield RawFile(name=name, blocks=self._download(file_id))

    def _download(self, file_id: str) -> Iterator[bytes]:
        return resumable_stream(
            lambda: closing(self.client.files.download(file_id=file_id)),
            provider=self.name,
            what=file_id,
            attempts=self.download_attempts,
        )

    def parse_result_line(self, file_name: str, line: bytes) -> ProviderResult:
        """One line of the output or error file (the same envelope in both).

        Raises ValueError when the line is not a result line.
        """
        data = loads_line(line)
        if not isinstance(data, dict) or not isinstance(data.get("custom_id"), str):
            raise ValueError("not a Mistral batch result line: no custom_id")
        custom_id = data["custom_id"]
        response = data.get("response")
        error = data.get("error")
        if isinstance(response, dict) and response.get("status_code") is not None:
            status = int(response.get("status_code") or 0)
            body = response.get("body")
            if 200 <= status < 300 and not error and isinstance(body, dict):
                return ProviderResult(custom_id=custom_id, outcome="succeeded", response=body,
                                      usage=normalize_usage(body.get("usage")), model=body.get("model"))
            return ProviderResult(
                custom_id=custom_id,
                outcome="errored",
                response=body if isinstance(body, dict) else None,
                error={**_error_detail(body, status), "status_code": status},
                retryable=status in RETRYABLE_STATUS or status >= 500,
            )
        # No HTTP answer for the request: the job could not run it. Worth another batch
        # (max_attempts bounds it): a request Mistral refuses comes with a 4xx response.
        if isinstance(error, dict):
            detail = {"code": str(error.get("code") or error.get("type") or "request_failed"),
                      "message": str(error.get("message") or error)}
        else:
            detail = {"code": "request_failed", "message": str(error) if error else "no response"}
        return ProviderResult(custom_id=custom_id, outcome="errored", error=detail, retryable=True)


def _optional(value: Any) -> str | None:
    """A nullable SDK field as a string (UNSET and None as None)."""
    return str(value) if isinstance(value, str) and value else None
