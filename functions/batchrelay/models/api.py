"""Request and response bodies of the HTTP API (the OpenAPI description is generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from batchrelay import constants as c
from batchrelay import registry
from batchrelay.models.base import Model
from batchrelay.models.job import JobStatus

JOB_STATUS_DESCRIPTION = (
    "validating (created from an upload: its input is checked in the background) or queued (inline) -> "
    "submitting -> in_progress -> finalizing -> completed, completed_with_errors, failed, cancelled or expired; "
    "cancelling between a cancel and the end of what it cancels. A job whose upload fails validation ends "
    "failed, with the line and field in error, having run nothing."
)
JOB_STATUSES = [status.value for status in JobStatus]


class JobRequestItem(Model):
    """One request of a job: the user's id and the body in the provider's own format."""

    model_config = ConfigDict(extra="forbid")

    custom_id: str = Field(min_length=1, max_length=c.MAX_CUSTOM_ID_LENGTH)
    body: dict[str, Any]


class CreateJobRequest(Model):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(
        description="A registered provider",
        # The registry is read when the schema is made, so a provider registered later shows.
        json_schema_extra=lambda schema: schema.update(enum=list(registry.names())),
    )
    endpoint: str = Field(description="one of the provider's batch endpoints: OpenAI endpoint paths, /v1/messages for "
                          "Anthropic, generateContent or embedContent for Gemini")
    requests: list[JobRequestItem] | None = Field(
        default=None,
        description=(
            "Inline requests (at most 10,000 and 9 MB; each at most 1 MiB as JSON, bodies nested at most "
            f"{c.MAX_BODY_DEPTH} levels, integers within 64 bits, at most {c.MAX_MODELS_PER_JOB} distinct models); "
            "use upload_id beyond that"
        ),
    )
    upload_id: str | None = Field(
        default=None,
        description=(
            f"An upload from POST /v1/uploads (JSONL, at most {c.MAX_UPLOAD_BYTES:,} bytes and "
            f"{c.MAX_JOB_REQUESTS:,} requests). The job is created at once, status validating; its lines are "
            "checked in the background"
        ),
    )
    webhook_url: str | None = Field(default=None, max_length=2048)
    metadata: dict[str, str] = Field(default_factory=dict, description="At most 16 pairs, keys ≤64, values ≤512 chars")
    chunk_size: int | None = Field(
        default=None,
        ge=1,
        le=c.MAX_CHUNK_SIZE,
        strict=True,
        description=(
            f"Requests per provider batch (default {c.DEFAULT_CHUNK_SIZE:,}, never more than the provider's own "
            f"limit). At least {c.MIN_CHUNK_SIZE}, or the job's request count when that is smaller. Providers "
            "that take one model per batch (OpenAI) get one batch per model per chunk."
        ),
    )
    max_attempts: int | None = Field(default=None, ge=1, le=c.MAX_ATTEMPTS_LIMIT, strict=True)
    completion_window: str | None = Field(
        default=None,
        max_length=8,
        description=(
            "The window its provider batches run in, for providers that offer a choice (Groq: 24h to 7d, written "
            "like 48h or 7d); others run in their one window and refuse the field"
        ),
    )
    max_batch_age_seconds: int | None = Field(
        default=None,
        ge=c.MIN_BATCH_AGE_SECONDS,
        le=c.MAX_BATCH_AGE_SECONDS,
        strict=True,
        description=(
            "A provider batch of the job still running this long after its creation is cancelled and handled as "
            "expired: its finished results are kept, the rest retried in a new batch while attempts remain. "
            "Default: the provider's setting for providers that never expire batches themselves (Azure OpenAI: "
            "24 hours), none for the others (their own window decides)"
        ),
    )
    timeout_hours: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description=(
            "How long the provider may run each batch before it ends it (timed out: what finished is kept, the "
            "rest goes to a new batch). Only for providers with such a setting: "
            + "; ".join(f"{s.title} {s.timeout_hours.minimum} to {s.timeout_hours.maximum} hours, default "
                        f"{s.timeout_hours.default}" for s in registry.specs() if s.timeout_hours)
        ),
    )


class CountsOut(Model):
    total: int
    succeeded: int
    errored: int
    expired: int
    cancelled: int
    pending: int


class ChunkOut(Model):
    id: str
    status: str
    attempt: int
    request_count: int
    model: str | None = Field(default=None, description="The chunk's one model, where the provider needs one per batch")
    batch_id: str | None
    provider_status: str | None
    completed: int
    failed: int


class PendingBatchesOut(Model):
    """Batches a provider accepted but has not started running (queued at the provider)."""

    provider: str
    batches: int = Field(description="how many of the job's batches the provider has not started yet")
    oldest_pending_since: str = Field(description="when the oldest of them was created at the provider")
    oldest_pending_age_s: int = Field(description="how long, in seconds, the oldest has waited so far")


class ModelCountOut(Model):
    model: str
    request_count: int


class UsageOut(Model):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class CostOut(Model):
    currency: Literal["USD"] = "USD"
    batch: str = Field(description="what the job cost: batch prices (requests run on demand at the synchronous price)")
    synchronous: str = Field(description="what the same work would have cost through the synchronous API")
    saved: str
    on_demand: str | None = Field(
        default=None,
        description="the part of `batch` paid at the synchronous price for requests run on demand (Amazon "
                    "Bedrock: below its per-job record minimum, with nothing left to gather them with); null "
                    "when none were",
    )


class ResultLinks(Model):
    results_url: str
    manifest_url: str
    expires_at: str


class ValidationOut(Model):
    """How far the background validation of a job's upload has come."""

    size_bytes: int = Field(description="the upload's size")
    checked_bytes: int = Field(description="bytes of it checked so far")
    checked_requests: int = Field(description="requests checked so far")
    done: bool = Field(description="every line checked and accepted")
