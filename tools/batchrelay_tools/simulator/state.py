"""The simulator's state: files, batches and how they move through time.

A batch's status is a pure function of the clock and a few recorded instants (creation,
cancel request), computed on every read, so fast test clocks and real time behave the
same. Result files are generated once, when a batch is first seen in a final state.

For deterministic runs (the lifecycle simulation), ids come from ``new_id`` (uuid4 unless
replaced) and everything generated later from a batch (result files, line ids) is derived
from the batch's id, so the order in which clients read batches changes nothing.
``batch_planner`` decides per batch how long it runs and how it ends, ``vanish`` makes a
batch answer 404, and ``ledger`` tells what was created and billed (see ledger.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from batchrelay.providers.custom_ids import untagged
from batchrelay.registry import CompletionWindows, window_seconds
from batchrelay_tools.simulator import answers
from batchrelay_tools.simulator.ledger import (
    BATCH_FAILED,
    CANCELLED,
    ERRORED,
    EXPIRED,
    SUCCEEDED,
    LedgerBatch,
    LedgerRequest,
)
from batchrelay_tools.simulator.settings import FailureRule, SimulatorSettings


class ApiError(Exception):
    """An HTTP error answer (the server formats it in the provider's error shape)."""

    def __init__(self, status: int, message: str, *, code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


ANTHROPIC_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
OPENAI_METADATA_MAX_PAIRS = 16
ANTHROPIC_MAX_REQUESTS = 100_000
OPENAI_MAX_REQUESTS = 50_000
OPENAI_ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/completions", "/v1/moderations")


@dataclass(frozen=True)
class OpenAIShape:
    """What an account with OpenAI's Files + Batches API accepts: OpenAI's own (the built-in
    simulation), or another provider's at another address (simulator/providers/openai_shaped.py
    runs this same simulation under its name, with its own files and batches)."""

    provider: str = "openai"
    # The endpoints its creates and request lines name -> OpenAI's name for the same (the answers').
    endpoints: Mapping[str, str] = field(default_factory=lambda: {e: e for e in OPENAI_ENDPOINTS})
    shortest_window: str = "24h"
    longest_window: str = "24h"
    max_requests: int = OPENAI_MAX_REQUESTS
    keeps_metadata: bool = True
    # False: a batch is never expired (Azure OpenAI); one planned to expire stalls instead.
    expires: bool = True

    def accepts_window(self, window: Any) -> bool:
        windows = CompletionWindows(self.shortest_window, self.shortest_window, self.longest_window)
        return isinstance(window, str) and windows.accepts(window)


OPENAI_SHAPE = OpenAIShape()


@dataclass
class StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "expires_at": self.created_at + 30 * 86400,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


@dataclass(frozen=True)
class DeletedFile:
    """A file some client deleted: the ledger shows what was cleaned up, and when."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    deleted_at: float


@dataclass
class PlannedRequest:
    custom_id: str
    body: dict[str, Any]
    failure: FailureRule | None = None   # decided at creation so later config changes don't rewrite history


@dataclass
class Timeline:
    """Instants shared by both providers' batches (epoch seconds)."""

    created_at: float
    validating_seconds: float
    processing_seconds: float
    finalizing_seconds: float
    cancelling_seconds: float
    total: int
    expire_count: int | None = None       # requests finished before the window "expires"
    cancel_at: float | None = None
    # A provider that never expires batches (Azure OpenAI): where another would expire the
    # batch, it stalls in progress after expire_count requests, until it is cancelled.
    never_expires: bool = False

    @property
    def stalls(self) -> bool:
        return self.never_expires and self.expire_count is not None

    @property
    def processing_start(self) -> float:
        return self.created_at + self.validating_seconds

    @property
    def processing_end(self) -> float:
        return self.processing_start + self.processing_seconds

    def processed_at(self, when: float) -> int:
        """How many requests (in input order) have finished by ``when``."""
        limit = self.total if self.expire_count is None else self.expire_count
        if when < self.processing_start:
            return 0
        if self.processing_seconds <= 0 or when >= self.processing_end:
            return limit
        done = int(self.total * (when - self.processing_start) / self.processing_seconds)
        return min(done, limit)

    def cancel_effective(self) -> bool:
        if self.stalls:
            return self.cancel_at is not None
        end = self.processing_end if self.expire_count is not None else self.processing_end + self.finalizing_seconds
        return self.cancel_at is not None and self.cancel_at < end


@dataclass
class BatchPlan:
    """How one batch runs, decided when it is created (None keeps the settings' value)."""

    processing_seconds: float | None = None
    validating_seconds: float | None = None
    finalizing_seconds: float | None = None
    expire_after_fraction: float | None = None
    token_limit_exceeded: bool = False    # OpenAI: the batch fails with token_limit_exceeded


def _uuid_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _derived_id(batch_id: str, what: str) -> str:
    """An id for something generated from a batch (order-independent, unlike a counter)."""
    return hashlib.sha256(f"{batch_id}:{what}".encode()).hexdigest()[:24]


@dataclass
class OpenAIBatch:
    id: str
    seq: int
    endpoint: str
    input_file_id: str
    metadata: dict[str, str] | None
    timeline: Timeline
    requests: list[PlannedRequest]
    model: str | None
    fail_errors: list[dict[str, Any]] | None = None
    completion_window: str = "24h"
    # (custom_id, body digest) of every request sent, for the ledger (even when validation failed).
    sent: list[tuple[str, str]] = field(default_factory=list)
    # Filled when the batch is first seen final.
    output_file_id: str | None = None
    error_file_id: str | None = None
    materialized: bool = False


@dataclass
class AnthropicBatch:
    id: str
    seq: int
    timeline: Timeline
    requests: list[PlannedRequest]
    results: bytes | None = None
    sent: list[tuple[str, str]] = field(default_factory=list)


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Simulator:
    settings: SimulatorSettings = field(default_factory=SimulatorSettings)
    clock: Callable[[], float] = field(default=None)  # type: ignore[assignment]
    # Its OpenAI-shaped account is OpenAI's (an OpenAIShapedAccount is another provider's).
    openai_shape = OPENAI_SHAPE

    def __post_init__(self) -> None:
        import time

        self.clock = self.clock or time.time
        self.lock = threading.RLock()
        self.files: dict[str, StoredFile] = {}
        self.deleted_files: dict[str, DeletedFile] = {}
        self.files_created = 0
        self.openai_batches: dict[str, OpenAIBatch] = {}
        self.extensions: dict[str, Any] = {}  # simulated providers of simulator/providers, by name
        self.anthropic_batches: dict[str, AnthropicBatch] = {}
        self.calls: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()  # first_attempt_only bookkeeping
        self._seq = 0
        self.new_id: Callable[[str], str] = _uuid_id
        self.batch_planner: Callable[[str, int], BatchPlan | None] | None = None
        # Told of every batch created: (provider, batch id, when it will end if left alone).
        self.on_created: Callable[[str, str, float], None] | None = None
        self.vanished: set[str] = set()

    def reset(self, settings: SimulatorSettings | None = None) -> None:
        """Forget every file and batch (a fresh provider account); hooks back to their defaults."""
        with self.lock:
            self.settings = settings or SimulatorSettings()
            self.files.clear()
            self.openai_batches.clear()
            self.anthropic_batches.clear()
            self.extensions.clear()
            self.calls.clear()
            self.attempts.clear()
            self._seq = 0
            self.new_id = _uuid_id
            self.batch_planner = None
            self.on_created = None
            self.vanished.clear()
            self.extensions.clear()

    def vanish(self, batch_id: str) -> None:
        """From now on the batch answers 404 and is missing from lists (it still runs and bills)."""
        with self.lock:
            self.vanished.add(batch_id)

    # ------------------------------------------------------------------ helpers
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def extension(self, plugin: Any) -> Any:
        """The state of a simulated provider of simulator/providers (made on first use)."""
        with self.lock:
            state = self.extensions.get(plugin.name)
            if state is None:
                state = self.extensions[plugin.name] = plugin.make_state(self)
            return state

    def count_call(self, route: str) -> None:
        with self.lock:
            self.calls[route] += 1

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "routes": dict(self.calls),
                "files": len(self.files),
                "files_created": self.files_created,
                "files_deleted": len(self.deleted_files),
                "files_by_purpose": dict(Counter(f.purpose for f in self.files.values())),
                "openai_batches": len(self.openai_batches),
                "anthropic_batches": len(self.anthropic_batches),
            }

    def file_ledger(self) -> dict[str, list[dict[str, Any]]]:
        """Every file that exists (``live``) and every file deleted so far (``deleted``)."""
        with self.lock:
            live = [{"id": f.id, "filename": f.filename, "purpose": f.purpose, "bytes": len(f.data),
                     "created_at": f.created_at} for f in self.files.values()]
            deleted = [dataclasses.asdict(f) for f in self.deleted_files.values()]
            for state in self.extensions.values():
                if hasattr(state, "file_ledger"):
                    more_live, more_deleted = state.file_ledger()
                    live += more_live
                    deleted += more_deleted
        return {"live": live, "deleted": deleted}

    def reset_stats(self) -> None:
        with self.lock:
            self.calls.clear()

    def consume(self, name: str) -> bool:
        """Decrement a ``*_next`` fault counter; True when a fault should fire now."""
        with self.lock:
            left = getattr(self.settings, name)
            if left > 0:
                setattr(self.settings, name, left - 1)
                return True
            return False

    def _plan(self, provider: str, total: int) -> BatchPlan:
        return (self.batch_planner(provider, total) if self.batch_planner else None) or BatchPlan()

    def _timeline(self, total: int, plan: BatchPlan | None = None) -> Timeline:
        s = self.settings
        plan = plan or BatchPlan()
        expire_count = None
        fraction = plan.expire_after_fraction if plan.expire_after_fraction is not None else s.expire_after_fraction
        if fraction is not None:
            expire_count = int(total * max(0.0, min(1.0, fraction)))

        def pick(override: float | None, default: float) -> float:
            return default if override is None else override

        return Timeline(
            created_at=self.clock(),
            validating_seconds=pick(plan.validating_seconds, s.validating_seconds),
            processing_seconds=pick(plan.processing_seconds, s.processing_seconds),
            finalizing_seconds=pick(plan.finalizing_seconds, s.finalizing_seconds),
            cancelling_seconds=s.cancelling_seconds,
            total=total,
            expire_count=expire_count,
        )

    def _plan_failure(self, custom_id: str, body: dict[str, Any]) -> FailureRule | None:
        # Rules speak of the client's own ids: batchrelay's chunk tag (it changes from one
        # batch of a request to the next) is not part of what they match or count.
        custom_id = untagged(custom_id)
        for rule in self.settings.failure_rules:
            if not rule.selects(custom_id):
                continue
            if rule.first_attempt_only:
                key = custom_id if rule.attempt_key == "custom_id" else answers.body_digest(body)
                self.attempts[key] += 1
                if self.attempts[key] > 1:
                    return None
            return rule
        return None

    # ------------------------------------------------------------------ OpenAI files
    def create_file(self, filename: str, purpose: str, data: bytes, *, file_id: str | None = None) -> StoredFile:
        if purpose not in ("batch", "batch_output", "assistants", "fine-tune", "user_data", "vision", "evals"):
            raise ApiError(400, f"Invalid purpose: {purpose!r}", param="purpose")
        with self.lock:
            stored = StoredFile(file_id or self.new_id("file-"), filename, purpose, data, int(self.clock()))
            self.files[stored.id] = stored
            self.files_created += 1
            return stored

    def get_file(self, file_id: str) -> StoredFile:
        with self.lock:
            stored = self.files.get(file_id)
        if stored is None:
            raise ApiError(404, f"No such File object: {file_id}", param="id")
        return stored

    def delete_file(self, file_id: str) -> dict[str, Any]:
        if self.consume("delete_file_errors_next"):
            raise ApiError(500, "Simulated HTTP 500 on file delete.")
        with self.lock:
            stored = self.files.pop(file_id, None)
            if stored is None:
                raise ApiError(404, f"No such File object: {file_id}", param="id")
            self.deleted_files[file_id] = DeletedFile(
                stored.id, stored.filename, stored.purpose, len(stored.data), stored.created_at, self.clock()
            )
        return {"id": file_id, "object": "file", "deleted": True}

    # ------------------------------------------------------------------ OpenAI batches
    def create_openai_batch(self, payload: dict[str, Any]) -> dict[str, Any]:
        shape = self.openai_shape
        endpoint = payload.get("endpoint")
        if endpoint not in shape.endpoints:
            raise ApiError(400, f"Invalid endpoint: {endpoint!r}", param="endpoint")
        window = payload.get("completion_window")
        if not shape.accepts_window(window):
            accepted = shape.shortest_window if shape.shortest_window == shape.longest_window else \
                f"from {shape.shortest_window} to {shape.longest_window}"
            raise ApiError(400, f"completion_window must be {accepted!r}", param="completion_window")
        metadata = payload.get("metadata")
        if metadata is not None:
            if not isinstance(metadata, dict) or len(metadata) > OPENAI_METADATA_MAX_PAIRS:
                raise ApiError(400, "metadata: at most 16 key-value pairs", param="metadata")
            for key, value in metadata.items():
                if not isinstance(value, str) or len(key) > 64 or len(value) > 512:
                    raise ApiError(400, f"metadata[{key!r}]: keys up to 64, string values up to 512 characters",
                                   param="metadata")
        source = self.get_file(str(payload.get("input_file_id")))
        if source.purpose != "batch":
            raise ApiError(400, "The input file must be uploaded with purpose 'batch'", param="input_file_id")

        requests, errors = self._parse_openai_input(source.data, endpoint, max_requests=shape.max_requests)
        plan = self._plan(shape.provider, len(requests))
        if not errors and plan.token_limit_exceeded:
            errors = [{"code": "token_limit_exceeded", "message": "Enqueued token limit reached for the model in "
                       "organization org-sim.", "param": None, "line": None}]
        if not errors and self.consume("validation_failures_next"):
            errors = [{"code": "invalid_request", "message": "Simulated validation failure: invalid body.",
                       "param": "body", "line": 1}]
        if not errors and self.consume("token_limit_failures_next"):
            errors = [{
                "code": "token_limit_exceeded",
                "message": "Enqueued token limit reached for the model in organization org-sim. "
                           "Please try again once some in_progress batches have been completed.",
                "param": None,
                "line": None,
            }]
        with self.lock:
            batch = OpenAIBatch(
                id=self.new_id("batch_"),
                seq=self._next_seq(),
                endpoint=endpoint,
                input_file_id=source.id,
                metadata=metadata if shape.keeps_metadata else None,
                timeline=dataclasses.replace(self._timeline(len(requests), plan), never_expires=not shape.expires),
                requests=[] if errors else [
                    PlannedRequest(cid, body, self._plan_failure(cid, body)) for cid, body in requests
                ],
                model=next((str(b.get("model")) for _, b in requests if b.get("model")), None),
                fail_errors=errors or None,
                completion_window=str(window),
                sent=[(cid, answers.body_digest(body)) for cid, body in requests],
            )
            self.openai_batches[batch.id] = batch
            if self.on_created:
                t = batch.timeline
                self.on_created(shape.provider, batch.id, t.processing_start if errors else t.processing_end
                                + t.finalizing_seconds)
            return self._openai_view(batch)

    @staticmethod
    def _parse_openai_input(
        data: bytes, endpoint: str, *, max_requests: int = OPENAI_MAX_REQUESTS
    ) -> tuple[list[tuple[str, dict[str, Any]]], list[dict]]:
        requests: list[tuple[str, dict[str, Any]]] = []
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                errors.append({"code": "invalid_json_line", "message": "This line is not parseable as valid JSON.",
                               "param": None, "line": number})
                continue
            if not isinstance(line, dict):
                errors.append({"code": "invalid_request", "message": "Each line must be a JSON object.",
                               "param": None, "line": number})
                continue
            custom_id, body = line.get("custom_id"), line.get("body")
            if not isinstance(custom_id, str) or not custom_id:
                errors.append({"code": "missing_required_parameter", "message": "Missing custom_id.",
                               "param": "custom_id", "line": number})
            elif custom_id in seen:
                errors.append({"code": "duplicate_custom_id",
                               "message": f"The custom_id {custom_id!r} is duplicated in the input file.",
                               "param": "custom_id", "line": number})
            elif line.get("url") != endpoint:
                errors.append({"code": "mismatched_endpoint",
                               "message": f"The url {line.get('url')!r} does not match the batch endpoint.",
                               "param": "url", "line": number})
            elif line.get("method", "POST") != "POST":
                errors.append({"code": "invalid_request", "message": "Only POST is supported.",
                               "param": "method", "line": number})
            elif not isinstance(body, dict):
                errors.append({"code": "invalid_request", "message": "body must be an object.",
                               "param": "body", "line": number})
            else:
                seen.add(custom_id)
                requests.append((custom_id, body))
        if not requests and not errors:
            errors.append({"code": "empty_file", "message": "The input file is empty.", "param": None, "line": None})
        if len(requests) > max_requests:
            errors.append({"code": "too_many_requests", "message": f"At most {max_requests:,} requests per batch.",
                           "param": None, "line": None})
        return requests, errors

    def _openai_get(self, batch_id: str) -> OpenAIBatch:
        batch = self.openai_batches.get(batch_id)
        if batch is None or batch_id in self.vanished:
            raise ApiError(404, f"No batch found with id '{batch_id}'.", param="batch_id")
        return batch

    def get_openai_batch(self, batch_id: str) -> dict[str, Any]:
        with self.lock:
            return self._openai_view(self._openai_get(batch_id))

    def cancel_openai_batch(self, batch_id: str) -> dict[str, Any]:
        with self.lock:
            batch = self._openai_get(batch_id)
            status = self._openai_status(batch, self.clock())[0]
            if status in ("completed", "failed", "expired", "cancelled"):
                raise ApiError(400, f"Cannot cancel a batch with status '{status}'.")
            if batch.timeline.cancel_at is None:
                batch.timeline.cancel_at = self.clock()
            return self._openai_view(batch)

    def list_openai_batches(self, after: str | None, limit: int) -> dict[str, Any]:
        with self.lock:
            ordered = sorted((b for b in self.openai_batches.values() if b.id not in self.vanished),
                             key=lambda b: b.seq, reverse=True)
            start = 0
            if after:
                ids = [b.id for b in ordered]
                if after not in ids:
                    raise ApiError(404, f"No batch found with id '{after}'.", param="after")
                start = ids.index(after) + 1
            page = ordered[start : start + limit]
            data = [self._openai_view(b) for b in page]
            return {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": start + limit < len(ordered),
            }

    def _openai_status(self, batch: OpenAIBatch, now: float) -> tuple[str, dict[str, float]]:
        """Status at ``now`` and the instants already reached (in_progress_at, completed_at...)."""
        t = batch.timeline
        marks: dict[str, float] = {}
        if batch.fail_errors is not None:
            if now < t.processing_start:
                return "validating", marks
            marks["failed_at"] = t.processing_start
            return "failed", marks
        if t.cancel_effective() and t.cancel_at is not None:
            if t.cancel_at >= t.processing_start:
                marks["in_progress_at"] = t.processing_start
            marks["cancelling_at"] = t.cancel_at
            if now < t.cancel_at + t.cancelling_seconds:
                return "cancelling", marks
            marks["cancelled_at"] = t.cancel_at + t.cancelling_seconds
            return "cancelled", marks
        if now < t.processing_start:
            return "validating", marks
        marks["in_progress_at"] = t.processing_start
        if now < t.processing_end or t.stalls:
            return "in_progress", marks
        if t.expire_count is not None:
            marks["expired_at"] = t.processing_end
            return "expired", marks
        marks["finalizing_at"] = t.processing_end
        if now < t.processing_end + t.finalizing_seconds:
            return "finalizing", marks
        marks["completed_at"] = t.processing_end + t.finalizing_seconds
        return "completed", marks

    def _openai_view(self, batch: OpenAIBatch) -> dict[str, Any]:
        now = self.clock()
        status, marks = self._openai_status(batch, now)
        t = batch.timeline
        if status == "cancelled" or status == "cancelling":
            done = t.processed_at(t.cancel_at or now)
        else:
            done = t.processed_at(now)
        finished = batch.requests[:done]
        failed = sum(1 for r in finished if r.failure is not None)
        if status in ("completed", "expired", "cancelled") and not batch.materialized:
            self._materialize_openai(batch, done, status)
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "model": batch.model,
            "errors": {"object": "list", "data": batch.fail_errors} if batch.fail_errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": int(t.created_at),
            "in_progress_at": _int_or_none(marks.get("in_progress_at")),
            "expires_at": int(t.created_at) + window_seconds(batch.completion_window),
            "finalizing_at": _int_or_none(marks.get("finalizing_at")),
            "completed_at": _int_or_none(marks.get("completed_at")),
            "failed_at": _int_or_none(marks.get("failed_at")),
            "expired_at": _int_or_none(marks.get("expired_at")),
            "cancelling_at": _int_or_none(marks.get("cancelling_at")),
            "cancelled_at": _int_or_none(marks.get("cancelled_at")),
            "request_counts": {"total": t.total, "completed": done - failed, "failed": failed},
            "metadata": batch.metadata,
        }

    def _materialize_openai(self, batch: OpenAIBatch, done: int, status: str) -> None:
        created = int(self.clock())
        output: list[bytes] = []
        errors: list[bytes] = []
        for index, planned in enumerate(batch.requests):
            line_id = f"batch_req_{_derived_id(batch.id, f'line-{index}')}"
            request_id = f"req_{_derived_id(batch.id, f'request-{index}')}"
            if index >= done:
                code = "batch_expired" if status == "expired" else "batch_cancelled"
                message = ("This request could not be executed before the completion window expired."
                           if code == "batch_expired" else "This request was not executed because the batch was "
                           "cancelled.")
                errors.append(self._jsonl({"id": line_id, "custom_id": planned.custom_id, "response": None,
                                           "error": {"code": code, "message": message}}))
            elif planned.failure is not None:
                status_code = planned.failure.effective_status
                errors.append(self._jsonl({
                    "id": line_id,
                    "custom_id": planned.custom_id,
                    "response": {"status_code": status_code, "request_id": request_id,
                                 "body": answers.openai_error_body(status_code, planned.failure.message)},
                    "error": None,
                }))
            else:
                endpoint = self.openai_shape.endpoints.get(batch.endpoint, batch.endpoint)
                body = answers.openai_body(endpoint, planned.body, model=self.settings.openai_model,
                                           created=created, request_id=request_id,
                                           answer_tokens=self.settings.answer_tokens)
                output.append(self._jsonl({
                    "id": line_id,
                    "custom_id": planned.custom_id,
                    "response": {"status_code": 200, "request_id": request_id, "body": body},
                    "error": None,
                }))
        # Like the real API: a file only exists when it has at least one line.
        if output:
            batch.output_file_id = self.create_file(f"{batch.id}_output.jsonl", "batch_output", b"".join(output),
                                                    file_id=f"file-{_derived_id(batch.id, 'output')}").id
        if errors:
            batch.error_file_id = self.create_file(f"{batch.id}_error.jsonl", "batch_output", b"".join(errors),
                                                   file_id=f"file-{_derived_id(batch.id, 'errors')}").id
        batch.materialized = True

    def _jsonl(self, obj: dict[str, Any]) -> bytes:
        # ensure_ascii=False keeps U+2028 raw; optionally un-escape \r to a raw CR byte.
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        if self.settings.raw_carriage_return:
            text = text.replace("\\r", "\r")
        return text.encode("utf-8") + b"\n"

    # ------------------------------------------------------------------ Anthropic batches
    def create_anthropic_batch(self, payload: dict[str, Any], base_url: str = "") -> dict[str, Any]:
        raw_requests = payload.get("requests")
        if not isinstance(raw_requests, list) or not raw_requests:
            raise ApiError(400, "requests: Field required and must be a non-empty list")
        if len(raw_requests) > ANTHROPIC_MAX_REQUESTS:
            raise ApiError(400, "requests: at most 100000 requests per batch")
        seen: set[str] = set()
        parsed: list[tuple[str, dict[str, Any]]] = []
        for index, item in enumerate(raw_requests):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            params = item.get("params") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not ANTHROPIC_CUSTOM_ID.match(custom_id):
                raise ApiError(400, f"requests.{index}.custom_id: String should match pattern "
                                    "'^[a-zA-Z0-9_-]{1,64}$'")
            if custom_id in seen:
                raise ApiError(400, f"requests.{index}.custom_id: Duplicate custom_id {custom_id!r}")
            if not isinstance(params, dict) or not params.get("model") or "max_tokens" not in params \
                    or not isinstance(params.get("messages"), list):
                raise ApiError(400, f"requests.{index}.params: model, max_tokens and messages are required")
            seen.add(custom_id)
            parsed.append((custom_id, params))
        with self.lock:
            batch = AnthropicBatch(
                id=self.new_id("msgbatch_"),
                seq=self._next_seq(),
                timeline=self._timeline(len(parsed), self._plan("anthropic", len(parsed))),
                requests=[PlannedRequest(cid, params, self._plan_failure(cid, params)) for cid, params in parsed],
                sent=[(cid, answers.body_digest(params)) for cid, params in parsed],
            )
            # Anthropic has no validating phase.
            batch.timeline.validating_seconds = 0.0
            self.anthropic_batches[batch.id] = batch
            if self.on_created:
                self.on_created("anthropic", batch.id, batch.timeline.processing_end)
            return self._anthropic_view(batch, base_url)

    def _anthropic_get(self, batch_id: str) -> AnthropicBatch:
        batch = self.anthropic_batches.get(batch_id)
        if batch is None or batch_id in self.vanished:
            raise ApiError(404, f"Message batch {batch_id} not found")
        return batch

    def get_anthropic_batch(self, batch_id: str, base_url: str) -> dict[str, Any]:
        with self.lock:
            return self._anthropic_view(self._anthropic_get(batch_id), base_url)

    def cancel_anthropic_batch(self, batch_id: str, base_url: str) -> dict[str, Any]:
        with self.lock:
            batch = self._anthropic_get(batch_id)
            if self._anthropic_status(batch, self.clock())[0] == "ended":
                raise ApiError(400, f"Message batch {batch_id} has already ended and cannot be canceled")
            if batch.timeline.cancel_at is None:
                batch.timeline.cancel_at = self.clock()
            return self._anthropic_view(batch, base_url)

    def list_anthropic_batches(self, before_id: str | None, after_id: str | None, limit: int,
                               base_url: str) -> dict[str, Any]:
        with self.lock:
            ordered = sorted((b for b in self.anthropic_batches.values() if b.id not in self.vanished),
                             key=lambda b: b.seq, reverse=True)
            ids = [b.id for b in ordered]
            for cursor in (before_id, after_id):
                if cursor and cursor not in ids:
                    raise ApiError(404, f"Message batch {cursor} not found")
            if before_id:
                end = ids.index(before_id)
                start = max(0, end - limit)
                page, has_more = ordered[start:end], start > 0
            else:
                start = ids.index(after_id) + 1 if after_id else 0
                page, has_more = ordered[start : start + limit], start + limit < len(ordered)
            data = [self._anthropic_view(b, base_url) for b in page]
            return {
                "data": data,
                "has_more": has_more,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }

    def _anthropic_status(self, batch: AnthropicBatch, now: float) -> tuple[str, float | None, int]:
        """(processing_status, ended_at, requests finished before the end)."""
        t = batch.timeline
        if t.cancel_effective() and t.cancel_at is not None:
            ended_at = t.cancel_at + t.cancelling_seconds
            done = t.processed_at(t.cancel_at)
            return ("canceling", None, done) if now < ended_at else ("ended", ended_at, done)
        if now < t.processing_end:
            return "in_progress", None, t.processed_at(now)
        return "ended", t.processing_end, t.processed_at(now)

    def _anthropic_view(self, batch: AnthropicBatch, base_url: str = "") -> dict[str, Any]:
        t = batch.timeline
        status, ended_at, done = self._anthropic_status(batch, self.clock())
        counts = {"processing": t.total, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if status == "ended":
            # Outcome counts are only filled once the whole batch has ended, as in the real API.
            errored = sum(1 for r in batch.requests[:done] if r.failure is not None)
            rest = t.total - done
            counts = {
                "processing": 0,
                "succeeded": done - errored,
                "errored": errored,
                "canceled": rest if t.cancel_effective() else 0,
                "expired": 0 if t.cancel_effective() else rest,
            }
            if batch.results is None:
                self._materialize_anthropic(batch, done)
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": counts,
            "ended_at": _iso(ended_at),
            "created_at": _iso(t.created_at),
            "expires_at": _iso(t.created_at + 86400),
            "archived_at": None,
            "cancel_initiated_at": _iso(t.cancel_at),
            "results_url": f"{base_url}/v1/messages/batches/{batch.id}/results" if status == "ended" else None,
        }

    def _materialize_anthropic(self, batch: AnthropicBatch, done: int) -> None:
        lines: list[bytes] = []
        cancelled = batch.timeline.cancel_effective()
        for index, planned in enumerate(batch.requests):
            if index >= done:
                result: dict[str, Any] = {"type": "canceled" if cancelled else "expired"}
            elif planned.failure is not None:
                status = planned.failure.effective_status
                result = {"type": "errored", "error": answers.anthropic_error_body(status, planned.failure.message)}
            else:
                result = {"type": "succeeded",
                          "message": answers.anthropic_message(planned.body, model=self.settings.anthropic_model,
                                                               answer_tokens=self.settings.answer_tokens)}
            lines.append(self._jsonl({"custom_id": planned.custom_id, "result": result}))
        batch.results = b"".join(lines)

    def anthropic_results(self, batch_id: str) -> bytes:
        with self.lock:
            batch = self._anthropic_get(batch_id)
            view = self._anthropic_view(batch)
            if view["processing_status"] != "ended" or batch.results is None:
                raise ApiError(404, f"Message batch {batch_id} has not ended; results are not available yet")
            return batch.results


    # ------------------------------------------------------------------ the ledger
    def ledger(self) -> list[LedgerBatch]:
        """Every batch ever created, oldest first, with each request's outcome as the provider
        settles it (computed from the timeline: a batch nobody reads again still bills)."""
        with self.lock:
            entries = [self._ledger_openai(b) for b in self.openai_batches.values()]
            entries += [self._ledger_anthropic(b) for b in self.anthropic_batches.values()]
            # Simulated providers of simulator/providers bill into the same ledger (``ledger()`` or
            # ``ledger_entries()`` on their state).
            for state in self.extensions.values():
                if hasattr(state, "ledger"):
                    entries += state.ledger()
                elif hasattr(state, "ledger_entries"):
                    entries += state.ledger_entries()
        return sorted(entries, key=lambda e: (e.created_at, e.batch_id))

    def _ledger_openai(self, batch: OpenAIBatch) -> LedgerBatch:
        t = batch.timeline
        entry = LedgerBatch(self.openai_shape.provider, batch.id, t.created_at, t.processing_start,
                            dict(batch.metadata or {}), cancel_requested_at=t.cancel_at,
                            vanished=batch.id in self.vanished)
        if batch.fail_errors:
            entry.end_reason = "failed"
            entry.fail_codes = [str(e.get("code")) for e in batch.fail_errors]
            entry.requests = [LedgerRequest(cid, digest, BATCH_FAILED) for cid, digest in batch.sent]
            return entry
        self._settle(entry, t, batch.requests, batch.sent, finalizing=True)
        return entry

    def _ledger_anthropic(self, batch: AnthropicBatch) -> LedgerBatch:
        t = batch.timeline
        entry = LedgerBatch("anthropic", batch.id, t.created_at, t.processing_end,
                            cancel_requested_at=t.cancel_at, vanished=batch.id in self.vanished)
        self._settle(entry, t, batch.requests, batch.sent, finalizing=False)
        return entry

    @staticmethod
    def _settle(entry: LedgerBatch, t: Timeline, planned: list[PlannedRequest], sent: list[tuple[str, str]],
                *, finalizing: bool) -> None:
        if t.cancel_effective() and t.cancel_at is not None:
            done, entry.end_reason, rest = t.processed_at(t.cancel_at), "cancelled", CANCELLED
            entry.ends_at = t.cancel_at + t.cancelling_seconds
        elif t.stalls:
            # Left alone it never ends: what it finished is billed; the rest never runs.
            done, entry.end_reason, rest = t.expire_count or 0, "running", EXPIRED
            entry.ends_at = float("inf")
        elif t.expire_count is not None:
            done, entry.end_reason, rest = t.expire_count, "expired", EXPIRED
            entry.ends_at = t.processing_end
        else:
            done, entry.end_reason, rest = t.total, "completed", EXPIRED
            entry.ends_at = t.processing_end + (t.finalizing_seconds if finalizing else 0.0)
        for index, (cid, digest) in enumerate(sent):
            request = LedgerRequest(cid, digest)
            if index >= done:
                request.outcome = rest
            elif planned[index].failure is not None:
                request.outcome, request.error_status = ERRORED, planned[index].failure.effective_status
            else:
                request.outcome = SUCCEEDED
            entry.requests.append(request)


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)
