"""Request and response bodies of the HTTP API (the OpenAPI description is generated from them)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchrelay import constants as c
from batchrelay import registry


class JobRequestItem(BaseModel):
    """One request of a job: the user's id and the body in the provider's own format."""

    model_config = ConfigDict(extra="forbid")

    custom_id: str = Field(min_length=1, max_length=c.MAX_CUSTOM_ID_LENGTH)
    body: dict[str, Any]


class CreateJobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: str = Field(
        description="A registered provider",
        # The registry is read when the schema is made, so a provider registered later shows.
        json_schema_extra=lambda schema: schema.update(enum=list(registry.names())),
    )
    endpoint: str = Field(description="OpenAI endpoint path, or /v1/messages for Anthropic")
    requests: list[JobRequestItem] | None = Field(
        default=None,
        description=(
            "Inline requests (at most 10,000 and 9 MB; each at most 1 MiB as JSON, bodies nested at most "
            f"{c.MAX_BODY_DEPTH} levels, integers within 64 bits, at most {c.MAX_MODELS_PER_JOB} distinct models); "
            "use upload_id beyond that"
        ),
    )
    upload_id: str | None = Field(default=None, description="An upload from POST /v1/uploads (JSONL)")
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


class CountsOut(BaseModel):
    total: int
    succeeded: int
    errored: int
    expired: int
    cancelled: int
    pending: int


class ChunkOut(BaseModel):
    id: str
    status: str
    attempt: int
    request_count: int
    model: str | None = Field(default=None, description="The chunk's one model, where the provider needs one per batch")
    batch_id: str | None
    provider_status: str | None
    completed: int
    failed: int


class ModelCountOut(BaseModel):
    model: str
    request_count: int


class UsageOut(BaseModel):
    input_tokens: int
    output_tokens: int
    total_tokens: int


class CostOut(BaseModel):
    currency: Literal["USD"] = "USD"
    batch: str
    synchronous: str
    saved: str


class ResultLinks(BaseModel):
    results_url: str
    manifest_url: str
    expires_at: str


class DeletionCountsOut(BaseModel):
    """Removed per kind: objects under each of the job's prefixes, provider files, table items."""

    inputs: int = Field(description="objects under inputs/<tenant>/<job>/")
    chunk_files: int = Field(description="objects under chunks/<job>/ (each chunk's input)")
    raw_files: int = Field(description="objects under raw/<job>/ (the providers' result files, as received)")
    results: int = Field(description="objects under results/<job>/ (results, manifest, parts)")
    provider_files: int = Field(description="files the provider still kept for the job's batches")
    table_items: int = Field(description="the job, its chunks, deliveries, batch claims and idempotency key")


class DeletionProgressOut(BaseModel):
    requested_at: str
    removed: DeletionCountsOut


class DeletionPlanOut(BaseModel):
    """What a deletion still has to remove."""

    table_items: int
    chunks: int
    deliveries: int
    batch_claims: int
    prefixes: list[str] = Field(description="every object under these prefixes is deleted")


class JobDeletionOut(BaseModel):
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


class JobOut(BaseModel):
    id: str
    object: Literal["job"] = "job"
    status: str
    provider: str
    endpoint: str
    request_count: int
    created_at: str
    updated_at: str
    finished_at: str | None
    metadata: dict[str, str]
    webhook_url: str | None
    counts: CountsOut
    models: list[ModelCountOut] = Field(
        default_factory=list,
        description=f"Requests per body.model (at most {c.MAX_MODELS_PER_JOB} models per job), by model name",
    )
    progress: float
    chunks: list[ChunkOut] | None = None
    usage: UsageOut
    cost: CostOut | None
    results: ResultLinks | None = None
    error: dict[str, Any] | None = None
    expires_at: str | None = Field(
        default=None, description="once final: when the job and its data expire (final time + retention)"
    )
    deletion: DeletionProgressOut | None = Field(default=None, description="while deleting: the progress")


class JobList(BaseModel):
    data: list[JobOut]
    next_cursor: str | None


class CreateUploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str | None = Field(default=None, max_length=256)


class UploadOut(BaseModel):
    upload_id: str
    url: str
    method: Literal["PUT"] = "PUT"
    headers: dict[str, str]
    expires_at: str
    max_bytes: int


class JobResults(BaseModel):
    job_id: str
    status: str
    results_url: str
    manifest_url: str
    expires_at: str


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None
    line: int | None = None


class ErrorOut(BaseModel):
    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
