"""The Gemini Developer API's Batch API and Files API, as the ``google-genai`` SDK reaches them.

Served under ``/gemini`` (the SDK's ``http_options.base_url`` points there; any API version
segment, ``v1`` or ``v1beta``). What it speaks, from Google's API reference
(ai.google.dev/api/batch-api, ai.google.dev/api/files) and the cookbook's Batch_mode notebook:

- ``POST /{v}/models/{model}:batchGenerateContent`` with ``{"batch": {"displayName",
  "inputConfig": {"fileName"} | {"requests": {"requests": [{"request", "metadata"}]}}}}``, and
  ``:asyncBatchEmbedContent`` for embeddings; the answer is an Operation whose ``metadata`` is the
  batch (``GenerateContentBatch``: model, displayName, createTime, updateTime, endTime,
  batchStats with int64 counts as strings, ``state`` BATCH_STATE_*, ``output``);
- ``GET /{v}/batches`` (``pageSize``, ``pageToken``; newest first; inline responses left out),
  ``GET /{v}/batches/{id}``, ``POST /{v}/batches/{id}:cancel`` (``{}``), ``DELETE
  /{v}/batches/{id}`` (``{}``; it does not cancel a running batch);
- results: ``output.responsesFile`` (``files/batch-<id>``, JSONL of ``{"key", "response"}`` or
  ``{"key", "error"}`` lines, in input order) for file input, ``output.inlinedResponses`` for
  inline input (``{"metadata", "response" | "error"}``, in input order); errors are
  ``google.rpc.Status`` (``code`` is the gRPC code: 13 INTERNAL, 8 RESOURCE_EXHAUSTED...);
- Files: resumable upload (``POST /upload/{v}/files`` with ``X-Goog-Upload-Command: start``
  answers ``X-Goog-Upload-URL``; the bytes go there in parts, the last with ``upload,
  finalize``), ``GET /{v}/files/{name}:download?alt=media``, ``DELETE /{v}/files/{name}``;
- errors as ``{"error": {"code": <HTTP status>, "message", "status": "NOT_FOUND"}}``; the key
  in ``x-goog-api-key`` (the upload URL itself authorizes the upload's parts).

Faults, as for the built-in providers (settings.py): per-request failures (``failure_rules``),
expiry with partial results (``expire_after_fraction``: the batch ends EXPIRED with the
answers it had), quota failures (``token_limit_failures_next`` or a planned
``token_limit_exceeded``: the batch ends FAILED with RESOURCE_EXHAUSTED), validation failures,
429/5xx on create (``create_errors_next``), lost create answers (``lost_create_answers_next``: the
batch is made, the answer is a 500), broken and slow downloads, failed file deletions
(the lifecycle simulation adds its own transport faults at its gate). ``pending_seconds`` is how long a batch
stays BATCH_STATE_PENDING (a plan's ``validating_seconds`` overrides it per batch).

Where the documentation says nothing, the simulator chooses and says so: an expired or
cancelled batch keeps the answers it had (Google's guide says an expired batch has none: the
adapter handles both), and the keys of a file input must be unique.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from batchrelay_tools.simulator import answers, plugins
from batchrelay_tools.simulator.ledger import CANCELLED, ERRORED, EXPIRED, SUCCEEDED, LedgerBatch, LedgerRequest
from batchrelay_tools.simulator.state import ApiError, DeletedFile, PlannedRequest, Timeline

PREFIX = "/gemini"
NAME = "gemini"
INLINE_MAX_BYTES = 20 * 1024 * 1024     # "keep the total request size under 20MB"
FILE_MAX_BYTES = 2 * 1024 * 1024 * 1024
FILE_TTL_SECONDS = 48 * 3600            # uploaded files are kept 48 hours
PAGE_SIZE_DEFAULT = 50

# HTTP status -> (gRPC code, canonical status name) for per-request errors and HTTP errors.
_STATUS = {
    400: (3, "INVALID_ARGUMENT"),
    401: (16, "UNAUTHENTICATED"),
    403: (7, "PERMISSION_DENIED"),
    404: (5, "NOT_FOUND"),
    408: (4, "DEADLINE_EXCEEDED"),
    409: (10, "ABORTED"),
    429: (8, "RESOURCE_EXHAUSTED"),
    500: (13, "INTERNAL"),
    503: (14, "UNAVAILABLE"),
    504: (4, "DEADLINE_EXCEEDED"),
}


def _grpc(status: int) -> tuple[int, str]:
    return _STATUS.get(status, (13, "INTERNAL") if status >= 500 else (2, "UNKNOWN"))


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": _grpc(status)[1]}}


def _timestamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class GeminiFile:
    name: str                   # files/<id>
    display_name: str
    mime_type: str
    data: bytes
    created_at: float
    source: str                 # UPLOADED | GENERATED

    def to_api(self, base_url: str, version: str) -> dict[str, Any]:
        view = {
            "name": self.name,
            "displayName": self.display_name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": _timestamp(self.created_at),
            "updateTime": _timestamp(self.created_at),
            "expirationTime": _timestamp(self.created_at + FILE_TTL_SECONDS),
            "sha256Hash": base64.b64encode(hashlib.sha256(self.data).hexdigest().encode()).decode(),
            "uri": f"{base_url}{PREFIX}/{version}/{self.name}",
            "state": "ACTIVE",
            "source": self.source,
        }
        if self.source == "GENERATED":
            view["downloadUri"] = f"{base_url}{PREFIX}/{version}/{self.name}:download?alt=media"
        return view


@dataclass
class PendingUpload:
    display_name: str
    mime_type: str
    size: int
    data: bytearray = field(default_factory=bytearray)


@dataclass
class GeminiBatch:
    id: str                     # the part after batches/
    seq: int
    kind: str                   # generate | embed
    model: str                  # models/<name>
    display_name: str
    input_file: str | None      # files/<id>, or None for inline requests
    timeline: Timeline
    requests: list[PlannedRequest]
    sent: list[tuple[str, str]]
    version: str
    fail_error: dict[str, Any] | None = None    # the Operation's error of a batch that fails
    deleted: bool = False       # DELETE answered: 404 from now on (it still runs and bills)
    output_file: str | None = None
    inlined: list[dict[str, Any]] | None = None
    materialized: bool = False

    @property
    def name(self) -> str:
        return f"batches/{self.id}"

    @property
    def inline(self) -> bool:
        return self.input_file is None


class GeminiState:
    """Files and batches of one simulated Gemini project."""

    def __init__(self, sim: Any):
        self.sim = sim
        self.files: dict[str, GeminiFile] = {}
        self.deleted_files: dict[str, DeletedFile] = {}
        self.uploads: dict[str, PendingUpload] = {}
        self.batches: dict[str, GeminiBatch] = {}
        self.files_created = 0

    # ------------------------------------------------------------------ files
    def start_upload(self, headers: dict[str, str], body: dict[str, Any]) -> str:
        if headers.get("x-goog-upload-protocol") != "resumable" or headers.get("x-goog-upload-command") != "start":
            raise ApiError(400, "Only resumable uploads are supported (X-Goog-Upload-Command: start).")
        meta = body.get("file") if isinstance(body.get("file"), dict) else {}
        size = int(headers.get("x-goog-upload-header-content-length") or 0)
        if size > FILE_MAX_BYTES:
            raise ApiError(400, f"File size {size} exceeds the limit of {FILE_MAX_BYTES} bytes.")
        # The SDK sends the File's fields as it dumps them (snake_case); the REST reference camelCase.
        mime = str(meta.get("mimeType") or meta.get("mime_type") or headers.get("x-goog-upload-header-content-type")
                   or "")
        display_name = str(meta.get("displayName") or meta.get("display_name") or "")
        upload_id = self.sim.new_id("upload-")
        with self.sim.lock:
            self.uploads[upload_id] = PendingUpload(display_name, mime, size)
        return upload_id

    def upload_part(self, upload_id: str, headers: dict[str, str], data: bytes) -> tuple[GeminiFile | None, int]:
        """Add a part; the finished file when the part finalizes, with the bytes received."""
        with self.sim.lock:
            upload = self.uploads.get(upload_id)
            if upload is None:
                raise ApiError(404, "No such upload session.")
            offset = int(headers.get("x-goog-upload-offset") or 0)
            if offset != len(upload.data):
                raise ApiError(400, f"Upload offset {offset} does not match the {len(upload.data)} bytes received.")
            upload.data.extend(data)
            if "finalize" not in (headers.get("x-goog-upload-command") or ""):
                return None, len(upload.data)
            del self.uploads[upload_id]
            stored = self._new_file(f"files/{self.sim.new_id('')[:12]}", upload.display_name, upload.mime_type,
                                    bytes(upload.data), "UPLOADED")
            return stored, len(stored.data)

    def _new_file(self, name: str, display_name: str, mime_type: str, data: bytes, source: str) -> GeminiFile:
        stored = GeminiFile(name, display_name, mime_type, data, self.sim.clock(), source)
        self.files[name] = stored
        self.files_created += 1
        return stored

    def get_file(self, name: str) -> GeminiFile:
        with self.sim.lock:
            stored = self.files.get(name)
        if stored is None:
            raise ApiError(404, f"File {name} does not exist or you do not have permission to access it.")
        return stored

    def delete_file(self, name: str) -> None:
        if self.sim.consume("delete_file_errors_next"):
            raise ApiError(500, "Simulated HTTP 500 on file delete.")
        with self.sim.lock:
            stored = self.files.pop(name, None)
            if stored is None:
                raise ApiError(404, f"File {name} does not exist or you do not have permission to access it.")
            purpose = "gemini_output" if stored.source == "GENERATED" else "gemini_input"
            self.deleted_files[name] = DeletedFile(name, stored.display_name, purpose, len(stored.data),
                                                   int(stored.created_at), self.sim.clock())

    def file_ledger(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with self.sim.lock:
            live = [{"id": f.name, "filename": f.display_name, "bytes": len(f.data), "created_at": int(f.created_at),
                     "purpose": "gemini_output" if f.source == "GENERATED" else "gemini_input"}
                    for f in self.files.values()]
            deleted = [vars(f).copy() for f in self.deleted_files.values()]
        return live, deleted

    # ------------------------------------------------------------------ batches
    def create_batch(self, kind: str, model: str, payload: dict[str, Any], version: str) -> GeminiBatch:
        batch_spec = payload.get("batch")
        if not isinstance(batch_spec, dict):
            raise ApiError(400, "batch: Field required.")
        config = batch_spec.get("inputConfig") or batch_spec.get("input_config")
        if not isinstance(config, dict):
            raise ApiError(400, "batch.input_config: Field required.")
        file_name = config.get("fileName") or config.get("file_name")
        if file_name:
            requests = self._file_requests(kind, model, self.get_file(str(file_name)))
        else:
            requests = self._inline_requests(kind, model, config.get("requests"))
        if not requests:
            raise ApiError(400, "The batch holds no requests.")
        sim = self.sim
        plan = sim._plan(NAME, len(requests))
        fail_error = None
        if plan.token_limit_exceeded or sim.consume("token_limit_failures_next"):
            fail_error = {"code": 8, "message": f"Resource has been exhausted: the enqueued tokens of {model} are "
                          "over the project's batch limit (simulated)."}
        elif sim.consume("validation_failures_next"):
            fail_error = {"code": 3, "message": "Request contains an invalid argument (simulated validation failure)."}
        with sim.lock:
            timeline = sim._timeline(len(requests), plan)
            timeline.validating_seconds = (plan.validating_seconds if plan.validating_seconds is not None
                                           else sim.settings.pending_seconds)
            timeline.finalizing_seconds = 0.0
            batch = GeminiBatch(
                id=sim.new_id("")[:24].lower(),
                seq=sim._next_seq(),
                kind=kind,
                model=model,
                display_name=str(batch_spec.get("displayName") or batch_spec.get("display_name") or ""),
                input_file=str(file_name) if file_name else None,
                timeline=timeline,
                requests=[] if fail_error else [PlannedRequest(key, request, sim._plan_failure(key, request))
                                                for key, request in requests],
                sent=[(key, answers.body_digest(request)) for key, request in requests],
                version=version,
                fail_error=fail_error,
            )
            self.batches[batch.id] = batch
            if sim.on_created:
                t = batch.timeline
                sim.on_created(NAME, batch.name, t.processing_start if fail_error else t.processing_end)
            return batch

    def _check_request(self, kind: str, model: str, request: Any, where: str) -> dict[str, Any]:
        if not isinstance(request, dict):
            raise ApiError(400, f"{where}.request: must be an object.")
        if kind == "generate" and not isinstance(request.get("contents"), list):
            raise ApiError(400, f"{where}.request.contents: Field required.")
        if kind == "embed" and not isinstance(request.get("content"), dict):
            raise ApiError(400, f"{where}.request.content: Field required.")
        named = request.get("model")
        if named is not None and named != model:
            # The model is the batch's: a request naming another one is refused.
            raise ApiError(400, f"{where}.request.model {named!r} does not match the batch's model {model!r}.")
        return request

    def _file_requests(self, kind: str, model: str, source: GeminiFile) -> list[tuple[str, dict[str, Any]]]:
        requests: list[tuple[str, dict[str, Any]]] = []
        keys: set[str] = set()
        for number, raw in enumerate(source.data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError as exc:
                raise ApiError(400, f"Line {number} of {source.name} is not valid JSON.") from exc
            key = line.get("key") if isinstance(line, dict) else None
            if not isinstance(key, str) or not key:
                raise ApiError(400, f"Line {number} of {source.name}: key is required.")
            if key in keys:
                raise ApiError(400, f"Line {number} of {source.name}: the key {key!r} is used twice.")
            keys.add(key)
            requests.append((key, self._check_request(kind, model, line.get("request"), f"line {number}")))
        return requests

    def _inline_requests(self, kind: str, model: str, inlined: Any) -> list[tuple[str, dict[str, Any]]]:
        items = inlined.get("requests") if isinstance(inlined, dict) else None
        if not isinstance(items, list):
            raise ApiError(400, "batch.input_config: one of fileName or requests is required.")
        if len(json.dumps(items)) > INLINE_MAX_BYTES:
            raise ApiError(400, "Inline requests are limited to 20MB in total; upload a file instead.")
        requests = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise ApiError(400, f"requests[{index}] must be an object.")
            metadata = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            key = str(metadata.get("key") or index)
            requests.append((key, self._check_request(kind, model, item.get("request"), f"requests[{index}]")))
        return requests

    def _batch(self, batch_id: str) -> GeminiBatch:
        batch = self.batches.get(batch_id)
        if batch is None or batch.deleted or batch.name in self.sim.vanished:
            raise ApiError(404, f"Batch batches/{batch_id} not found.")
        return batch

    def get(self, batch_id: str, base_url: str) -> dict[str, Any]:
        with self.sim.lock:
            return self.view(self._batch(batch_id), base_url)

    def cancel(self, batch_id: str) -> None:
        with self.sim.lock:
            batch = self._batch(batch_id)
            if self._state(batch, self.sim.clock())[0] not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
                raise ApiError(400, f"Batch {batch.name} has already ended and cannot be cancelled.")
            if batch.timeline.cancel_at is None:
                batch.timeline.cancel_at = self.sim.clock()

    def delete(self, batch_id: str) -> None:
        with self.sim.lock:
            self._batch(batch_id).deleted = True

    def list(self, page_size: int, page_token: str | None, base_url: str) -> dict[str, Any]:
        with self.sim.lock:
            ordered = sorted((b for b in self.batches.values() if not b.deleted and b.name not in self.sim.vanished),
                             key=lambda b: b.seq, reverse=True)
            start = int(page_token) if page_token else 0
            page = ordered[start : start + page_size]
            answer: dict[str, Any] = {"operations": [self.view(b, base_url, listed=True) for b in page]}
            if start + page_size < len(ordered):
                answer["nextPageToken"] = str(start + page_size)
            return answer

    # ------------------------------------------------------------------ time
    def _state(self, batch: GeminiBatch, now: float) -> tuple[str, float | None, int]:
        """(wire state, when it ended, requests finished by then)."""
        t = batch.timeline
        if batch.fail_error is not None:
            if now < t.processing_start:
                return "BATCH_STATE_PENDING", None, 0
            return "BATCH_STATE_FAILED", t.processing_start, 0
        if t.cancel_effective() and t.cancel_at is not None:
            ended = t.cancel_at + t.cancelling_seconds
            done = t.processed_at(t.cancel_at)
            if now >= ended:
                return "BATCH_STATE_CANCELLED", ended, done
        if now < t.processing_start:
            return "BATCH_STATE_PENDING", None, 0
        if now < t.processing_end:
            return "BATCH_STATE_RUNNING", None, t.processed_at(now)
        if t.expire_count is not None:
            return "BATCH_STATE_EXPIRED", t.processing_end, t.expire_count
        return "BATCH_STATE_SUCCEEDED", t.processing_end, t.total

    def view(self, batch: GeminiBatch, base_url: str, *, listed: bool = False) -> dict[str, Any]:
        """The batch as an Operation (``batches.get``), its metadata the GenerateContentBatch."""
        now = self.sim.clock()
        state, ended_at, done = self._state(batch, now)
        finished = batch.requests[:done]
        failed = sum(1 for r in finished if r.failure is not None)
        ended = ended_at is not None
        if ended and batch.fail_error is None and not batch.materialized:
            self._materialize(batch, done, state)
        type_name = "EmbedContentBatch" if batch.kind == "embed" else "GenerateContentBatch"
        metadata: dict[str, Any] = {
            "@type": f"type.googleapis.com/google.ai.generativelanguage.{batch.version}.{type_name}",
            "model": batch.model,
            "name": batch.name,
            "displayName": batch.display_name,
            "createTime": _timestamp(batch.timeline.created_at),
            "updateTime": _timestamp(ended_at if ended_at is not None else min(now, batch.timeline.processing_end)),
            "batchStats": {
                "requestCount": str(batch.timeline.total),
                "successfulRequestCount": str(done - failed),
                "failedRequestCount": str(failed),
                "pendingRequestCount": str(batch.timeline.total - done if state != "BATCH_STATE_SUCCEEDED" else 0),
            },
            "state": state,
        }
        if batch.input_file:
            metadata["inputConfig"] = {"fileName": batch.input_file}
        if ended_at is not None:
            metadata["endTime"] = _timestamp(ended_at)
        output: dict[str, Any] | None = None
        if batch.output_file:
            output = {"responsesFile": batch.output_file}
        elif batch.inlined is not None:
            # The list leaves inline answers out (get the batch to read them).
            output = {"inlinedResponses": {} if listed else {"inlinedResponses": batch.inlined}}
        if output is not None:
            metadata["output"] = output
        operation: dict[str, Any] = {"name": batch.name, "metadata": metadata}
        if ended:
            operation["done"] = True
            if batch.fail_error is not None:
                operation["error"] = batch.fail_error
            elif state == "BATCH_STATE_CANCELLED":
                operation["error"] = {"code": 1, "message": "The batch was cancelled."}
            elif output is not None:
                operation["response"] = {
                    "@type": f"type.googleapis.com/google.ai.generativelanguage.{batch.version}.{type_name}Output",
                    **output,
                }
        return operation

    def _materialize(self, batch: GeminiBatch, done: int, state: str) -> None:
        """The answers, once the batch has ended: a responses file, or inline responses."""
        lines: list[dict[str, Any]] = []
        model_version = batch.model.removeprefix("models/")
        for index, planned in enumerate(batch.requests[:done]):
            if planned.failure is not None:
                status = planned.failure.effective_status
                code, name = _grpc(status)
                outcome: dict[str, Any] = {"error": {
                    "code": code, "message": planned.failure.message or f"Simulated {name} error.",
                    "details": [],
                }}
            elif batch.kind == "embed":
                outcome = {"response": embed_response(planned.body)}
            else:
                outcome = {"response": generate_response(planned.body, model_version, f"{batch.id}-{index}")}
            lines.append((planned.custom_id, outcome))  # type: ignore[arg-type]
        if batch.inline:
            batch.inlined = [{"metadata": {"key": key}, **outcome} for key, outcome in lines]  # type: ignore[misc]
        elif lines or state == "BATCH_STATE_SUCCEEDED":
            data = b"".join(self.sim._jsonl({**outcome, "key": key}) for key, outcome in lines)  # type: ignore[misc]
            name = f"files/batch-{batch.id}"
            self._new_file(name, name, "application/jsonl", data, "GENERATED")
            batch.output_file = name
        batch.materialized = True

    # ------------------------------------------------------------------ the ledger
    def ledger_entries(self) -> list[LedgerBatch]:
        with self.sim.lock:
            return [self._ledger(b) for b in self.batches.values()]

    def _ledger(self, batch: GeminiBatch) -> LedgerBatch:
        t = batch.timeline
        parts = batch.display_name.split("/")
        metadata = {"display_name": batch.display_name}
        if len(parts) >= 3 and parts[0] == "batchrelay":
            metadata.update(batchrelay_job=parts[1], batchrelay_chunk=parts[2])
        entry = LedgerBatch(NAME, batch.name, t.created_at, t.processing_end, metadata,
                            cancel_requested_at=t.cancel_at, vanished=batch.name in self.sim.vanished)
        if batch.fail_error is not None:
            from batchrelay_tools.simulator.ledger import BATCH_FAILED

            entry.end_reason, entry.ends_at = "failed", t.processing_start
            entry.fail_codes = ["token_limit_exceeded" if batch.fail_error["code"] == 8 else "invalid_request"]
            entry.requests = [LedgerRequest(key, digest, BATCH_FAILED) for key, digest in batch.sent]
            return entry
        if t.cancel_effective() and t.cancel_at is not None:
            done, entry.end_reason, rest = t.processed_at(t.cancel_at), "cancelled", CANCELLED
            entry.ends_at = t.cancel_at + t.cancelling_seconds
        elif t.expire_count is not None:
            done, entry.end_reason, rest = t.expire_count, "expired", EXPIRED
        else:
            done, entry.end_reason, rest = t.total, "completed", EXPIRED
        for index, (key, digest) in enumerate(batch.sent):
            request = LedgerRequest(key, digest)
            failure = batch.requests[index].failure
            if index >= done:
                request.outcome = rest
            elif failure is not None:
                request.outcome, request.error_status = ERRORED, failure.effective_status
            else:
                request.outcome = SUCCEEDED
            entry.requests.append(request)
        return entry


# ---------------------------------------------------------------------- answers


def generate_response(request: dict[str, Any], model_version: str, response_id: str) -> dict[str, Any]:
    """A GenerateContentResponse, shaped as in the cookbook's results file."""
    digest = answers.body_digest(request)
    prompt, completion = answers.input_tokens(request), answers.output_tokens(digest)
    thoughts = completion // 2
    return {
        "candidates": [{
            "content": {"parts": [{"text": answers.answer_text(digest)}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": completion,
            "thoughtsTokenCount": thoughts,
            "totalTokenCount": prompt + completion + thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        },
        "modelVersion": model_version,
        "responseId": hashlib.sha256(response_id.encode()).hexdigest()[:22],
    }


def embed_response(request: dict[str, Any]) -> dict[str, Any]:
    """An embedding answer as in the cookbook's results file (tokenCount is an int64 string)."""
    digest = answers.body_digest(request)
    dimensions = int(request.get("outputDimensionality") or request.get("output_dimensionality") or 8)
    values = [round(int(digest[(i * 4) % 60:(i * 4) % 60 + 4], 16) / 65535 - 0.5, 6) for i in range(dimensions)]
    return {"tokenCount": str(answers.input_tokens(request)), "embedding": {"values": values}}


# ---------------------------------------------------------------------- routes


def _headers(request: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


def _create(kind: str) -> plugins.Handler:
    def handler(request: Any, state: GeminiState, body: bytes, version: str, model: str) -> None:
        request.check_create_fault()
        batch = state.create_batch(kind, f"models/{model}", request.json_body(body), version)
        request.lose_create_answer()
        request.send_json(200, state.view(batch, request.base_url()))
    return handler


def _list(request: Any, state: GeminiState, body: bytes, version: str) -> None:
    size = max(1, min(1000, int(request.query.get("pageSize") or PAGE_SIZE_DEFAULT)))
    request.send_json(200, state.list(size, request.query.get("pageToken"), request.base_url()))


def _get(request: Any, state: GeminiState, body: bytes, version: str, id: str) -> None:
    request.send_json(200, state.get(id, request.base_url()))


def _cancel(request: Any, state: GeminiState, body: bytes, version: str, id: str) -> None:
    state.cancel(id)
    request.send_json(200, {})


def _delete(request: Any, state: GeminiState, body: bytes, version: str, id: str) -> None:
    state.delete(id)
    request.send_json(200, {})


def _upload(request: Any, state: GeminiState, body: bytes, version: str) -> None:
    headers = _headers(request)
    upload_id = request.query.get("upload_id")
    if not upload_id:
        upload_id = state.start_upload(headers, request.json_body(body))
        url = f"{request.base_url()}{PREFIX}/upload/{version}/files?upload_id={upload_id}&upload_protocol=resumable"
        request.send_json(200, {}, {"X-Goog-Upload-URL": url, "X-Goog-Upload-Status": "active"})
        return
    stored, received = state.upload_part(upload_id, headers, body)
    if stored is None:
        request.send_json(200, {}, {"X-Goog-Upload-Status": "active", "X-Goog-Upload-Size-Received": str(received)})
        return
    request.send_json(200, {"file": stored.to_api(request.base_url(), version)}, {"X-Goog-Upload-Status": "final"})


def _file(request: Any, state: GeminiState, body: bytes, version: str, name: str) -> None:
    request.send_json(200, state.get_file(f"files/{name}").to_api(request.base_url(), version))


def _download(request: Any, state: GeminiState, body: bytes, version: str, name: str) -> None:
    stored = state.get_file(f"files/{name}")
    if stored.source != "GENERATED":
        raise ApiError(400, "Only generated files can be downloaded.")
    request.send_download(stored.data, "application/octet-stream")


def _delete_file(request: Any, state: GeminiState, body: bytes, version: str, name: str) -> None:
    state.delete_file(f"files/{name}")
    request.send_json(200, {})


def _authorized(headers: dict[str, str]) -> bool:
    # The upload URL carries its own authority (an upload session id): its parts have no key.
    return bool(headers.get("x-goog-api-key")) or "x-goog-upload-offset" in headers


def _route(method: str, path: str, handler: plugins.Handler) -> plugins.Route:
    return plugins.route(method, path, handler, prefix=PREFIX)


PLUGIN = plugins.register(plugins.SimulatedProvider(
    name=NAME,
    prefix=PREFIX,
    routes=(
        _route("POST", "/{version}/models/{model}:batchGenerateContent", _create("generate")),
        _route("POST", "/{version}/models/{model}:asyncBatchEmbedContent", _create("embed")),
        _route("GET", "/{version}/batches", _list),
        _route("POST", "/{version}/batches/{id}:cancel", _cancel),
        _route("GET", "/{version}/batches/{id}", _get),
        _route("DELETE", "/{version}/batches/{id}", _delete),
        _route("POST", "/upload/{version}/files", _upload),
        _route("GET", "/{version}/files/{name}:download", _download),
        _route("GET", "/{version}/files/{name}", _file),
        _route("DELETE", "/{version}/files/{name}", _delete_file),
    ),
    make_state=GeminiState,
    error_body=error_body,
    authorized=_authorized,
))