class DeletionCountsOut(Model):
    """Removed per kind: objects under each of the job's prefixes, provider files, table items."""

    inputs: int = Field(description="objects under inputs/<tenant>/<job>/")
    chunk_files: int = Field(description="objects under chunks/<job>/ (each chunk's input)")
    raw_files: int = Field(description="objects under raw/<job>/ (the providers' result files, as received)")
    results: int = Field(description="objects under results/<job>/ (results, manifest, parts)")
    provider_files: int = Field(description="files the provider still kept for the job's batches")
    table_items: int = Field(description="the job, its chunks, deliveries, batch claims and idempotency key")


class DeletionProgressOut(Model):
    requested_at: str
    removed: DeletionCountsOut


class DeletionPlanOut(Model):
    """What a deletion still has to remove."""

    table_items: int
    chunks: int
    deliveries: int
    batch_claims: int
    prefixes: list[str] = Field(description="every object under these prefixes is deleted")


class JobDeletionOut(Model):
    id: str
    object: Literal["job.deletion"] = "job.deletion"
    status: Literal["deleted", "deleting"] = Field(
        description="deleted: nothing of the job is left (GET is 404); deleting: it goes on behind the queue"
    )
    requested_at: str
    removed: DeletionCountsOut = Field(description="what was removed so far (all of it when deleted)")
    to_remove: DeletionPlanOut | None = Field(
        default=None, description="while deleting: what is left (GET /v1/jobs/{id} shows the progress)"
    )


class JobOut(Model):
    id: str
    object: Literal["job"] = "job"
    status: str = Field(description=JOB_STATUS_DESCRIPTION, json_schema_extra={"enum": JOB_STATUSES})
    provider: str
    endpoint: str
    request_count: int
    created_at: str
    updated_at: str
    finished_at: str | None
    metadata: dict[str, str]
    webhook_url: str | None
    completion_window: str | None = Field(
        default=None, description="the window of its provider batches, where the provider offers a choice"
    )
    max_batch_age_seconds: int | None = Field(
        default=None, description="how long one of its batches may run before it is cancelled and handled as expired"
    )
    timeout_hours: int | None = Field(
        default=None, description="hours the provider may run each batch (providers with such a setting)"
    )
    counts: CountsOut
    models: list[ModelCountOut] = Field(
        default_factory=list,
        description=f"Requests per body.model (at most {c.MAX_MODELS_PER_JOB} models per job), by model name",
    )
    progress: float
    chunks: list[ChunkOut] | None = None
    pending_batches: list[PendingBatchesOut] | None = Field(
        default=None,
        description="with the chunks: per provider, batches accepted but not started yet, and how long the oldest "
                    "has waited (a provider may keep a batch pending for hours)",
    )
    usage: UsageOut
    cost: CostOut | None
    results: ResultLinks | None = None
    error: dict[str, Any] | None = Field(
        default=None, description="why the job failed without running: code, message, field and line"
    )
    validation: ValidationOut | None = Field(default=None, description="jobs created from an upload")
    expires_at: str | None = Field(
        default=None, description="once final: when the job and its data expire (final time + retention)"
    )
    deletion: DeletionProgressOut | None = Field(default=None, description="while deleting: the progress")
    status_detail: dict[str, Any] | None = Field(
        default=None, description="what holds the job up while it does, e.g. a provider refusing the API key"
    )


