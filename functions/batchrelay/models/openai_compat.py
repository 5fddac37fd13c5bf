"""The OpenAI surface's objects, as OpenAI's published API description has them
(Files, Uploads, Batches; ``docs/`` and the shared copy of openai-openapi.yaml).

Optional fields are always present, null when unknown, as in OpenAI's own answers. Requests
refuse unknown fields, as OpenAI does.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from batchrelay.models.base import Model

BatchStatus = Literal[
    "validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"
]
FilePurpose = Literal["batch", "batch_output"]


class ExpiresAfter(Model):
    model_config = ConfigDict(extra="forbid")

    anchor: Literal["created_at"]
    seconds: int = Field(ge=3600, le=2_592_000, strict=True)


# --- files ---


class OpenAIFile(Model):
    id: str
    object: Literal["file"] = "file"
    bytes: int
    created_at: int
    expires_at: int | None
    filename: str
    purpose: FilePurpose
    status: Literal["uploaded", "processed", "error"] = "processed"
    status_details: str | None = None


class OpenAIFileList(Model):
    object: Literal["list"] = "list"
    data: list[OpenAIFile]
    first_id: str | None
    last_id: str | None
    has_more: bool


class OpenAIFileDeleted(Model):
    id: str
    object: Literal["file"] = "file"
    deleted: bool = True


# --- uploads ---


class CreateUploadIn(Model):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=256)
    purpose: str
    bytes: int = Field(ge=1, strict=True)
    mime_type: str
    expires_after: ExpiresAfter | None = None


class CompleteUploadIn(Model):
    model_config = ConfigDict(extra="forbid")

    part_ids: list[str] = Field(min_length=1)
    md5: str | None = None


class OpenAIUpload(Model):
    id: str
    object: Literal["upload"] = "upload"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    status: Literal["pending", "completed", "cancelled", "expired"]
    expires_at: int
    file: OpenAIFile | None = None


class OpenAIUploadPart(Model):
    id: str
    object: Literal["upload.part"] = "upload.part"
    created_at: int
    upload_id: str


# --- batches ---


class CreateBatchIn(Model):
    model_config = ConfigDict(extra="forbid")

    input_file_id: str = Field(min_length=1)
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None = None
    output_expires_after: ExpiresAfter | None = None


class BatchError(Model):
    code: str | None
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(Model):
    object: Literal["list"] = "list"
    data: list[BatchError]


class BatchRequestCounts(Model):
    total: int
    completed: int
    failed: int


class InputTokensDetails(Model):
    cached_tokens: int = 0


class OutputTokensDetails(Model):
    reasoning_tokens: int = 0


class BatchUsage(Model):
    input_tokens: int
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int


class OpenAIBatch(Model):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    model: str | None = None
    errors: BatchErrors | None = None
    input_file_id: str
    completion_window: str = "24h"
    status: BatchStatus
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: BatchRequestCounts
    usage: BatchUsage | None = None
    metadata: dict[str, str] | None = None


class OpenAIBatchList(Model):
    object: Literal["list"] = "list"
    data: list[OpenAIBatch]
    first_id: str | None
    last_id: str | None
    has_more: bool
