"""Amazon Bedrock on the simulator: the control plane's batch inference API and the runtime's
InvokeModel, as boto3's ``bedrock`` and ``bedrock-runtime`` clients call them (rest-json),
under ``/bedrock`` (a client's ``endpoint_url`` is ``<simulator>/bedrock``).

- ``POST /model-invocation-job`` (CreateModelInvocationJob): checks the request as Bedrock
  documents it (name, token, role, model, S3 URIs, timeout, tags), honours
  ``clientRequestToken`` (the same token returns the job it made, no second job), reads the
  input JSONL from S3 (the local emulator in local mode, the simulation's fake S3 in the
  simulation: whatever boto3 reaches), and refuses a job below the record minimum
  (``bedrock_min_records``, default 100) or above 50,000 records with a ValidationException.
  ``quota_failures_next`` answers ServiceQuotaExceededException, ``create_errors_next``
  429/5xx; ``validation_failures_next`` makes the job fail in Validating.
- ``GET /model-invocation-job/{id or arn}``, ``GET /model-invocation-jobs`` (filters
  submitTimeAfter/Before, statusEquals, nameContains; sortOrder; maxResults/nextToken pages),
  ``POST /model-invocation-job/{id}/stop``.
- A job runs through Submitted, Validating, Scheduled, InProgress, then Completed (or
  PartiallyCompleted when a record errored: ``failure_rules``), Expired
  (``expire_after_fraction``: what finished has its lines), Stopping/Stopped, or Failed.
  When first seen ended it writes ``<output uri><job id>/<input file>.out`` (lines in an order
  that is not the input's, as Bedrock warns: ``modelOutput`` or ``error``) and
  ``manifest.json.out`` to S3.
- ``POST /model/{modelId}/invoke`` (InvokeModel): one answer, or the error a failure rule
  selects (429 ThrottlingException, 5xx, 400 ValidationException); billed per call in the
  ledger, grouped by the ``batchrelay_batch`` of the request's metadata header.

Every model answers in the Anthropic Messages shape (what Claude on Bedrock returns); an
answer's text carries a digest of the request as the test wrote it (``model`` and the model
input together), like every simulated answer. ``state_changes()`` gives the EventBridge
"Batch Inference Job State Change" events since the last call (local mode delivers them).

Where this comes from, and what is assumed (none of it was checked against the real service):
the request and response shapes, patterns and error codes are botocore's service model
(bedrock 2023-04-20, bedrock-runtime 2023-09-30); the input and output lines, the output
file's place (``<output uri><job id>/<input file>.out``, ``manifest.json.out``) and the
manifest's fields, the statuses, the token's idempotency ("Bedrock ignores the request, but
does not return an error"), the record minimum and the event's shape are AWS's documentation.
Assumed: a job below the minimum is refused at create with a ValidationException (Bedrock may
fail it in Validating instead: batchrelay never sends one); a token reused with other
parameters is a ConflictException; the record counts move while a job runs; an expired or
stopped job writes no line for the records it did not run; a job refused for the jobs in
flight answers ServiceQuotaExceededException; stopping an ended job is a ValidationException.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from batchrelay_tools.simulator import answers, plugins
from batchrelay_tools.simulator.ledger import BATCH_FAILED, ERRORED, SUCCEEDED, LedgerBatch, LedgerRequest
from batchrelay_tools.simulator.state import ApiError, PlannedRequest, Simulator, Timeline

PREFIX = "/bedrock"
ACCOUNT = "123456789012"
REGION = "us-east-1"
MAX_RECORDS = 50_000
EVENT_SOURCE = "aws.bedrock"
EVENT_DETAIL_TYPE = "Batch Inference Job State Change"

# Patterns of the API reference (botocore's service model has the same).
JOB_NAME = re.compile(r"^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}$")
TOKEN = re.compile(r"^[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}$")
ROLE_ARN = re.compile(r"^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$")
S3_URI = re.compile(r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?$")
TAG = re.compile(r"^[a-zA-Z0-9\s._:/=+@-]*$")
ENDED = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
STOPPABLE = ("Submitted", "Validating", "Scheduled", "InProgress")
_ERROR_NAMES = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
                408: "ModelTimeoutException", 429: "ThrottlingException", 500: "InternalServerException",
                503: "ServiceUnavailableException"}


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _validation(message: str) -> ApiError:
    return ApiError(400, message, code="ValidationException")


def _constraint(value: Any, member: str, rule: str) -> ApiError:
    return _validation(f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                       f"Member must {rule}")


def full_body(model_id: str, model_input: dict[str, Any]) -> dict[str, Any]:
    """The request as batchrelay's client wrote it: the model and the model input."""
    return {"model": model_id, **model_input}


