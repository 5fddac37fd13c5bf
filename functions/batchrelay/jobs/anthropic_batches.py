"""The Anthropic surface's Message Batches: a batch is a batchrelay job created from the
requests of one ``POST /v1/messages/batches`` (inline, as at Anthropic).

The job runs as any other (chunks within the provider's limits, retries as new batches,
results in S3, events, webhooks); ``GET /v1/jobs/{id}`` with the batch id shows all of it.
Here it is shown as Anthropic's MessageBatch (``batch_object``); its results are written in
Anthropic's result shape by the finalizer (lifecycle/surface_results.py) and served through
``results_url``.
"""

from __future__ import annotations

import re
from datetime import timedelta

from batchrelay import constants as c
from batchrelay.aws.s3_objects import presigned_get
from batchrelay.clock import iso, parse_iso
from batchrelay.errors import Conflict, NotFound, ValidationFailed
from batchrelay.jobs import job_service
from batchrelay.jobs.surfaces import choose_provider, rfc3339, surface_job
from batchrelay.models.anthropic_compat import (
    CreateMessageBatchIn,
    DeletedMessageBatch,
    MessageBatch,
    MessageBatchList,
    MessageBatchRequestCounts,
)
from batchrelay.models.api import CreateJobRequest, JobRequestItem
from batchrelay.models.job import Job, JobOrigin, JobStatus
from batchrelay.settings import get_settings
from batchrelay.store import job_store

DEFAULT_PROVIDER = "anthropic"
ENDPOINT = "/v1/messages"
# Anthropic's own window; a batchrelay job's provider batches each have theirs (retries run later).
WINDOW = timedelta(hours=24)
# What one request body can hold is the limit (API Gateway and Lambda), not a request count:
# batchrelay splits the batch into provider batches of the provider's size.
MAX_REQUESTS = 1_000_000


class NotEnded(Conflict):
    code = "batch_not_ended"


def results_path(batch_id: str) -> str:
    return f"{c.ANTHROPIC_PREFIX}/messages/batches/{batch_id}/results"


def _ended(job: Job) -> bool:
    return job.is_final


def batch_object(job: Job, *, base_url: str) -> MessageBatch:
    counts = job.counts
    if _ended(job):
        status = "ended"
    elif job.status == JobStatus.CANCELLING:
        status = "canceling"
    else:
        status = "in_progress"
    return MessageBatch(
        id=job.job_id,
        processing_status=status,  # type: ignore[arg-type]
        request_counts=MessageBatchRequestCounts(
            processing=max(0, job.request_count - counts.total),
            succeeded=counts.succeeded,
            errored=counts.errored,
            canceled=counts.cancelled,
            expired=counts.expired,
        ),
        ended_at=rfc3339(job.finished_at) if status == "ended" else None,
        created_at=rfc3339(job.created_at) or job.created_at,
        expires_at=iso(parse_iso(job.created_at) + WINDOW.total_seconds()),
        cancel_initiated_at=rfc3339(job.cancelling_at) if job.cancel_requested else None,
        results_url=f"{base_url}{results_path(job.job_id)}" if status == "ended" else None,
    )


def create_batch(
    tenant_id: str,
    request: CreateMessageBatchIn,
    *,
    provider_header: str | None,
    base_url: str,
    body_bytes: int,
    idempotency_key: str | None = None,
) -> MessageBatch:
    """A job from the requests; an ``Idempotency-Key`` (as on POST /v1/jobs) makes a repeat
    answer the batch the first request created."""
    provider = choose_provider("anthropic", default=DEFAULT_PROVIDER, header=provider_header)
    if len(request.requests) > MAX_REQUESTS:
        raise ValidationFailed(f"a batch here holds at most {MAX_REQUESTS:,} requests", field="requests")
    job_request = CreateJobRequest(
        provider=provider,
        endpoint=ENDPOINT,
        requests=[JobRequestItem(custom_id=r.custom_id, body=r.params) for r in request.requests],
    )
    try:
        created, _ = job_service.create_job(
            tenant_id, job_request, idempotency_key=idempotency_key, body_bytes=body_bytes,
            origin=JobOrigin(surface=c.ANTHROPIC_SURFACE), max_inline_requests=MAX_REQUESTS,
        )
    except ValidationFailed as bad:
        raise _in_params(bad) from bad
    return batch_object(job_store.get_job(created.id), base_url=base_url)


