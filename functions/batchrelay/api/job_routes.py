"""Job and upload routes."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from batchrelay.api.tenancy import tenant_id_of
from batchrelay.jobs import job_service, uploads
from batchrelay.models.api import (
    JOB_STATUS_DESCRIPTION,
    CompleteUploadRequest,
    CreateJobRequest,
    CreateUploadRequest,
    JobDeletionOut,
    JobList,
    JobOut,
    JobResults,
    UploadCompleteOut,
    UploadOut,
    UploadPartsOut,
    UploadPartsRequest,
)

router = Router()


def _tenant() -> str:
    return tenant_id_of(router.current_event.raw_event)


@router.post(
    "/v1/jobs",
    summary="Create a job",
    description="Inline requests are checked in the request (a 400 names the request and field) and the job is "
    "queued. A job from an upload is answered at once, validating: its lines are checked in the background, "
    "and a bad line ends it failed with the line and field in its error.",
    response_description="The job, queued or validating",
    tags=["jobs"],
)
def create_job(
    request: CreateJobRequest,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response[JobOut]:
    body_bytes = len((router.current_event.body or "").encode())
    job, replayed = job_service.create_job(_tenant(), request, idempotency_key=idempotency_key, body_bytes=body_bytes)
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    return Response(status_code=202, body=job, headers=headers, content_type="application/json")


@router.get("/v1/jobs", summary="List the tenant's jobs, newest first", tags=["jobs"])
def list_jobs(
    status: Annotated[str | None, Query(description=JOB_STATUS_DESCRIPTION)] = None,
    limit: Annotated[int, Query()] = 20,
    cursor: Annotated[str | None, Query()] = None,
) -> JobList:
    return job_service.list_jobs(_tenant(), status=status, limit=limit, cursor=cursor)


@router.get("/v1/jobs/<job_id>", summary="A job's status, counts, chunks, usage, cost and results", tags=["jobs"])
def get_job(job_id: str) -> JobOut:
    return job_service.get_job(_tenant(), job_id)


@router.delete(
    "/v1/jobs/<job_id>",
    summary="Delete a final job's data: input, chunk files, raw provider files, results, table items",
    description=(
        "200 with what was removed when everything is gone (a later GET is 404 and result links stop "
        "working); 202 when the rest goes on behind the queue (GET shows the progress, then 404). "
        "409 unless the job is final."
    ),
    tags=["jobs"],
)
def delete_job(job_id: str) -> Response[JobDeletionOut]:
    deletion, done = job_service.delete_job(_tenant(), job_id)
    return Response(status_code=200 if done else 202, body=deletion, content_type="application/json")


@router.post("/v1/jobs/<job_id>/cancel", summary="Cancel what has not finished", tags=["jobs"])
def cancel_job(job_id: str) -> Response[JobOut]:
    return Response(status_code=202, body=job_service.cancel_job(_tenant(), job_id), content_type="application/json")


@router.get("/v1/jobs/<job_id>/results", summary="Presigned URLs of results.jsonl and manifest.json", tags=["jobs"])
def get_results(job_id: str) -> JobResults:
    return job_service.job_results(_tenant(), job_id)


@router.post(
    "/v1/uploads",
    summary="Presigned URLs for a large JSONL input: one PUT, or parts with a size",
    tags=["uploads"],
)
def create_upload_url(request: CreateUploadRequest | None = None) -> Response[UploadOut]:
    return Response(status_code=201, body=uploads.create_upload(_tenant(), request), content_type="application/json")


@router.post("/v1/uploads/<upload_id>/parts", summary="Fresh URLs for parts of a multipart upload", tags=["uploads"])
def renew_part_urls(upload_id: str, request: UploadPartsRequest) -> UploadPartsOut:
    return uploads.renew_part_urls(_tenant(), upload_id, request.part_numbers)


@router.post("/v1/uploads/<upload_id>/complete", summary="Assemble a multipart upload's parts", tags=["uploads"])
def complete_upload(upload_id: str, request: CompleteUploadRequest) -> UploadCompleteOut:
    return uploads.complete_upload(_tenant(), upload_id, request)
