"""Amazon Bedrock batch inference adapter (boto3: the ``bedrock`` control plane, S3, and
``bedrock-runtime`` for records below the record minimum).

Flow: the chunk's request lines (``{"recordId", "modelInput"}``) are already in the bucket
(``chunks/<job>/<chunk>/provider.jsonl``); ``CreateModelInvocationJob`` names that file, the
chunk's model, the service role Bedrock assumes and the chunk's output prefix
(``bedrock-output/<job>/<chunk>/``). Bedrock writes ``<bedrock job id>/provider.jsonl.out``
(one line per record: ``modelOutput`` or ``error``, matched by ``recordId``, never by
order) and ``manifest.json.out`` there (record and token counts). Records the manifest says
ran are never taken as unreported: with the manifest there and the output file missing,
collection waits (a retryable ``output_missing``) rather than running, and paying for, them again.

Identity and recovery: the job name and the ``clientRequestToken`` are the same string,
``batchrelay-<job ulid>-<chunk id>-b<n>``, where ``n`` says which of the chunk's batches it
is (``batchrelay_batch``: 1, then one more after each batch the chunk lost to a quota
refusal). A create retried after a crash sends the same token, so Bedrock returns the job
the first call made; ``ListModelInvocationJobs(nameContains=<ulid>-<chunk>-b)`` finds it
too, and the name proves it the chunk's at once.

Statuses: Submitted, Validating, Scheduled, InProgress and Stopping run; Completed and
PartiallyCompleted (some records errored, each with its error line) end completed; Failed
ends failed (``message`` says why); Stopped ends cancelled; Expired (the job's
``timeoutDurationInHours``) ends expired with the output of what finished.

Below the minimum: a create for fewer records than ``min_requests`` (the lifecycle asks
only when nothing else can join them: lifecycle/small_chunks.py) is run on demand, one
``InvokeModel`` per record (bedrock_on_demand.py), at the synchronous price; its results
read like a batch's and say ``service_tier: on_demand``.
"""

from __future__ import annotations

import logging
import posixpath
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from batchrelay import constants as c
from batchrelay.aws import s3_objects
from batchrelay.aws.s3_keys import bedrock_output_prefix, chunk_provider_key
from batchrelay.jsonl import loads_line
from batchrelay.providers.base import (
    NO_OPTIONS,
    BatchInfo,
    BatchOptions,
    BatchProvider,
    ProviderError,
    ProviderResult,
    RawFile,
)
from batchrelay.providers.custom_ids import anthropic_custom_id
from batchrelay.providers.errors import RETRYABLE_STATUS, translate_errors
from batchrelay.settings import get_settings

log = logging.getLogger(__name__)

PROVIDER = "bedrock"
JOB_NAME_PREFIX = "batchrelay-"
ON_DEMAND_PREFIX = "ondemand:"
OUTPUT_SUFFIX = ".out"
MANIFEST_NAME = "manifest.json.out"
MAX_JOB_NAME = 63
CLOCK_SKEW_SECONDS = 5.0
LIST_PAGE_MAX = 1000

RUNNING = frozenset({"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"})
END_REASONS = {
    "Completed": "completed",
    "PartiallyCompleted": "completed",
    "Failed": "failed",
    "Stopped": "cancelled",
    "Expired": "expired",
}
ENDED = frozenset(END_REASONS)
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9-]")
# boto3's default session is not safe to build clients from on several threads at once.
_CLIENT_LOCK = threading.Lock()


def job_name(job_id: str, chunk_id: str, batch_index: int) -> str:
    """The job name and clientRequestToken of the chunk's ``batch_index``-th batch."""
    return f"{name_stem(job_id, chunk_id)}{batch_index}"


def name_stem(job_id: str, chunk_id: str) -> str:
    """What every batch name of the chunk starts with (what recovery searches for)."""
    stem = f"{JOB_NAME_PREFIX}{_safe(job_id.removeprefix('job_'))}-{_safe(chunk_id)}-b"
    if len(stem) + 4 > MAX_JOB_NAME:
        raise ValueError(f"job {job_id} chunk {chunk_id} make a Bedrock job name longer than {MAX_JOB_NAME}")
    return stem


def _safe(text: str) -> str:
    return _NAME_UNSAFE.sub("-", text)


