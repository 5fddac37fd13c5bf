"""Messages the API puts on the `jobs` queue for the submitter."""

from __future__ import annotations

import orjson

from batchrelay.aws import clients
from batchrelay.settings import get_settings


def send_to_jobs_queue(kind: str, job_id: str) -> None:
    """{"kind": "job"|"cancel", "job_id"}: the submitter's consumers are idempotent per kind."""
    clients.sqs().send_message(
        QueueUrl=get_settings().jobs_queue_url,
        MessageBody=orjson.dumps({"kind": kind, "job_id": job_id}).decode(),
    )