_BODY_FIELD = re.compile(r"^(requests\[\d+\]\.)body\b")


def _in_params(error: ValidationFailed) -> ValidationFailed:
    """An error about a request's body names it as this API does: ``requests[i].params``."""
    field = _BODY_FIELD.sub(r"\1params", error.field) if error.field else error.field
    message = error.message.replace("body.", "params.", 1) if error.message.startswith("body.") else error.message
    return ValidationFailed(message, field=field, line=error.line, code=error.code)


def _job(tenant_id: str, batch_id: str) -> Job:
    return surface_job(tenant_id, batch_id, c.ANTHROPIC_SURFACE, what="message batch")


def get_batch(tenant_id: str, batch_id: str, *, base_url: str) -> MessageBatch:
    return batch_object(_job(tenant_id, batch_id), base_url=base_url)


def list_batches(
    tenant_id: str, *, limit: int, before_id: str | None, after_id: str | None, base_url: str
) -> MessageBatchList:
    if not 1 <= limit <= 1000:
        raise ValidationFailed("limit must be between 1 and 1000", field="limit")
    if before_id and after_id:
        raise ValidationFailed("give before_id or after_id, not both", field="before_id")
    cursor = None
    if before_id or after_id:
        field = "before_id" if before_id else "after_id"
        try:
            cursor = _job(tenant_id, before_id or after_id or "")
        except NotFound as exc:
            raise ValidationFailed(f"{field}: no message batch {before_id or after_id} in this list",
                                   field=field) from exc
    jobs, has_more = job_store.list_surface_jobs(
        tenant_id, c.ANTHROPIC_SURFACE, limit=limit,
        after=cursor if after_id else None, before=cursor if before_id else None,
    )
    data = [batch_object(job, base_url=base_url) for job in jobs]
    return MessageBatchList(data=data, has_more=has_more, first_id=data[0].id if data else None,
                            last_id=data[-1].id if data else None)


def cancel_batch(tenant_id: str, batch_id: str, *, base_url: str) -> MessageBatch:
    """Cancel what has not finished; an ended batch is answered as it is."""
    job = _job(tenant_id, batch_id)
    if not _ended(job):
        try:
            job_service.cancel_job(tenant_id, job.job_id)
        except Conflict:
            pass   # it ended meanwhile: answer as it is now
    return batch_object(job_store.get_job(job.job_id), base_url=base_url)


def results_location(tenant_id: str, batch_id: str) -> str:
    """A presigned URL of the batch's results (the route redirects there: S3 streams them)."""
    job = _job(tenant_id, batch_id)
    results = job.surface_files.get("results")
    if not _ended(job) or results is None:
        raise NotFound(f"message batch {batch_id} has no results yet: they are ready once it has ended",
                       field="batch_id", code="results_not_ready")
    return presigned_get(results.key, get_settings().presign_expiry_seconds)


def delete_batch(tenant_id: str, batch_id: str) -> DeletedMessageBatch:
    """Only an ended batch, as at Anthropic. Its data goes as with DELETE /v1/jobs/{id}: all of
    it within the request for a small batch, the rest behind the queue; either way the batch is
    gone from this surface at once."""
    job = _job(tenant_id, batch_id)
    if not _ended(job):
        raise NotEnded(f"message batch {batch_id} is still processing; cancel it and wait until it has ended",
                       field="batch_id")
    job_service.delete_job(tenant_id, job.job_id)
    return DeletedMessageBatch(id=batch_id)
