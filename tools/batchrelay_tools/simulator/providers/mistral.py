"""Mistral's Files and batch jobs API, simulated (the ``mistralai`` SDK works unmodified with
``server_url`` = simulator URL + ``/mistral``).

Routes: ``POST/GET/DELETE /v1/files[/{id}]``, ``GET /v1/files/{id}/content``, ``POST/GET
/v1/batch/jobs``, ``GET /v1/batch/jobs/{id}``, ``POST /v1/batch/jobs/{id}/cancel``. Ids are
UUIDs; files live in the simulator's shared file store (so its file ledger and cleanup
checks see them). A job's status is computed from the clock like the built-in providers':
QUEUED for ``validating_seconds``, RUNNING (counts moving) for ``processing_seconds`` and
``finalizing_seconds``, then SUCCESS, or TIMEOUT_EXCEEDED when it expires part-way
(``expire_after_fraction``, a batch plan, ``timeouts_next`` here, or its own
``timeout_hours`` running out), CANCELLATION_REQUESTED for ``cancelling_seconds`` then
CANCELLED after a cancel, FAILED when its input is refused (``validation_failures_next``,
unparseable lines, duplicate custom_ids).

The job's model applies to every request (a line's own ``model`` is overridden, as the job's
model is what Mistral runs); answers are built from the body with that model, so a request's
answer and ledger digest are those of the body the client wrote. Results exist once the job
has ended: the output file holds the successes, the error file the per-request failures
(``failure_rules``); requests a job never ran are in neither. A file is only made when it
has lines. Quota: creates beyond the workspace's pending requests (``max_pending_requests``,
1,000,000 as documented; ``token_limit_failures_next`` or a batch plan forces one) answer
429. Every job is in the simulator's ledger.

Which of these behaviours the real service has is partly documentation and partly guesswork:
see the README's Mistral note.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from batchrelay_tools.simulator import answers, plugins
from batchrelay_tools.simulator.ledger import BATCH_FAILED, LedgerBatch, LedgerRequest
from batchrelay_tools.simulator.state import ApiError, PlannedRequest, Simulator, StoredFile, Timeline

PREFIX = "/mistral"
ENDPOINTS = (
    "/v1/chat/completions", "/v1/embeddings", "/v1/fim/completions", "/v1/moderations", "/v1/chat/moderations",
    "/v1/ocr", "/v1/classifications", "/v1/chat/classifications", "/v1/conversations", "/v1/audio/transcriptions",
)
MAX_REQUESTS_PER_JOB = 1_000_000
MAX_TIMEOUT_HOURS = 167              # "lower than 7 days"
DEFAULT_MODEL = "mistral-small-latest"
_RUNNING = ("QUEUED", "RUNNING", "CANCELLATION_REQUESTED")
_ERROR_TYPES = {400: "invalid_request_error", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                422: "invalid_request_error", 429: "rate_limit_exceeded"}


def new_uuid(text: str) -> str:
    """A UUID derived from ``text`` (deterministic when the simulator's ids are)."""
    return str(uuid.UUID(bytes=hashlib.sha256(text.encode()).digest()[:16], version=4))


def error_body(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "internal_server_error" if status >= 500 else "invalid_request_error")
    return {"object": "error", "message": message, "type": kind, "param": None, "code": code}


# ---------------------------------------------------------------------- answers


def answer_body(endpoint: str, body: dict[str, Any], *, created: int) -> dict[str, Any]:
    """The response body the synchronous Mistral endpoint would have returned (the SDK's
    ChatCompletionResponse, EmbeddingResponse, ModerationResponse, ... parse it)."""
    digest = answers.body_digest(body)
    model = str(body.get("model") or DEFAULT_MODEL)
    text = answers.answer_text(digest)
    prompt, completion = answers.input_tokens(body), answers.output_tokens(digest)
    answer_id = digest[:32]
    chat_usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    prompt_usage = {"prompt_tokens": prompt, "completion_tokens": 0, "total_tokens": prompt}
    if endpoint == "/v1/embeddings":
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        return {"id": answer_id, "object": "list", "model": model, "usage": prompt_usage,
                "data": [{"object": "embedding", "index": i,
                          "embedding": answers._embedding(answers.body_digest([digest, i]))} for i in range(count)]}
    if endpoint in ("/v1/moderations", "/v1/chat/moderations"):
        inputs = body.get("input")
        count = len(inputs) if endpoint == "/v1/moderations" and isinstance(inputs, list) else 1
        return {"id": answer_id, "model": model, "usage": prompt_usage,
                "results": [{"categories": {"hate_and_discrimination": False, "violence_and_threats": False},
                             "category_scores": {"hate_and_discrimination": 0.001, "violence_and_threats": 0.002}}
                            for _ in range(count)]}
    if endpoint in ("/v1/classifications", "/v1/chat/classifications"):
        return {"id": answer_id, "model": model, "usage": prompt_usage,
                "results": [{"intent": {"scores": {"question": 0.9, "statement": 0.1}}}]}
    if endpoint == "/v1/ocr":
        return {"model": model, "usage_info": {"pages_processed": 1, "doc_size_bytes": None},
                "pages": [{"index": 0, "markdown": text, "images": [],
                           "dimensions": {"dpi": 200, "height": 2200, "width": 1700}}]}
    if endpoint == "/v1/conversations":
        return {"object": "conversation.response", "conversation_id": f"conv_{answer_id}", "usage": chat_usage,
                "outputs": [{"object": "entry", "type": "message.output", "role": "assistant", "content": text,
                             "model": model, "id": f"msg_{answer_id}"}]}
    if endpoint == "/v1/audio/transcriptions":
        return {"model": model, "text": text, "language": None, "segments": [],
                "usage": {**prompt_usage, "prompt_audio_seconds": 12}}
    # /v1/chat/completions and /v1/fim/completions
    return {"id": answer_id, "object": "chat.completion", "model": model, "created": created, "usage": chat_usage,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text, "tool_calls": None, "prefix": False}}]}