def model_output(model_id: str, model_input: dict[str, Any]) -> dict[str, Any]:
    """What Claude on Bedrock answers (the Messages response, an id of Bedrock's kind)."""
    body = full_body(model_id, model_input)
    message = answers.anthropic_message(body, model=model_id)
    message["id"] = f"msg_bdrk_{answers.body_digest(body)[:24]}"
    message["usage"] = {k: v for k, v in message["usage"].items() if k != "service_tier"}
    return message


@dataclass
class BedrockJob:
    id: str
    seq: int
    name: str
    token: str
    model_id: str
    role_arn: str
    input_uri: str
    output_uri: str
    timeout_hours: int
    tags: dict[str, str]
    timeline: Timeline
    requests: list[PlannedRequest]        # custom_id: the recordId; body: the model input
    fail_message: str | None = None
    materialized: bool = False

    @property
    def arn(self) -> str:
        return f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/{self.id}"


@dataclass
class InvokeRun:
    """On-demand InvokeModel calls billed under one ``batchrelay_batch`` (one run)."""

    batch_id: str
    created_at: float
    ends_at: float
    requests: list[LedgerRequest] = field(default_factory=list)


class BedrockState:
    def __init__(self, sim: Simulator):
        self.sim = sim
        self.jobs: dict[str, BedrockJob] = {}
        self.by_token: dict[str, tuple[str, tuple[Any, ...]]] = {}
        self.runs: dict[str, InvokeRun] = {}
        self.invocations = 0
        self._seen_status: dict[str, str] = {}
        self._s3: Any = None
        self._s3_lock = threading.Lock()

    # ------------------------------------------------------------------ S3 (whatever boto3 reaches)
    @property
    def s3(self) -> Any:
        with self._s3_lock:
            if self._s3 is None:
                import boto3
                from botocore.config import Config

                self._s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"},
                                                            retries={"mode": "standard", "max_attempts": 3}))
            return self._s3

    def _read(self, uri: str) -> bytes:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as exc:  # botocore's ClientError: no such bucket or key, or no access
            raise _validation(f"Unable to read the input data at {uri}: {exc}") from exc

    def _write(self, uri: str, data: bytes, content_type: str) -> None:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        self.s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    # ------------------------------------------------------------------ create
    def create(self, payload: dict[str, Any]) -> dict[str, Any]:
        sim = self.sim
        name, token = payload.get("jobName"), payload.get("clientRequestToken")
        role, model = payload.get("roleArn"), payload.get("modelId")
        source = ((payload.get("inputDataConfig") or {}).get("s3InputDataConfig") or {}).get("s3Uri")
        target = ((payload.get("outputDataConfig") or {}).get("s3OutputDataConfig") or {}).get("s3Uri")
        timeout = payload.get("timeoutDurationInHours", 24)
        for member, value in (("jobName", name), ("roleArn", role), ("modelId", model),
                              ("inputDataConfig.s3InputDataConfig.s3Uri", source),
                              ("outputDataConfig.s3OutputDataConfig.s3Uri", target)):
            if not isinstance(value, str) or not value:
                raise _validation(f"1 validation error detected: Value null at '{member}' failed to satisfy "
                                  "constraint: Member must not be null")
        if not JOB_NAME.match(name) or len(name) > 63:
            raise _constraint(name, "jobName", f"satisfy regular expression pattern: {JOB_NAME.pattern}")
        if token is not None and (not isinstance(token, str) or not TOKEN.match(token) or len(token) > 256):
            raise _constraint(token, "clientRequestToken", f"satisfy regular expression pattern: {TOKEN.pattern}")
        if not ROLE_ARN.match(role):
            raise _constraint(role, "roleArn", f"satisfy regular expression pattern: {ROLE_ARN.pattern}")
        for member, uri in (("inputDataConfig.s3InputDataConfig.s3Uri", source),
                            ("outputDataConfig.s3OutputDataConfig.s3Uri", target)):
            if not S3_URI.match(uri):
                raise _constraint(uri, member, f"satisfy regular expression pattern: {S3_URI.pattern}")
        if not isinstance(timeout, int) or not 24 <= timeout <= 168:
            raise _constraint(timeout, "timeoutDurationInHours", "have value between 24 and 168")
        tags = payload.get("tags") or []
        if not isinstance(tags, list) or len(tags) > 200 or not all(
                isinstance(t, dict) and isinstance(t.get("key"), str) and isinstance(t.get("value"), str)
                and TAG.match(t["key"]) and TAG.match(t["value"]) and 1 <= len(t["key"]) <= 128
                and len(t["value"]) <= 256 for t in tags):
            raise _constraint(tags, "tags", "be at most 200 key/value pairs of the documented pattern")
        params = (name, role, model, source, target, timeout)
        with sim.lock:
            if token and token in self.by_token:
                job_id, before = self.by_token[token]
                if before != params:
                    raise ApiError(400, f"The client request token {token} was used with different parameters.",
                                   code="ConflictException")
                # Bedrock ignores a request whose token it has seen, without an error.
                return {"jobArn": self.jobs[job_id].arn}
        self._check_create_faults()
        records, fail_message = self._parse_input(self._read(source))
        minimum = sim.settings.bedrock_min_records
        if len(records) < minimum:
            raise _validation(f"The number of records ({len(records)}) in the input is less than the minimum "
                              f"number of records per batch inference job ({minimum}) for model {model}.")
        if len(records) > MAX_RECORDS:
            raise _validation(f"The number of records ({len(records)}) is more than the maximum per batch "
                              f"inference job ({MAX_RECORDS}).")
        if fail_message is None and sim.consume("validation_failures_next"):
            fail_message = "Simulated validation failure: the input data does not match the model's format."
        with sim.lock:
            if token and token in self.by_token:    # a concurrent create with the same token won
                return {"jobArn": self.jobs[self.by_token[token][0]].arn}
            plan = sim._plan("bedrock", len(records))
            timeline = sim._timeline(len(records), plan)
            timeline.finalizing_seconds = 0.0       # Bedrock has no finalizing phase
            job = BedrockJob(
                id=sim.new_id("")[:12].lower(),
                seq=sim._next_seq(),
                name=name, token=token or "", model_id=model, role_arn=role, input_uri=source, output_uri=target,
                timeout_hours=timeout, tags={t["key"]: t["value"] for t in tags}, timeline=timeline,
                requests=[PlannedRequest(record_id, model_input,
                                         None if fail_message else sim._plan_failure(
                                             record_id, full_body(model, model_input)))
                          for record_id, model_input in records],
                fail_message=fail_message,
            )
            self.jobs[job.id] = job
            if token:
                self.by_token[token] = (job.id, params)
            if sim.on_created:
                t = job.timeline
                sim.on_created("bedrock", job.id, t.processing_start if fail_message else t.processing_end)
            return {"jobArn": job.arn}

    def _check_create_faults(self) -> None:
        if self.sim.consume("quota_failures_next"):
            raise ApiError(400, "You have exceeded the number of in-progress and submitted batch inference jobs "
                                "for this model (simulated).", code="ServiceQuotaExceededException")
        if self.sim.consume("create_errors_next"):
            status = self.sim.settings.create_error_status
            raise ApiError(status, f"Simulated HTTP {status} on CreateModelInvocationJob.",
                           code=_ERROR_NAMES.get(status, "InternalServerException"))

    @staticmethod
    def _parse_input(data: bytes) -> tuple[list[tuple[str, dict[str, Any]]], str | None]:
        """(recordId, modelInput) per record; a message when the file fails validation."""
        records: list[tuple[str, dict[str, Any]]] = []
        seen: set[str] = set()
        problem = None
        for number, raw in enumerate(data.split(b"\n"), start=1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                problem = problem or f"Line {number} of the input is not valid JSON."
                continue
            if not isinstance(line, dict) or not isinstance(line.get("modelInput"), dict):
                problem = problem or f"Line {number} of the input has no modelInput object."
                continue
            record_id = line.get("recordId")
            if record_id is None:   # Bedrock adds one when it is missing
                record_id = hashlib.sha256(raw).hexdigest()[:11].upper()
            if not isinstance(record_id, str) or record_id in seen:
                problem = problem or f"Line {number}: the recordId {record_id!r} is missing or repeated."
                continue
            seen.add(record_id)
            records.append((record_id, line["modelInput"]))
        if not records and problem is None:
            raise _validation("The input data contains no records.")
        return records, problem

    # ------------------------------------------------------------------ read, list, stop
    def _get(self, identifier: str) -> BedrockJob:
        job_id = unquote(identifier).rsplit("/", 1)[-1]
        job = self.jobs.get(job_id)
        if job is None or job_id in self.sim.vanished:
            raise ApiError(404, f"The batch inference job {job_id} was not found.", code="ResourceNotFoundException")
        return job

    def get(self, identifier: str) -> dict[str, Any]:
        with self.sim.lock:
            return self._view(self._get(identifier))

    def stop(self, identifier: str) -> dict[str, Any]:
        with self.sim.lock:
            job = self._get(identifier)
            status = self._status(job, self.sim.clock())[0]
            if status not in STOPPABLE:
                raise _validation(f"The batch inference job {job.id} is {status} and cannot be stopped.")
            if job.timeline.cancel_at is None:
                job.timeline.cancel_at = self.sim.clock()
            return {}

    def list(self, query: dict[str, str]) -> dict[str, Any]:
        after, before = _parse_time(query.get("submitTimeAfter")), _parse_time(query.get("submitTimeBefore"))
        status, contains = query.get("statusEquals"), query.get("nameContains")
        limit = max(1, min(1000, int(query.get("maxResults") or 1000)))
        start = int(query.get("nextToken") or 0)
        with self.sim.lock:
            now = self.sim.clock()
            jobs = sorted((j for j in self.jobs.values() if j.id not in self.sim.vanished),
                          key=lambda j: j.seq, reverse=query.get("sortOrder", "Descending") != "Ascending")
            chosen = [
                j for j in jobs
                if (after is None or j.timeline.created_at >= after)
                and (before is None or j.timeline.created_at <= before)
                and (not contains or contains in j.name)
                and (not status or self._status(j, now)[0] == status)
            ]
            page = [self._view(j) for j in chosen[start : start + limit]]
            answer: dict[str, Any] = {"invocationJobSummaries": page}
            if start + limit < len(chosen):
                answer["nextToken"] = str(start + limit)
            return answer

    # ------------------------------------------------------------------ time
    def _status(self, job: BedrockJob, now: float) -> tuple[str, int, float | None]:
        """(status, records finished, when it ended)."""
        t = job.timeline
        if job.fail_message is not None:
            return ("Validating", 0, None) if now < t.processing_start else ("Failed", 0, t.processing_start)
        if t.cancel_effective() and t.cancel_at is not None:
            end = t.cancel_at + t.cancelling_seconds
            done = t.processed_at(t.cancel_at)
            return ("Stopping", done, None) if now < end else ("Stopped", done, end)
        if now < t.processing_start:
            return ("Submitted" if now <= t.created_at else "Validating"), 0, None
        done = t.processed_at(now)
        if now < t.processing_end:
            return ("Scheduled" if done == 0 else "InProgress"), done, None
        if t.expire_count is not None:
            return "Expired", done, t.processing_end
        errored = any(r.failure is not None for r in job.requests[:done])
        return ("PartiallyCompleted" if errored else "Completed"), done, t.processing_end

    def _view(self, job: BedrockJob) -> dict[str, Any]:
        status, done, ended_at = self._status(job, self.sim.clock())
        errored = sum(1 for r in job.requests[:done] if r.failure is not None)
        if status in ENDED and not job.materialized:
            self._materialize(job, done)
        t = job.timeline
        view: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "modelId": job.model_id,
            "roleArn": job.role_arn,
            "status": status,
            "submitTime": _iso(t.created_at),
            "lastModifiedTime": _iso(ended_at or t.created_at),
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": job.input_uri, "s3InputFormat": "JSONL"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": job.output_uri}},
            "timeoutDurationInHours": job.timeout_hours,
            "jobExpirationTime": _iso(t.created_at + job.timeout_hours * 3600),
            "modelInvocationType": "InvokeModel",
            "totalRecordCount": t.total,
            "processedRecordCount": done,
            "successRecordCount": done - errored,
            "errorRecordCount": errored,
        }
        if job.token:
            view["clientRequestToken"] = job.token
        if ended_at is not None:
            view["endTime"] = _iso(ended_at)
        if status == "Failed":
            view["message"] = job.fail_message
        return view

    def _materialize(self, job: BedrockJob, done: int) -> None:
        """Write the output file and the manifest once the job has ended (what finished only)."""
        job.materialized = True
        if job.fail_message is not None:
            return
        lines: list[tuple[str, bytes]] = []
        input_tokens = output_tokens = errored = 0
        for planned in job.requests[:done]:
            line: dict[str, Any] = {"recordId": planned.custom_id, "modelInput": planned.body}
            if planned.failure is not None:
                status = planned.failure.effective_status
                line["error"] = {"errorCode": status, "errorMessage": planned.failure.message
                                 or f"Simulated {_ERROR_NAMES.get(status, 'error')} for this record."}
                errored += 1
            else:
                output = model_output(job.model_id, planned.body)
                line["modelOutput"] = output
                input_tokens += output["usage"]["input_tokens"]
                output_tokens += output["usage"]["output_tokens"]
            order = hashlib.sha256(f"{job.id}:{planned.custom_id}".encode()).hexdigest()
            lines.append((order, self.sim._jsonl(line)))
        folder = job.output_uri if job.output_uri.endswith("/") else job.output_uri + "/"
        folder += f"{job.id}/"
        name = posixpath.basename(job.input_uri.removeprefix("s3://").partition("/")[2]) or "input.jsonl"
        self._write(folder + name + ".out", b"".join(line for _, line in sorted(lines)), "application/jsonl")
        manifest = {"totalRecordCount": job.timeline.total, "processedRecordCount": done,
                    "successRecordCount": done - errored, "errorRecordCount": errored,
                    "inputTokenCount": input_tokens, "outputTokenCount": output_tokens}
        self._write(folder + "manifest.json.out", json.dumps(manifest).encode(), "application/json")

    # ------------------------------------------------------------------ InvokeModel
    def invoke(self, model_id: str, model_input: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
        sim = self.sim
        record_id = str(metadata.get("batchrelay_record") or "")
        body = full_body(model_id, model_input)
        with sim.lock:
            self.invocations += 1
            run_id = str(metadata.get("batchrelay_batch") or f"invoke-{self.invocations}")
            now = sim.clock()
            run = self.runs.get(run_id)
            if run is None:
                run = self.runs[run_id] = InvokeRun(run_id, now, now)
            run.ends_at = now
            failure = sim._plan_failure(record_id or answers.body_digest(body), body)
            request = LedgerRequest(record_id, answers.body_digest(body))
            self._add(run, request)
            if failure is not None:
                request.outcome, request.error_status = ERRORED, failure.effective_status
                status = failure.effective_status
                raise ApiError(status, failure.message or f"Simulated {_ERROR_NAMES.get(status, 'error')}.",
                               code=_ERROR_NAMES.get(status, "InternalServerException" if status >= 500
                                                     else "ValidationException"))
            request.outcome = SUCCEEDED
            return model_output(model_id, model_input)

    @staticmethod
    def _add(run: InvokeRun, request: LedgerRequest) -> None:
        """A call of a run: it replaces an earlier unbilled outcome of the same request (a refusal
        the client retried); a second billed one is kept beside the first (paid twice)."""
        for index, earlier in enumerate(run.requests):
            if earlier.body_digest == request.body_digest and not earlier.billed:
                run.requests[index] = request
                return
        run.requests.append(request)

    def record_refusal(self, metadata: dict[str, Any], digest: str, status: int) -> None:
        """A call refused before it reached the model (the simulation's transport faults): the
        record's answer is that error, unbilled, in the run's ledger."""
        with self.sim.lock:
            self.invocations += 1
            run_id = str(metadata.get("batchrelay_batch") or f"invoke-{self.invocations}")
            now = self.sim.clock()
            run = self.runs.get(run_id)
            if run is None:
                run = self.runs[run_id] = InvokeRun(run_id, now, now)
            run.ends_at = max(run.ends_at, now)
            request = LedgerRequest(str(metadata.get("batchrelay_record") or ""), digest, ERRORED)
            request.error_status = status
            self._add(run, request)

    # ------------------------------------------------------------------ ledger and events
    def ledger(self) -> list[LedgerBatch]:
        entries = []
        for job in self.jobs.values():
            t = job.timeline
            entry = LedgerBatch("bedrock", job.id, t.created_at, t.processing_end,
                                {"jobName": job.name, "batchrelay_job": job.tags.get("batchrelay:job", ""),
                                 "batchrelay_chunk": job.tags.get("batchrelay:chunk", "")},
                                cancel_requested_at=t.cancel_at, vanished=job.id in self.sim.vanished)
            sent = [(r.custom_id, answers.body_digest(full_body(job.model_id, r.body))) for r in job.requests]
            if job.fail_message is not None:
                entry.end_reason, entry.ends_at = "failed", t.processing_start
                entry.fail_codes = ["validation"]
                entry.requests = [LedgerRequest(cid, digest, BATCH_FAILED) for cid, digest in sent]
            else:
                Simulator._settle(entry, t, job.requests, sent, finalizing=False)
            entries.append(entry)
        for run in self.runs.values():
            entries.append(LedgerBatch("bedrock", run.batch_id, run.created_at, run.ends_at, {"on_demand": "true"},
                                       list(run.requests), end_reason="completed"))
        return entries

    def state_changes(self) -> list[dict[str, Any]]:
        """The "Batch Inference Job State Change" events of every change since the last call,
        in the shape of AWS's documented sample (an ended job's output is written first)."""
        events = []
        with self.sim.lock:
            now = self.sim.clock()
            for job in sorted(self.jobs.values(), key=lambda j: j.seq):
                if job.id in self.sim.vanished:
                    continue
                view = self._view(job)
                if self._seen_status.get(job.id) == view["status"]:
                    continue
                self._seen_status[job.id] = view["status"]
                events.append(state_change_event(job, view, now))
        return events


def state_change_event(job: BedrockJob, view: dict[str, Any], now: float) -> dict[str, Any]:
    return {
        "version": "0",
        "id": hashlib.sha256(f"{job.id}:{view['status']}".encode()).hexdigest()[:32],
        "detail-type": EVENT_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": ACCOUNT,
        "time": _iso(now),
        "region": REGION,
        "resources": [job.arn],
        "detail": {
            "version": "0.0",
            "accountId": ACCOUNT,
            "batchJobName": job.name,
            "batchJobArn": job.arn,
            "batchModelId": job.model_id,
            "status": view["status"],
            "failureMessage": view.get("message") or "",
            "creationTime": view["submitTime"],
        },
    }


def sim_state(sim: Simulator) -> BedrockState:
    """The Bedrock state of a simulator (made on first use)."""
    return sim.extension(PLUGIN)


# ---------------------------------------------------------------------- routes


def _create(request: Any, state: BedrockState, body: bytes) -> None:
    request.send_json(200, state.create(request.json_body(body)))


def _get(request: Any, state: BedrockState, body: bytes, job: str) -> None:
    request.send_json(200, state.get(job))


def _stop(request: Any, state: BedrockState, body: bytes, job: str) -> None:
    request.send_json(200, state.stop(job))


def _list(request: Any, state: BedrockState, body: bytes) -> None:
    request.send_json(200, state.list(request.query))


def _invoke(request: Any, state: BedrockState, body: bytes, model: str) -> None:
    raw = request.headers.get("X-Amzn-Bedrock-Request-Metadata") or "{}"
    try:
        metadata = json.loads(raw)
    except ValueError as exc:
        raise _validation(f"X-Amzn-Bedrock-Request-Metadata is not JSON: {exc}") from exc
    request.send_json(200, state.invoke(unquote(model), request.json_body(body), metadata))


def _error_body(status: int, message: str, code: str | None) -> dict[str, Any]:
    kind = code if code and code[0].isupper() else _ERROR_NAMES.get(status, "InternalServerException")
    return {"__type": kind, "message": message}


def _signed(headers: dict[str, str]) -> bool:
    return headers.get("authorization", "").startswith("AWS4-HMAC-SHA256")


PLUGIN = plugins.register(plugins.SimulatedProvider(
    name="bedrock",
    prefix=PREFIX,
    routes=(
        plugins.route("POST", "/model-invocation-job", _create, prefix=PREFIX),
        plugins.route("GET", "/model-invocation-jobs", _list, prefix=PREFIX),
        plugins.route("GET", "/model-invocation-job/{job}", _get, prefix=PREFIX),
        plugins.route("POST", "/model-invocation-job/{job}/stop", _stop, prefix=PREFIX),
        plugins.route("POST", "/model/{model}/invoke", _invoke, prefix=PREFIX),
    ),
    make_state=BedrockState,
    error_body=_error_body,
    authorized=_signed,
))
