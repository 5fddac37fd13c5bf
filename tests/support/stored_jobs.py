"""Create jobs the way the API does (input in S3, job item queued, a `job` message) and read results."""

from __future__ import annotations

from typing import Any

import orjson

from batchrelay.aws import clients
from batchrelay.lifecycle.messages import send_job_message
from batchrelay.models.job import Job
from batchrelay.settings import get_settings
from batchrelay.store import job_store
from tests.support.jobs import make_job


def chat_requests(n: int, *, prefix: str = "req") -> list[dict[str, Any]]:
    return [
        {"custom_id": f"{prefix}-{i:05d}",
         "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {i}"}]}}
        for i in range(n)
    ]


def anthropic_requests(n: int, *, prefix: str = "req") -> list[dict[str, Any]]:
    return [
        {"custom_id": f"{prefix}-{i:05d}",
         "body": {"model": "claude-sonnet-4-5", "max_tokens": 64,
                  "messages": [{"role": "user", "content": f"question {i}"}]}}
        for i in range(n)
    ]


def submit_job(requests: list[dict[str, Any]], *, send: bool = True, **overrides: Any) -> Job:
    job = make_job(request_count=len(requests), **overrides)
    payload = b"".join(orjson.dumps(r) + b"\n" for r in requests)
    clients.s3().put_object(Bucket=get_settings().bucket_name, Key=job.input_key, Body=payload)
    job_store.create_job(job, idempotency_key=job.idempotency_key, request_hash="test" if job.idempotency_key else None)
    if send:
        send_job_message(job.job_id)
    return job


def read_lines(key: str) -> list[dict[str, Any]]:
    body = clients.s3().get_object(Bucket=get_settings().bucket_name, Key=key)["Body"].read()
    return [orjson.loads(line) for line in body.split(b"\n") if line]


def read_json(key: str) -> Any:
    return orjson.loads(clients.s3().get_object(Bucket=get_settings().bucket_name, Key=key)["Body"].read())


def read_bytes(key: str) -> bytes:
    return clients.s3().get_object(Bucket=get_settings().bucket_name, Key=key)["Body"].read()


def items_of_job(job_id: str) -> list[dict[str, Any]]:
    """Every table item of a job, wherever it is: its partition, its batch claims, its
    idempotency key (a scan: tests only)."""
    from batchrelay.store.table import from_dynamo, table

    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = table().scan(**kwargs)
        items += [from_dynamo(i) for i in page.get("Items", [])
                  if i["pk"] == f"JOB#{job_id}" or i.get("job_id") == job_id]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def objects_of_job(tenant_id: str, job_id: str) -> list[str]:
    """Every object key under the job's prefixes."""
    from batchrelay.aws.s3_keys import job_prefixes

    s3 = clients.s3()
    found: list[str] = []
    for prefix in job_prefixes(tenant_id, job_id).values():
        answer = s3.list_objects_v2(Bucket=get_settings().bucket_name, Prefix=prefix)
        found += [entry["Key"] for entry in answer.get("Contents", [])]
    return found
