"""Uploads in tests: send a file the way a client does (in-process moto), create a job from
it, and run its background validation to the end without the rest of the lifecycle."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3

from batchrelay.models.job import Job, JobStatus
from batchrelay.store import job_store
from tests.support.api_client import ApiAnswer, ApiClient


def jsonl(lines: list[Any]) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)


def _key_of(url: str, bucket: str) -> str:
    return urlparse(url).path.split(f"/{bucket}/", 1)[1]


def put_upload(bucket: str, url: str, payload: bytes) -> None:
    """What a client's PUT to the presigned URL does: in-process moto stores the same object."""
    boto3.client("s3").put_object(Bucket=bucket, Key=_key_of(url, bucket), Body=payload)


def put_parts(bucket: str, upload: dict[str, Any], payload: bytes) -> list[dict[str, Any]]:
    """What a client does with a multipart upload's part URLs; returns the parts to complete."""
    s3 = boto3.client("s3")
    size = upload["part_size"]
    parts = []
    for part in upload["parts"]:
        query = parse_qs(urlparse(part["url"]).query)
        number = part["part_number"]
        etag = s3.upload_part(
            Bucket=bucket, Key=_key_of(part["url"], bucket), UploadId=query["uploadId"][0], PartNumber=number,
            Body=payload[(number - 1) * size : number * size],
        )["ETag"]
        parts.append({"part_number": number, "etag": etag})
    return parts


def upload_job(api: ApiClient, aws: dict[str, str], payload: bytes, **extra: Any) -> ApiAnswer:
    """POST /v1/uploads, PUT the file, POST /v1/jobs with the upload_id."""
    upload = api.call("POST", "/v1/uploads", {})
    assert upload.status == 201, upload.body
    put_upload(aws["BUCKET_NAME"], upload.body["url"], payload)
    body = {"provider": "openai", "endpoint": "/v1/chat/completions", "upload_id": upload.body["upload_id"], **extra}
    return api.call("POST", "/v1/jobs", body)


def run_validation(job_id: str, *, max_steps: int = 10_000) -> Job:
    """Take validation steps (as the `validate` messages would) until the job leaves validating."""
    from batchrelay.lifecycle.input_validation import validate_input

    for _ in range(max_steps):
        job = job_store.get_job(job_id)
        if job.status != JobStatus.VALIDATING:
            return job
        validate_input(job_id)
    raise AssertionError(f"job {job_id} still validating after {max_steps} steps")


def validated(answer: ApiAnswer) -> Job:
    """The job a create answered, once its validation ended."""
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "validating", answer.body
    return run_validation(answer.body["id"])