# ---------------------------------------------------------------------- state


@dataclass
class MistralJob:
    id: str
    seq: int
    endpoint: str
    model: str
    input_files: list[str]
    metadata: dict[str, str] | None
    timeout_hours: int
    timeline: Timeline
    requests: list[PlannedRequest]
    sent: list[tuple[str, str]]                 # (custom_id, digest) of every request, for the ledger
    fail_errors: list[dict[str, Any]] | None = None
    output_file: str | None = None
    error_file: str | None = None
    materialized: bool = False


@dataclass
class MistralState:
    sim: Simulator
    jobs: dict[str, MistralJob] = field(default_factory=dict)
    sample_types: dict[str, str] = field(default_factory=dict)   # file id -> batch_request/result/error
    max_pending_requests: int = MAX_REQUESTS_PER_JOB
    # The next ``timeouts_next`` jobs time out after ``timeout_after_fraction`` of their requests.
    timeouts_next: int = 0
    timeout_after_fraction: float = 0.5
    # Seconds one hour of ``timeout_hours`` lasts here (tests shorten it).
    hour_seconds: float = 3600.0

    # ------------------------------------------------------------------ files
    def upload(self, filename: str, purpose: str, data: bytes) -> dict[str, Any]:
        if purpose != "batch":
            raise ApiError(422, f"purpose {purpose!r}: this simulator keeps batch files only")
        stored = self.sim.create_file(filename, "batch", data, file_id=new_uuid(self.sim.new_id("mistral-file-")))
        self.sample_types[stored.id] = "batch_request"
        return self.file_view(stored)

    def file(self, file_id: str) -> StoredFile:
        stored = self.sim.files.get(file_id)
        if stored is None or file_id not in self.sample_types:
            raise ApiError(404, f"File {file_id} not found")
        return stored

    def file_view(self, stored: StoredFile) -> dict[str, Any]:
        sample_type = self.sample_types.get(stored.id, "batch_request")
        return {"id": stored.id, "object": "file", "bytes": len(stored.data), "created_at": stored.created_at,
                "filename": stored.filename, "purpose": "batch", "sample_type": sample_type,
                "source": "upload" if sample_type == "batch_request" else "mistral",
                "num_lines": stored.data.count(b"\n"), "mimetype": "application/jsonl", "signature": None}

    def delete_file(self, file_id: str) -> dict[str, Any]:
        self.file(file_id)
        self.sim.delete_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    # ------------------------------------------------------------------ jobs
    def create(self, payload: dict[str, Any]) -> dict[str, Any]:
        endpoint = payload.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise ApiError(422, f"endpoint: input should be one of {list(ENDPOINTS)}, not {endpoint!r}")
        model = payload.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(422, "model: a batch job needs a model (or an agent_id, which this simulator lacks)")
        timeout_hours = payload.get("timeout_hours", 24)
        if not isinstance(timeout_hours, int) or isinstance(timeout_hours, bool) \
                or not 1 <= timeout_hours <= MAX_TIMEOUT_HOURS:
            raise ApiError(422, f"timeout_hours must be at least 1 and lower than 7 days (168), not {timeout_hours!r}")
        metadata = payload.get("metadata")
        if metadata is not None and (not isinstance(metadata, dict)
                                     or not all(isinstance(v, str) for v in metadata.values())):
            raise ApiError(422, "metadata: a mapping of strings to strings")
        input_files = payload.get("input_files") or []
        if payload.get("requests"):
            lines = [json.dumps(r).encode() for r in payload["requests"]]
        elif isinstance(input_files, list) and input_files:
            lines = [line for file_id in input_files for line in self.file(str(file_id)).data.split(b"\n")]
        else:
            raise ApiError(422, "input_files or requests: one of them is required")
        requests, errors = _parse_input(lines)
        if len(requests) > MAX_REQUESTS_PER_JOB:
            raise ApiError(400, f"A batch job holds at most {MAX_REQUESTS_PER_JOB:,} requests")
        sim = self.sim
        plan = sim._plan("mistral", len(requests))
        with sim.lock:
            now = sim.clock()
            pending = sum(j.timeline.total - self._finished(j, now) for j in self.jobs.values()
                          if self._status(j, now)[0] in ("QUEUED", "RUNNING"))
            if pending + len(requests) > self.max_pending_requests or plan.token_limit_exceeded \
                    or sim.consume("token_limit_failures_next"):
                raise ApiError(429, f"Too many pending batch requests in this workspace: {pending:,} pending, "
                                    f"{len(requests):,} more would exceed {self.max_pending_requests:,}",
                               code="pending_requests_limit")
            if not errors and sim.consume("validation_failures_next"):
                errors = [{"message": "Simulated validation failure: line 1 is not a valid request", "count": 1}]
            timeline = sim._timeline(len(requests), plan)
            if self.timeouts_next > 0:
                self.timeouts_next -= 1
                timeline.expire_count = int(len(requests) * max(0.0, min(1.0, self.timeout_after_fraction)))
            _apply_timeout(timeline, timeout_hours * self.hour_seconds)
            bodies = [(cid, {**body, "model": model}) for cid, body in requests]
            job = MistralJob(
                id=new_uuid(sim.new_id("mistral-job-")),
                seq=sim._next_seq(),
                endpoint=str(endpoint),
                model=model,
                input_files=[str(f) for f in input_files],
                metadata=metadata,
                timeout_hours=timeout_hours,
                timeline=timeline,
                requests=[] if errors else [PlannedRequest(cid, body, sim._plan_failure(cid, body))
                                            for cid, body in bodies],
                sent=[(cid, answers.body_digest(body)) for cid, body in bodies],
                fail_errors=errors or None,
            )
            self.jobs[job.id] = job
            if sim.on_created:
                t = job.timeline
                sim.on_created("mistral", job.id, t.processing_start if errors else self._end(t))
            return self.view(job)

    def get(self, job_id: str) -> MistralJob:
        job = self.jobs.get(job_id)
        if job is None or job_id in self.sim.vanished:
            raise ApiError(404, f"Batch job {job_id} not found")
        return job

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self.sim.lock:
            job = self.get(job_id)
            status = self._status(job, self.sim.clock())[0]
            if status not in _RUNNING:
                raise ApiError(400, f"Batch job {job_id} has status {status} and cannot be cancelled")
            if job.timeline.cancel_at is None:
                job.timeline.cancel_at = self.sim.clock()
            return self.view(job)

    def list(self, query: dict[str, str]) -> dict[str, Any]:
        page, size = int(query.get("page", 0)), max(1, min(1000, int(query.get("page_size", 100))))
        after = _epoch(query["created_after"]) if query.get("created_after") else None
        with self.sim.lock:
            jobs = [j for j in self.jobs.values() if j.id not in self.sim.vanished
                    and (after is None or j.timeline.created_at >= int(after))
                    and (not query.get("model") or j.model == query["model"])]
            jobs.sort(key=lambda j: j.seq, reverse=query.get("order_by", "-created") != "created")
            data = [self.view(j) for j in jobs[page * size:(page + 1) * size]]
        return {"object": "list", "data": data, "total": len(jobs)}

    # ------------------------------------------------------------------ time
    @staticmethod
    def _end(t: Timeline) -> float:
        return t.processing_end if t.expire_count is not None else t.processing_end + t.finalizing_seconds

    def _status(self, job: MistralJob, now: float) -> tuple[str, float | None]:
        """(status, when it ended) at ``now``."""
        t = job.timeline
        if job.fail_errors is not None:
            return ("QUEUED", None) if now < t.processing_start else ("FAILED", t.processing_start)
        if t.cancel_effective() and t.cancel_at is not None:
            ended = t.cancel_at + t.cancelling_seconds
            return ("CANCELLATION_REQUESTED", None) if now < ended else ("CANCELLED", ended)
        if now < t.processing_start:
            return "QUEUED", None
        end = self._end(t)
        if now < end:
            return "RUNNING", None
        return ("TIMEOUT_EXCEEDED" if t.expire_count is not None else "SUCCESS"), end

    def _finished(self, job: MistralJob, now: float) -> int:
        t = job.timeline
        if job.fail_errors is not None:
            return 0
        return t.processed_at(t.cancel_at if t.cancel_effective() and t.cancel_at is not None else now)

    def view(self, job: MistralJob) -> dict[str, Any]:
        now = self.sim.clock()
        status, ended_at = self._status(job, now)
        t = job.timeline
        done = self._finished(job, now)
        failed = sum(1 for r in job.requests[:done] if r.failure is not None)
        if ended_at is not None and status != "FAILED" and not job.materialized:
            self._materialize(job, done)
        return {
            "id": job.id,
            "object": "batch",
            "input_files": job.input_files,
            "metadata": job.metadata,
            "endpoint": job.endpoint,
            "model": job.model,
            "agent_id": None,
            "output_file": job.output_file,
            "error_file": job.error_file,
            "errors": job.fail_errors or [],
            "outputs": None,
            "status": status,
            "created_at": int(t.created_at),
            "total_requests": t.total,
            "completed_requests": done,
            "succeeded_requests": done - failed,
            "failed_requests": failed,
            "started_at": int(t.processing_start) if now >= t.processing_start and job.fail_errors is None else None,
            "completed_at": int(ended_at) if ended_at is not None else None,
        }

    def _materialize(self, job: MistralJob, done: int) -> None:
        created = int(self.sim.clock())
        output: list[bytes] = []
        failures: list[bytes] = []
        for index, planned in enumerate(job.requests[:done]):
            line_id = f"batch-{job.id}-{index}"
            if planned.failure is not None:
                status = planned.failure.effective_status
                message = planned.failure.message or f"Simulated {_ERROR_TYPES.get(status, 'server error')}"
                failures.append(self.sim._jsonl({"id": line_id, "custom_id": planned.custom_id, "error": None,
                                                 "response": {"status_code": status,
                                                              "body": error_body(status, message)}}))
            else:
                body = answer_body(job.endpoint, planned.body, created=created)
                output.append(self.sim._jsonl({"id": line_id, "custom_id": planned.custom_id, "error": None,
                                               "response": {"status_code": 200, "body": body}}))
        for lines, role, attr in ((output, "batch_result", "output_file"), (failures, "batch_error", "error_file")):
            if lines:
                file_id = new_uuid(f"{job.id}:{role}")
                self.sim.create_file(f"{job.id}_{role}.jsonl", "batch", b"".join(lines), file_id=file_id)
                self.sample_types[file_id] = role
                setattr(job, attr, file_id)
        job.materialized = True

    # ------------------------------------------------------------------ the ledger
    def ledger_entries(self) -> list[LedgerBatch]:
        entries = []
        for job in self.jobs.values():
            t = job.timeline
            entry = LedgerBatch("mistral", job.id, t.created_at, t.processing_start, dict(job.metadata or {}),
                                cancel_requested_at=t.cancel_at, vanished=job.id in self.sim.vanished)
            if job.fail_errors:
                entry.end_reason, entry.fail_codes = "failed", ["batch_error"]
                entry.requests = [LedgerRequest(cid, digest, BATCH_FAILED) for cid, digest in job.sent]
            else:
                Simulator._settle(entry, t, job.requests, job.sent, finalizing=True)
            entries.append(entry)
        return entries


