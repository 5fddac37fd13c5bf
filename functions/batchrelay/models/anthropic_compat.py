"""The Anthropic surface's objects, as Anthropic's Message Batches API has them
(``client.messages.batches``): times are RFC 3339 strings, absent ones null."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from batchrelay import constants as c
from batchrelay.models.base import Model


class MessageBatchRequestIn(Model):
    model_config = ConfigDict(extra="forbid")

    custom_id: str = Field(min_length=1, max_length=c.MAX_CUSTOM_ID_LENGTH)
    params: dict[str, Any]


class CreateMessageBatchIn(Model):
    model_config = ConfigDict(extra="forbid")

    requests: list[MessageBatchRequestIn] = Field(min_length=1)


class MessageBatchRequestCounts(Model):
    processing: int
    succeeded: int
    errored: int
    canceled: int
    expired: int


class MessageBatch(Model):
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


class MessageBatchList(Model):
    data: list[MessageBatch]
    has_more: bool
    first_id: str | None
    last_id: str | None


class DeletedMessageBatch(Model):
    id: str
    type: Literal["message_batch_deleted"] = "message_batch_deleted"