class JobList(Model):
    data: list[JobOut]
    next_cursor: str | None


class CreateUploadRequest(Model):
    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(default=None, max_length=256)
    size: int | None = Field(
        default=None,
        ge=1,
        strict=True,
        description=(
            f"The file's size in bytes, at most {c.MAX_UPLOAD_BYTES:,}: asks for a multipart upload (a URL per "
            "part, then POST /v1/uploads/{upload_id}/complete). Without it: one presigned PUT, at most "
            f"{min(c.S3_MAX_PUT_BYTES, c.MAX_UPLOAD_BYTES):,} bytes"
        ),
    )
    part_size: int | None = Field(
        default=None,
        ge=c.S3_MIN_PART_BYTES,
        le=c.S3_MAX_PART_BYTES,
        strict=True,
        description=(
            f"Bytes per part of a multipart upload (default {c.DEFAULT_UPLOAD_PART_BYTES:,}; raised where "
            f"{c.S3_MAX_PARTS:,} parts would not hold the file). Every part but the last has exactly this size"
        ),
    )


class UploadPartOut(Model):
    part_number: int
    url: str = Field(description="PUT the part's bytes here; keep the ETag header of the answer")


class UploadOut(Model):
    upload_id: str
    method: Literal["PUT", "multipart"] = Field(
        default="PUT", description="PUT: send the file to url; multipart: send each part to its url, then complete"
    )
    url: str | None = Field(default=None, description="PUT: the presigned URL for the whole file")
    headers: dict[str, str] = Field(description="headers to send with the PUT")
    expires_at: str = Field(description="when the URLs expire (POST /v1/uploads/{upload_id}/parts renews part URLs)")
    max_bytes: int
    size: int | None = Field(default=None, description="multipart: the size announced")
    part_size: int | None = Field(default=None, description="multipart: bytes per part (the last may be shorter)")
    parts: list[UploadPartOut] | None = None
    complete_path: str | None = Field(
        default=None, description="multipart: POST the parts' ETags here (a path under the API's base URL)"
    )


class UploadPartsRequest(Model):
    model_config = ConfigDict(extra="forbid")

    part_numbers: list[int] = Field(min_length=1, max_length=c.S3_MAX_PARTS)


class UploadPartsOut(Model):
    upload_id: str
    parts: list[UploadPartOut]
    expires_at: str


class CompletedPart(Model):
    model_config = ConfigDict(extra="forbid")

    part_number: int = Field(ge=1, le=c.S3_MAX_PARTS, strict=True)
    etag: str = Field(min_length=1, max_length=256, description="the ETag header S3 answered the part's PUT with")


class CompleteUploadRequest(Model):
    model_config = ConfigDict(extra="forbid")

    parts: list[CompletedPart] = Field(min_length=1, max_length=c.S3_MAX_PARTS, description="every part, in order")


class UploadCompleteOut(Model):
    upload_id: str
    status: Literal["complete"] = "complete"


class JobResults(Model):
    job_id: str
    status: str
    results_url: str
    manifest_url: str
    expires_at: str


class ErrorBody(Model):
    code: str
    message: str
    field: str | None = None
    line: int | None = None


class ErrorOut(Model):
    error: ErrorBody


class Health(Model):
    status: Literal["ok"] = "ok"
    version: str