def _apply_timeout(t: Timeline, limit_seconds: float) -> None:
    """A job still running ``limit_seconds`` after its creation times out then, with what it
    finished by that moment."""
    deadline = t.created_at + limit_seconds
    if deadline >= t.processing_end + t.finalizing_seconds or deadline < t.processing_start:
        return
    done = t.processed_at(deadline)
    t.expire_count = done if t.expire_count is None else min(done, t.expire_count)
    t.processing_seconds = deadline - t.processing_start
    t.finalizing_seconds = 0.0


def _parse_input(lines: list[bytes]) -> tuple[list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """(custom_id, body) of every line, and the job's errors ({message, count}) if any is bad."""
    requests: list[tuple[str, dict[str, Any]]] = []
    problems: dict[str, int] = {}
    seen: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            line = None
        if not isinstance(line, dict) or not isinstance(line.get("body"), dict):
            problems["Each line must be a JSON object with a body object"] = \
                problems.get("Each line must be a JSON object with a body object", 0) + 1
            continue
        custom_id = line.get("custom_id")
        custom_id = str(number - 1) if custom_id is None else str(custom_id)
        if custom_id in seen:
            problems[f"Duplicate custom_id {custom_id!r}"] = 1
            continue
        seen.add(custom_id)
        requests.append((custom_id, line["body"]))
    if not requests and not problems:
        problems["The input is empty"] = 1
    return requests, [{"message": message, "count": count} for message, count in problems.items()]


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value.replace(" ", "+")).timestamp()