def on_demand_batch_id(job_id: str, chunk_id: str, batch_index: int) -> str:
    return f"{ON_DEMAND_PREFIX}{job_id}:{chunk_id}:{batch_index}"


def parse_on_demand_batch_id(batch_id: str) -> tuple[str, str, int]:
    job_id, chunk_id, index = batch_id.removeprefix(ON_DEMAND_PREFIX).rsplit(":", 2)
    return job_id, chunk_id, int(index)


def on_demand_prefix(batch_id: str) -> str:
    """Where an on-demand run keeps its answers, output and manifest."""
    job_id, chunk_id, index = parse_on_demand_batch_id(batch_id)
    return f"{bedrock_output_prefix(job_id, chunk_id)}ondemand-b{index}/"


def split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def model_input(body: dict[str, Any]) -> dict[str, Any]:
    """The InvokeModel body: the request without ``model`` (the job names the model;
    Bedrock refuses fields a model does not take)."""
    return {key: value for key, value in body.items() if key != "model"}


def normalize_usage(output: Any) -> dict[str, int] | None:
    """Token usage from an InvokeModel response body of the common model families."""
    if not isinstance(output, dict):
        return None
    usage = output.get("usage")
    cached: dict[str, int] = {}
    if isinstance(usage, dict):
        # Anthropic (input_tokens/output_tokens and cache), Amazon Nova (inputTokens/
        # outputTokens), Mistral and OpenAI-shaped models (prompt_tokens/completion_tokens).
        first = next((usage[k] for k in ("input_tokens", "inputTokens", "prompt_tokens") if k in usage), 0)
        second = next((usage[k] for k in ("output_tokens", "outputTokens", "completion_tokens") if k in usage), 0)
        cached = {k: int(usage[k]) for k in ("cache_creation_input_tokens", "cache_read_input_tokens")
                  if usage.get(k)}
    elif "prompt_token_count" in output:     # Meta Llama
        first, second = output.get("prompt_token_count"), output.get("generation_token_count")
    elif "inputTextTokenCount" in output:     # Amazon Titan Text
        first = output.get("inputTextTokenCount")
        results = output.get("results") if isinstance(output.get("results"), list) else []
        second = sum(int(r.get("tokenCount") or 0) for r in results if isinstance(r, dict))
    else:
        return None
    input_tokens, output_tokens = int(first or 0), int(second or 0)
    return {"input_tokens": input_tokens, "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens + sum(cached.values()), **cached}


def processed_records(manifest: dict[str, Any] | None) -> int:
    """How many records a job's manifest says ran (succeeded or errored)."""
    if not manifest:
        return 0
    counts = [manifest.get(k) for k in ("processedRecordCount", "successRecordCount", "errorRecordCount")]
    processed, succeeded, errored = (int(v) if isinstance(v, int | float) else 0 for v in counts)
    return max(processed, succeeded + errored)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


class BedrockProvider(BatchProvider):
    name = PROVIDER
    reads_input_from_bucket = True

    def __init__(
        self,
        control: Any | None = None,
        runtime: Any | None = None,
        *,
        base_url: str | None = None,
        region: str | None = None,
        max_retries: int = 3,
    ):
        self._control = control
        self._runtime = runtime
        self._base_url = base_url
        self._region = region
        self._max_retries = max_retries

    # ------------------------------------------------------------------ clients
    def _client(self, service: str, *, attempts: int, read_timeout: float) -> Any:
        import boto3
        from botocore.config import Config

        base_url = self._base_url or get_settings().provider(self.name).base_url
        config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            connect_timeout=10,
            read_timeout=read_timeout,
        )
        with _CLIENT_LOCK:
            return boto3.client(service, endpoint_url=base_url or None, region_name=self._region, config=config)

    @cached_property
    def control(self) -> Any:
        """The control plane, with botocore's retries (reads, lists, stops: safe to repeat)."""
        return self._control or self._client("bedrock", attempts=self._max_retries + 1, read_timeout=60)

    @cached_property
    def control_once(self) -> Any:
        """The control plane without retries, for the create: a retried create could make a
        second job (the same token makes it return the first, but only while Bedrock keeps
        it; lifecycle recovery looks first anyway)."""
        return self._control or self._client("bedrock", attempts=1, read_timeout=60)

    @cached_property
    def runtime(self) -> Any:
        """bedrock-runtime for on-demand InvokeModel, without botocore's retries: a call
        retried after a read timeout may be paid twice (bedrock_on_demand retries 429s only)."""
        return self._runtime or self._client("bedrock-runtime", attempts=1, read_timeout=120)

    # ------------------------------------------------------------------ requests
    def provider_custom_id(self, custom_id: str, tag: str) -> str:
        # recordId: the chunk tag, then the id in the same safe form as Anthropic's
        # (^[a-zA-Z0-9_-]{1,64}$; other ids are hashed), so it is safe in S3 keys as well.
        return anthropic_custom_id(custom_id, tag)

    def request_line(self, provider_custom_id: str, body: dict[str, Any], endpoint: str) -> dict[str, Any]:
        return {"recordId": provider_custom_id, "modelInput": model_input(body)}

    # ------------------------------------------------------------------ batches
    def create_batch(
        self, *, requests_path: str, request_count: int, endpoint: str, metadata: dict[str, str],
        options: BatchOptions = NO_OPTIONS,
    ) -> BatchInfo:
        # The job's timeout_hours and completion window are not Bedrock's: its jobs take the
        # deployment's timeout (settings.bedrock.timeout_hours).
        job_id, chunk_id = metadata["batchrelay_job"], metadata["batchrelay_chunk"]
        batch_index = int(metadata.get("batchrelay_batch") or 1)
        model = options.model or metadata.get("batchrelay_model")
        if not model:
            raise ProviderError(f"{self.name}: chunk {chunk_id} names no model", retryable=False, status_code=400,
                                code="no_model")
        settings = get_settings()
        minimum = settings.provider_limits(self.name).min_requests
        if request_count < minimum:
            if not settings.bedrock.on_demand:
                raise ProviderError(
                    f"{self.name}: {request_count} records, below the minimum of {minimum} per batch inference job, "
                    "and on-demand runs are off (bedrock_on_demand)",
                    retryable=False, status_code=400, code="below_batch_minimum",
                )
            from batchrelay.providers.bedrock_on_demand import run_on_demand

            return run_on_demand(self, job_id=job_id, chunk_id=chunk_id, batch_index=batch_index, model=model,
                                 request_count=request_count)
        if not settings.bedrock.role_arn:
            raise ProviderError(f"{self.name}: no service role: set {c.ENV_BEDROCK_ROLE_ARN}", retryable=False,
                                status_code=400, code="missing_credentials")
        bucket = settings.bucket_name
        name = job_name(job_id, chunk_id, batch_index)
        with translate_errors(self.name):
            created = self.control_once.create_model_invocation_job(
                jobName=name,
                clientRequestToken=name,
                roleArn=settings.bedrock.role_arn,
                modelId=model,
                inputDataConfig={"s3InputDataConfig": {
                    "s3Uri": f"s3://{bucket}/{chunk_provider_key(job_id, chunk_id)}", "s3InputFormat": "JSONL",
                }},
                outputDataConfig={"s3OutputDataConfig": {
                    "s3Uri": f"s3://{bucket}/{bedrock_output_prefix(job_id, chunk_id)}",
                }},
                timeoutDurationInHours=settings.bedrock.timeout_hours,
                tags=[{"key": "batchrelay:job", "value": job_id}, {"key": "batchrelay:chunk", "value": chunk_id}],
            )
        batch_id = created["jobArn"].rsplit("/", 1)[-1]
        try:
            return self.retrieve_batch(batch_id)
        except ProviderError as exc:
            # Made, but not readable just now: what is known is enough to record it.
            log.warning("bedrock job %s created; reading it back failed: %s", batch_id, exc.message)
            return BatchInfo(batch_id=batch_id, provider_status="Submitted", state="running", created_at=time.time(),
                             metadata={"jobName": name, "clientRequestToken": name})

    def find_candidates(
        self, *, metadata: dict[str, str], created_after: float, created_before: float, request_count: int
    ) -> Iterator[BatchInfo]:
        """The chunk's jobs submitted in the window: Bedrock filters by name (every batch of
        the chunk has it), the name proves each at once (``prove_ownership``)."""
        stem = name_stem(metadata["batchrelay_job"], metadata["batchrelay_chunk"])
        for info in self._list(
            submitTimeAfter=datetime.fromtimestamp(created_after - CLOCK_SKEW_SECONDS, UTC),
            submitTimeBefore=datetime.fromtimestamp(created_before + CLOCK_SKEW_SECONDS, UTC),
            nameContains=stem.removeprefix(JOB_NAME_PREFIX),
        ):
            if info.metadata.get("jobName", "").startswith(stem):
                yield info

    def prove_ownership(self, batch: BatchInfo, *, tag: str, metadata: dict[str, str]) -> bool | None:
        """Its name and token carry the job, the chunk and the batch number."""
        if batch.batch_id.startswith(ON_DEMAND_PREFIX):
            job_id, chunk_id, _ = parse_on_demand_batch_id(batch.batch_id)
            return (job_id, chunk_id) == (metadata.get("batchrelay_job"), metadata.get("batchrelay_chunk"))
        stem = name_stem(metadata["batchrelay_job"], metadata["batchrelay_chunk"])
        return batch.metadata.get("jobName", "").startswith(stem)

    def list_batches(self, *, created_after: float, page_size: int = 100) -> Iterator[BatchInfo]:
        """batchrelay's jobs, newest first, submitted after ``created_after`` (Bedrock filters)."""
        yield from self._list(
            submitTimeAfter=datetime.fromtimestamp(created_after, UTC),
            nameContains=JOB_NAME_PREFIX.rstrip("-"),
            sortBy="CreationTime",
            sortOrder="Descending",
            maxResults=max(1, min(LIST_PAGE_MAX, page_size)),
        )

    def _list(self, **params: Any) -> Iterator[BatchInfo]:
        while True:
            with translate_errors(self.name):
                page = self.control.list_model_invocation_jobs(**params)
            for summary in page.get("invocationJobSummaries") or []:
                yield self._info(summary)
            token = page.get("nextToken")
            if not token:
                return
            params["nextToken"] = token

    def retrieve_batch(self, batch_id: str) -> BatchInfo:
        if batch_id.startswith(ON_DEMAND_PREFIX):
            from batchrelay.providers.bedrock_on_demand import on_demand_info

            return on_demand_info(batch_id)
        with translate_errors(self.name):
            return self._info(self.control.get_model_invocation_job(jobIdentifier=batch_id))

    def cancel_batch(self, batch_id: str) -> BatchInfo:
        if batch_id.startswith(ON_DEMAND_PREFIX):
            return self.retrieve_batch(batch_id)   # a finished run: nothing to stop
        with translate_errors(self.name):
            self.control.stop_model_invocation_job(jobIdentifier=batch_id)
        return self.retrieve_batch(batch_id)

    @staticmethod
    def _info(job: dict[str, Any]) -> BatchInfo:
        status = str(job.get("status") or "Submitted")
        ended = status in ENDED
        errors: list[dict[str, Any]] = []
        if status == "Failed":
            errors = [{"code": "bedrock_job_failed", "message": job.get("message") or "the batch inference job failed"}]
        output = (job.get("outputDataConfig") or {}).get("s3OutputDataConfig") or {}
        source = (job.get("inputDataConfig") or {}).get("s3InputDataConfig") or {}
        return BatchInfo(
            batch_id=str(job["jobArn"]).rsplit("/", 1)[-1],
            provider_status=status,
            state="ended" if ended else "running",
            created_at=_epoch(job.get("submitTime")) or 0.0,
            end_reason=END_REASONS.get(status) if ended else None,  # type: ignore[arg-type]
            total=int(job.get("totalRecordCount") or 0),
            completed=int(job.get("processedRecordCount") or 0),
            failed=int(job.get("errorRecordCount") or 0),
            ended_at=_epoch(job.get("endTime")) if ended else None,
            metadata={"jobName": str(job.get("jobName") or ""),
                      "clientRequestToken": str(job.get("clientRequestToken") or "")},
            errors=errors,
            extra={"output_uri": output.get("s3Uri"), "input_uri": source.get("s3Uri"), "model_id": job.get("modelId")},
        )

    # ------------------------------------------------------------------ results
    def _output_location(self, batch: BatchInfo) -> tuple[str, str]:
        """(bucket, key prefix) of everything the batch wrote."""
        if batch.batch_id.startswith(ON_DEMAND_PREFIX):
            return get_settings().bucket_name or "", on_demand_prefix(batch.batch_id)
        if not batch.extra.get("output_uri"):
            batch = self.retrieve_batch(batch.batch_id)
        bucket, prefix = split_s3_uri(str(batch.extra["output_uri"]))
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return bucket, f"{prefix}{batch.batch_id}/"

    def raw_result_files(self, batch: BatchInfo) -> Iterator[RawFile]:
        """The output file (one per input file: ours is one), streamed from S3; none when the
        job wrote none (failed before any record ran)."""
        if batch.batch_id.startswith(ON_DEMAND_PREFIX):
            key = f"{on_demand_prefix(batch.batch_id)}provider.jsonl{OUTPUT_SUFFIX}"
            with translate_errors(self.name):
                found = s3_objects.head(key)
            if found is not None:
                yield RawFile(name="on_demand", blocks=s3_objects.object_blocks(key))
            return
        if not batch.extra.get("input_uri"):
            batch = self.retrieve_batch(batch.batch_id)
        bucket, prefix = self._output_location(batch)
        key = f"{prefix}{posixpath.basename(split_s3_uri(str(batch.extra['input_uri']))[1])}{OUTPUT_SUFFIX}"
        with translate_errors(self.name):
            found = s3_objects.head(key, bucket=bucket)
        if found is None:
            ran = processed_records(self.manifest(batch))
            if ran:
                # Records ran (and were paid); without their lines they would be retried
                # as unreported and paid again: wait for the output instead.
                raise ProviderError(
                    f"{self.name}: job {batch.batch_id} ran {ran} records (its {MANIFEST_NAME}) but its output "
                    f"{key} is not there; collecting again later", retryable=True, code="output_missing",
                )
            log.info("bedrock job %s (%s) wrote no output file", batch.batch_id, batch.provider_status)
            return
        yield RawFile(name="output", blocks=s3_objects.object_blocks(key, bucket=bucket))

    def manifest(self, batch: BatchInfo) -> dict[str, Any] | None:
        """The job's ``manifest.json.out`` (``totalRecordCount``, ``processedRecordCount``,
        ``successRecordCount``, ``errorRecordCount``, ``inputTokenCount``, ``outputTokenCount``),
        None until Bedrock has written one (a job that failed before running writes none)."""
        bucket, prefix = self._output_location(batch)
        with translate_errors(self.name):
            if s3_objects.head(prefix + MANIFEST_NAME, bucket=bucket) is None:
                return None
            manifest = s3_objects.get_json(prefix + MANIFEST_NAME, bucket=bucket)
        return manifest if isinstance(manifest, dict) else None

    def parse_result_line(self, file_name: str, line: bytes) -> ProviderResult:
        """One output line: ``modelOutput`` (succeeded) or ``error`` ({errorCode, errorMessage}).

        Raises ValueError when the line is not an output line.
        """
        data = loads_line(line)
        if not isinstance(data, dict) or not isinstance(data.get("recordId"), str):
            raise ValueError("not a Bedrock batch output line: no recordId")
        record_id = data["recordId"]
        tier = "on_demand" if file_name == "on_demand" else None
        output = data.get("modelOutput")
        if isinstance(output, dict) and "error" not in data:
            # The model is the chunk's (the output's own "model", where a model family
            # writes one, is not the Bedrock model id the prices are kept by).
            return ProviderResult(custom_id=record_id, outcome="succeeded", response=output,
                                  usage=normalize_usage(output), service_tier=tier)
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        raw_code = error.get("errorCode")
        status = int(raw_code) if isinstance(raw_code, int) or str(raw_code or "").isdigit() else 0
        message = str(error.get("errorMessage") or error.get("message") or "the model returned no output")
        return ProviderResult(
            custom_id=record_id,
            outcome="errored",
            error={"code": str(raw_code) if raw_code is not None else "bedrock_record_error", "message": message,
                   **({"status_code": status} if status else {})},
            retryable=status in RETRYABLE_STATUS or status >= 500,
            service_tier=tier,
        )

    def delete_files(self, batch: BatchInfo) -> list[str]:
        """Everything the batch wrote under its output prefix (output, manifest; an on-demand
        run's answers too): the collector kept the output under raw/ first."""
        if batch.state != "ended":
            batch = self.retrieve_batch(batch.batch_id)
            if batch.state != "ended":
                return []
        bucket, prefix = self._output_location(batch)
        deleted: list[str] = []
        with translate_errors(self.name):
            while True:
                keys = s3_objects.list_keys(prefix, bucket=bucket)
                if not keys:
                    return deleted
                s3_objects.delete_keys(keys, bucket=bucket)
                deleted += keys
