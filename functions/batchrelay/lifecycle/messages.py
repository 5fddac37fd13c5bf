"""Messages on the lifecycle's queues (at-least-once: every consumer is idempotent).

jobs:    {"kind": "job", "job_id"} | {"kind": "chunk", "job_id", "chunk_id"} | {"kind": "cancel", "job_id"}
collect: {"kind": "collect", "job_id", "chunk_id"} | {"kind": "finalize", "job_id"}
"""

from __future__ import annotations

from typing import Any

import orjson

from batchrelay.aws import clients
from batchrelay.settings import get_settings


def _send(queue_url: str, message: dict[str, Any]) -> None:
    clients.sqs().send_message(QueueUrl=queue_url, MessageBody=orjson.dumps(message).decode())


def send_chunk_message(job_id: str, chunk_id: str) -> None:
    _send(get_settings().jobs_queue_url, {"kind": "chunk", "job_id": job_id, "chunk_id": chunk_id})


def send_job_message(job_id: str) -> None:
    _send(get_settings().jobs_queue_url, {"kind": "job", "job_id": job_id})


def send_collect_message(job_id: str, chunk_id: str) -> None:
    _send(get_settings().collect_queue_url, {"kind": "collect", "job_id": job_id, "chunk_id": chunk_id})


def send_finalize_message(job_id: str) -> None:
    _send(get_settings().collect_queue_url, {"kind": "finalize", "job_id": job_id})


def send_cancel_message(job_id: str) -> None:
    _send(get_settings().jobs_queue_url, {"kind": "cancel", "job_id": job_id})