# ---------------------------------------------------------------------- routes


def _upload(request: Any, state: MistralState, body: bytes) -> None:
    from batchrelay_tools.simulator.server import _parse_multipart  # the server imports this module

    fields, files = _parse_multipart(request.headers.get("Content-Type", ""), body)
    if "file" not in files:
        raise ApiError(422, "file: field required")
    filename, data = files["file"]
    request.send_json(200, state.upload(filename, fields.get("purpose", ""), data))


def _get_file(request: Any, state: MistralState, body: bytes, id: str) -> None:
    request.send_json(200, {**state.file_view(state.file(id)), "deleted": False})


def _file_content(request: Any, state: MistralState, body: bytes, id: str) -> None:
    request.send_download(state.file(id).data, "application/octet-stream")


def _delete_file(request: Any, state: MistralState, body: bytes, id: str) -> None:
    request.send_json(200, state.delete_file(id))


def _create_job(request: Any, state: MistralState, body: bytes) -> None:
    request.check_create_fault()
    request.send_json(200, state.create(request.json_body(body)))


def _list_jobs(request: Any, state: MistralState, body: bytes) -> None:
    request.send_json(200, state.list(request.query))


def _get_job(request: Any, state: MistralState, body: bytes, id: str) -> None:
    with state.sim.lock:
        request.send_json(200, state.view(state.get(id)))


