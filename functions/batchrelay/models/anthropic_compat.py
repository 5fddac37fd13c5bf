"""The Anthropic surface's objects, as Anthropic's Message Batches API has them
(``client.messages.batches``): times are RFC 3339 strings, absent ones null."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from batchrelay import constants as c


class MessageBatchRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    custom_id: str = Field(min_length=1, max_length=c.MAX_CUSTOM_ID_LENGTH)
    params: dict[str, Any]


class CreateMessageBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests: list[MessageBatchRequestIn] = Field(min_length=1)


class MessageBatchRequestCounts(BaseModel):
    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int


class MessageBatch(BaseModel):
    id: str
    type: Literal["message_batch"] = "message_batch"
    processing_status: Literal["in_progress", "canceling", "ended"]
    request_counts: MessageBatchRequestCounts
    ended_at: str | None = None
    created_at: str
    expires_at: str
    archived_at: str | None = None
    cancel_initiated_at: str | None = None
    results_url: str | None = None


class MessageBatchList(BaseModel):
    data: list[MessageBatch]
    has_more: bool
    first_id: str | None
    last_id: str | None


class DeletedMessageBatch(BaseModel):
    id: str
    type: Literal["message_batch_deleted"] = "message_batch_deleted"
