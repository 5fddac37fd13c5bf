"""Sending the lifecycle's queue messages (their models: ``models.messages``)."""

from __future__ import annotations

from batchrelay.aws import clients
from batchrelay.models.messages import (
    CancelJob,
    CleanUpChunkFiles,
    CollectChunk,
    CreateChunkBatch,
    DeleteJobData,
    ExpireJobItems,
    FinalizeJob,
    PlanJob,
    QueueMessage,
    ValidateJobInput,
)
from batchrelay.settings import get_settings


def _send(queue_url: str | None, message: QueueMessage) -> None:
    clients.sqs().send_message(QueueUrl=queue_url, MessageBody=message.model_dump_json())


def send_chunk_message(job_id: str, chunk_id: str) -> None:
    _send(get_settings().jobs_queue_url, CreateChunkBatch(job_id=job_id, chunk_id=chunk_id))


def send_job_message(job_id: str) -> None:
    _send(get_settings().jobs_queue_url, PlanJob(job_id=job_id))


def send_validate_message(job_id: str) -> None:
    _send(get_settings().jobs_queue_url, ValidateJobInput(job_id=job_id))


def send_collect_message(job_id: str, chunk_id: str) -> None:
    _send(get_settings().collect_queue_url, CollectChunk(job_id=job_id, chunk_id=chunk_id))


def send_finalize_message(job_id: str) -> None:
    _send(get_settings().collect_queue_url, FinalizeJob(job_id=job_id))


def send_cancel_message(job_id: str) -> None:
    _send(get_settings().jobs_queue_url, CancelJob(job_id=job_id))


def send_cleanup_message(job_id: str, chunk_id: str) -> None:
    _send(get_settings().collect_queue_url, CleanUpChunkFiles(job_id=job_id, chunk_id=chunk_id))


def send_expire_message(job_id: str, *, after: str | None = None) -> None:
    _send(get_settings().collect_queue_url, ExpireJobItems(job_id=job_id, after=after))


def send_delete_message(job_id: str) -> None:
    _send(get_settings().collect_queue_url, DeleteJobData(job_id=job_id))
