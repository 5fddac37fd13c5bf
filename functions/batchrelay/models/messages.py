"""The messages on the queues: one pydantic model per kind, parsed once by each consumer.

Every queue is at-least-once, so every consumer is idempotent. The shapes are the wire
format: a deployed stack upgraded in place still holds messages of the previous version in
its queues and dead-letter queues, so a field is only ever added with a default, and
unknown fields are ignored (a newer message read by an older consumer during a rollout).

jobs:     {"kind": "job", "job_id"} | {"kind": "chunk", "job_id", "chunk_id"} | {"kind": "cancel", "job_id"} |
          {"kind": "validate", "job_id"}
collect:  {"kind": "collect", "job_id", "chunk_id"} | {"kind": "finalize", "job_id"} |
          {"kind": "cleanup", "job_id", "chunk_id"} | {"kind": "expire", "job_id", "after"} |
          {"kind": "delete", "job_id"}
webhooks: the job event itself (from SNS, raw delivery; models.events.JobEvent) |
          {"kind": "delivery", "job_id", "event_id", "endpoint_id", "attempt", "not_before"}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, TypeAdapter

from batchrelay.models.base import Model


class QueueMessage(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PlanJob(QueueMessage):
    """Plan a job's chunks (the API queues it; the poller re-sends it for a stalled job)."""

    kind: Literal["job"] = "job"
    job_id: str


class ValidateJobInput(QueueMessage):
    """Take the next step of validating a job's uploaded input (lifecycle.input_validation).

    The job item holds the progress: any delivery, repeated or late, resumes from there."""

    kind: Literal["validate"] = "validate"
    job_id: str


class CreateChunkBatch(QueueMessage):
    """Make sure one chunk has its provider batch (created at most once)."""

    kind: Literal["chunk"] = "chunk"
    job_id: str
    chunk_id: str


class CancelJob(QueueMessage):
    """Cancel what has not finished of a job."""

    kind: Literal["cancel"] = "cancel"
    job_id: str


class CollectChunk(QueueMessage):
    """Turn an ended chunk into its result part (and its retry chunk)."""

    kind: Literal["collect"] = "collect"
    job_id: str
    chunk_id: str


class FinalizeJob(QueueMessage):
    """Write the job's results and manifest, set its final status, publish its event."""

    kind: Literal["finalize"] = "finalize"
    job_id: str


class CleanUpChunkFiles(QueueMessage):
    """Delete the files the provider keeps for a collected chunk's batches (a retry)."""

    kind: Literal["cleanup"] = "cleanup"
    job_id: str
    chunk_id: str


class ExpireJobItems(QueueMessage):
    """Give a final job's items their TTL, one bounded page after ``after`` (a sort key)."""

    kind: Literal["expire"] = "expire"
    job_id: str
    after: str | None = None


class DeleteJobData(QueueMessage):
    """Go on deleting a job's data (DELETE /v1/jobs/{id}), one bounded step per message."""

    kind: Literal["delete"] = "delete"
    job_id: str


class DeliverWebhook(QueueMessage):
    """One attempt of one (event, endpoint) delivery, not before ``not_before``."""

    kind: Literal["delivery"] = "delivery"
    job_id: str
    event_id: str
    endpoint_id: str
    attempt: int
    not_before: float  # epoch seconds


JobsQueueMessage = Annotated[PlanJob | CreateChunkBatch | CancelJob | ValidateJobInput, Field(discriminator="kind")]
CollectQueueMessage = Annotated[
    CollectChunk | FinalizeJob | CleanUpChunkFiles | ExpireJobItems | DeleteJobData, Field(discriminator="kind")
]

JOBS_QUEUE_MESSAGE: TypeAdapter[JobsQueueMessage] = TypeAdapter(JobsQueueMessage)
COLLECT_QUEUE_MESSAGE: TypeAdapter[CollectQueueMessage] = TypeAdapter(CollectQueueMessage)
