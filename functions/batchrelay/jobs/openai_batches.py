"""The OpenAI surface's Batches: a batch is a batchrelay job created from an OpenAI file.

The job runs as any other (chunks, retries as new batches, results in S3, events, webhooks);
``GET /v1/jobs/{id}`` with the batch id shows all of it. Here it is shown as OpenAI's Batch
object (``batch_object``). Its output and error files are written by the finalizer
(lifecycle/surface_results.py); the batch names them once it is final.
"""

from __future__ import annotations

from batchrelay import constants as c
from batchrelay.errors import Conflict, NotFound, ValidationFailed
from batchrelay.jobs import job_service
from batchrelay.jobs.surfaces import choose_provider, epoch, surface_job
from batchrelay.models.api import CreateJobRequest
from batchrelay.models.job import Job, JobOrigin
from batchrelay.models.openai_compat import (
    BatchError,
    BatchErrors,
    BatchRequestCounts,
    BatchUsage,
    CreateBatchIn,
    OpenAIBatch,
    OpenAIBatchList,
)
from batchrelay.store import file_store, job_store

DEFAULT_PROVIDER = "openai"
# A job's status as an OpenAI batch status (queued and submitting: validated, being sent).
_STATUS = {
    "validating": "validating",
    "queued": "in_progress",
    "submitting": "in_progress",
    "in_progress": "in_progress",
    "cancelling": "cancelling",
    "finalizing": "finalizing",
    "completed": "completed",
    "completed_with_errors": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "expired": "expired",
}
_FINISHED_AT = {"completed": "completed_at", "failed": "failed_at", "expired": "expired_at",
                "cancelled": "cancelled_at"}


def _status(job: Job) -> str:
    # A job "fails" when no request succeeded; at OpenAI a batch whose requests all failed has
    # still completed (its error file says why). Failed means it never ran: its file did not
    # pass validation (errors.data), or it has no results at all.
    if job.status == "failed" and job.results_key:
        return "completed"
    return _STATUS.get(str(job.status), "in_progress")


def batch_object(job: Job) -> OpenAIBatch:
    status = _status(job)
    finished = {_FINISHED_AT[status]: epoch(job.finished_at)} if status in _FINISHED_AT and job.is_final else {}
    counts = job.counts
    files = job.surface_files if job.is_final else {}
    output, errors = files.get("output"), files.get("errors")
    usage = job.usage
    return OpenAIBatch(
        id=job.job_id,
        endpoint=job.endpoint,
        model=next(iter(job.models)) if len(job.models) == 1 else None,
        errors=_errors(job),
        input_file_id=job.input_file_id or "",
        status=status,  # type: ignore[arg-type]
        output_file_id=output.file_id if output else None,
        error_file_id=errors.file_id if errors else None,
        created_at=epoch(job.created_at) or 0,
        # Its input accepted, it is being sent: in progress, as OpenAI counts it.
        in_progress_at=epoch(job.submitting_at or job.in_progress_at),
        finalizing_at=epoch(job.finalizing_at),
        cancelling_at=epoch(job.cancelling_at),
        request_counts=BatchRequestCounts(
            total=job.request_count,
            completed=counts.succeeded,
            failed=counts.errored + counts.expired + counts.cancelled,
        ),
        usage=BatchUsage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
                         total_tokens=usage.total_tokens) if usage.total_tokens or job.is_final else None,
        metadata=job.metadata or None,
        **finished,
    )


def _errors(job: Job) -> BatchErrors | None:
    """Why the batch failed before running (its file did not pass validation: the line and field)."""
    if not job.error:
        return None
    error = job.error
    return BatchErrors(data=[BatchError(code=error.get("code"), message=str(error.get("message") or "failed"),
                                        param=error.get("field"), line=error.get("line"))])


def create_batch(
    tenant_id: str, request: CreateBatchIn, *, provider_header: str | None, idempotency_key: str | None = None
) -> OpenAIBatch:
    """A job from the file; an ``Idempotency-Key`` (as on POST /v1/jobs) makes a repeat answer
    the batch the first request created."""
    if request.completion_window != "24h":
        raise ValidationFailed("completion_window must be '24h'", field="completion_window", code="invalid_value")
    metadata = request.metadata or {}
    provider = choose_provider("openai", default=DEFAULT_PROVIDER, header=provider_header, metadata=metadata)
    file = file_store.get_file(tenant_id, request.input_file_id)
    if file is None:
        raise NotFound(f"No such File object: {request.input_file_id}", field="input_file_id")
    if file.purpose != "batch":
        raise ValidationFailed(
            f"file {file.file_id} has purpose {file.purpose!r}; a batch is created from a file with purpose 'batch'",
            field="input_file_id", code="invalid_value",
        )
    created, _ = job_service.create_job(
        tenant_id,
        CreateJobRequest(provider=provider, endpoint=request.endpoint, upload_id=file.file_id, metadata=metadata),
        idempotency_key=idempotency_key,
        origin=JobOrigin(
            surface=c.OPENAI_SURFACE,
            input_file_id=file.file_id,
            output_expires_after=request.output_expires_after.seconds if request.output_expires_after else None,
        ),
    )
    return batch_object(job_store.get_job(created.id))


def get_batch(tenant_id: str, batch_id: str) -> OpenAIBatch:
    return batch_object(surface_job(tenant_id, batch_id, c.OPENAI_SURFACE, what="batch"))


def list_batches(tenant_id: str, *, after: str | None, limit: int) -> OpenAIBatchList:
    if not 1 <= limit <= 100:
        raise ValidationFailed("limit must be between 1 and 100", field="limit", code="invalid_value")
    cursor = None
    if after:
        try:
            cursor = surface_job(tenant_id, after, c.OPENAI_SURFACE, what="batch")
        except NotFound as exc:
            raise ValidationFailed(f"after: no batch {after} in this list", field="after",
                                   code="invalid_value") from exc
    jobs, has_more = job_store.list_surface_jobs(tenant_id, c.OPENAI_SURFACE, limit=limit, after=cursor)
    data = [batch_object(job) for job in jobs]
    return OpenAIBatchList(data=data, first_id=data[0].id if data else None,
                           last_id=data[-1].id if data else None, has_more=has_more)


def cancel_batch(tenant_id: str, batch_id: str) -> OpenAIBatch:
    job = surface_job(tenant_id, batch_id, c.OPENAI_SURFACE, what="batch")
    try:
        job_service.cancel_job(tenant_id, job.job_id)
    except Conflict as refused:
        status = _status(job_store.get_job(job.job_id))
        raise Conflict(f"Cannot cancel a batch with status '{status}'.", field="batch_id",
                       code="batch_not_cancellable") from refused
    return batch_object(job_store.get_job(job.job_id))