def _cancel_job(request: Any, state: MistralState, body: bytes, id: str) -> None:
    request.send_json(200, state.cancel(id))


def _configure(request: Any, state: MistralState, body: bytes) -> None:
    """Knobs of this provider's simulation: timeouts_next, timeout_after_fraction,
    max_pending_requests, hour_seconds."""
    changes = request.json_body(body)
    unknown = set(changes) - {"timeouts_next", "timeout_after_fraction", "max_pending_requests", "hour_seconds"}
    if unknown:
        raise ApiError(422, f"unknown settings: {sorted(unknown)}")
    with state.sim.lock:
        for name, value in changes.items():
            setattr(state, name, value)
    request.send_json(200, {name: getattr(state, name) for name in
                            ("timeouts_next", "timeout_after_fraction", "max_pending_requests", "hour_seconds")})


def _route(method: str, path: str, handler: Any) -> plugins.Route:
    return plugins.route(method, path, handler, prefix=PREFIX)


PLUGIN = plugins.register(plugins.SimulatedProvider(
    name="mistral",
    prefix=PREFIX,
    routes=(
        _route("POST", "/v1/files", _upload),
        _route("GET", "/v1/files/{id}", _get_file),
        _route("GET", "/v1/files/{id}/content", _file_content),
        _route("DELETE", "/v1/files/{id}", _delete_file),
        _route("POST", "/v1/batch/jobs", _create_job),
        _route("GET", "/v1/batch/jobs", _list_jobs),
        _route("GET", "/v1/batch/jobs/{id}", _get_job),
        _route("POST", "/v1/batch/jobs/{id}/cancel", _cancel_job),
        _route("POST", "/_sim/config", _configure),
    ),
    make_state=lambda sim: MistralState(sim),
    error_body=error_body,
    authorized=lambda headers: headers.get("authorization", "").startswith("Bearer ")
    and len(headers["authorization"]) > len("Bearer "),
))
