"""Creating, reading, listing, cancelling and deleting jobs: what the API routes call."""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import UTC, datetime

import orjson

from batchrelay import constants as c
from batchrelay.aws import clients, s3_keys
from batchrelay.aws.s3_objects import presigned_get
from batchrelay.clock import now_iso
from batchrelay.errors import Conflict, NotFound, PayloadTooLarge, TransitionRefused, ValidationFailed
from batchrelay.ids import new_id
from batchrelay.jobs import input_files
from batchrelay.jobs.job_views import job_out
from batchrelay.jobs.uploads import checked_upload
from batchrelay.lifecycle import item_expiry, job_deletion
from batchrelay.lifecycle.messages import (
    send_cancel_message,
    send_delete_message,
    send_job_message,
    send_validate_message,
)
from batchrelay.models.api import (
    CreateJobRequest,
    DeletionCountsOut,
    DeletionPlanOut,
    JobDeletionOut,
    JobList,
    JobOut,
    JobResults,
    ResultLinks,
)
from batchrelay.models.job import (
    CANCELLABLE_JOB_STATUSES,
    DeletionCounts,
    InputValidation,
    Job,
    JobOrigin,
    JobStatus,
)
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store, job_store
from batchrelay.validation.request_rules import check_chunk_size, check_provider_endpoint, validate_metadata

logger = logging.getLogger(__name__)


class NotFinal(Conflict):
    code = "job_not_final"


class NoResults(NotFound):
    code = "no_results"


def _request_hash(request: CreateJobRequest) -> str:
    """SHA-256 of the request as sorted-key JSON, built one request at a time.

    The bytes are those of ``orjson.dumps(request.model_dump(mode="json"), OPT_SORT_KEYS)``
    (so hashes stored before stay valid), but each request is encoded on its own: inside
    the whole request a body sits three levels deeper, past what orjson writes for bodies
    near the depth limit, and pydantic's serializer has a depth limit of its own.
    Call it on validated requests only (every body writable).
    """
    fields = request.model_dump(mode="json", exclude={"requests"})
    before = orjson.dumps({k: v for k, v in fields.items() if k < "requests"}, option=orjson.OPT_SORT_KEYS)
    after = orjson.dumps({k: v for k, v in fields.items() if k > "requests"}, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(b'{"requests":' if before == b"{}" else before[:-1] + b',"requests":')
    if request.requests is None:
        digest.update(b"null")
    else:
        for index, item in enumerate(request.requests):
            digest.update(b"[" if index == 0 else b",")
            digest.update(orjson.dumps({"body": item.body, "custom_id": item.custom_id}, option=orjson.OPT_SORT_KEYS))
        digest.update(b"]" if request.requests else b"[]")
    digest.update(b"}" if after == b"{}" else b"," + after[1:])
    return digest.hexdigest()


def _check_webhook_url(url: str) -> None:
    # Scheme and address rules live with the webhooks (SSRF guard); imported lazily so the
    # job routes work even where the webhook module is not configured.
    from batchrelay.webhooks.ssrf import validate_url

    validate_url(url, field="webhook_url")


def _ensure_signing_secret(tenant_id: str) -> None:
    # The job's own webhook_url is signed with the tenant's secret. It is created here, by
    # the api function, so that the webhook function only ever decrypts secrets.
    from batchrelay.webhooks.secrets import ensure_tenant_secret

    ensure_tenant_secret(tenant_id)


def _replay(tenant_id: str, job_id: str, request_hash: str | None, stored_hash: str | None) -> Job:
    if stored_hash and request_hash and stored_hash != request_hash:
        raise Conflict(
            "Idempotency-Key was used for a different request; use a new key",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    job = job_store.get_job(job_id, tenant_id=tenant_id)
    # The first attempt may have died before queueing; the submitter ignores repeats.
    if job.status == JobStatus.QUEUED:
        send_job_message(job.job_id)
    elif job.status == JobStatus.VALIDATING:
        send_validate_message(job.job_id)
    return job


def create_job(
    tenant_id: str,
    request: CreateJobRequest,
    *,
    idempotency_key: str | None,
    body_bytes: int = 0,
    origin: JobOrigin | None = None,
    max_inline_requests: int | None = None,
) -> tuple[JobOut, bool]:
    """Check, store the job, queue it. Returns (job, replayed).

    Inline requests are checked here and written to S3; the job is ``queued``. An upload is
    checked only as far as one HEAD goes (the tenant's, present, within the limit): the job
    is ``validating`` and its lines are checked in the background (lifecycle.input_validation),
    so this costs the same whatever the upload's size.

    ``origin``: the drop-in surface creating it (its batch there); such a surface may take
    more inline requests than the native API (``max_inline_requests``) when its body fits.
    """
    settings = get_settings()
    check_provider_endpoint(request.provider, request.endpoint)
    validate_metadata(request.metadata)
    if (request.requests is None) == (request.upload_id is None):
        raise ValidationFailed("give exactly one of requests and upload_id", field="requests")
    if idempotency_key is not None and not (1 <= len(idempotency_key) <= 255):
        raise ValidationFailed("Idempotency-Key must be 1 to 255 characters", field="Idempotency-Key")
    inline = None
    if request.requests is not None:
        if body_bytes > c.MAX_INLINE_BODY_BYTES:
            raise PayloadTooLarge(
                f"inline jobs are limited to {c.MAX_INLINE_BODY_BYTES} bytes; upload larger inputs with "
                "POST /v1/uploads",
                field="requests",
            )
        # Before hashing: the hash writes every body, which only a checked body survives.
        inline = input_files.validate_inline_requests(
            request.requests, provider=request.provider, endpoint=request.endpoint, max_requests=max_inline_requests
        )
        check_chunk_size(request.chunk_size, inline.summary.request_count)
    request_hash = _request_hash(request)
    if idempotency_key:
        record = job_store.get_idempotency_record(tenant_id, idempotency_key)
        if record:
            return job_out(_replay(tenant_id, record["job_id"], request_hash, record.get("request_hash"))), True
    upload = checked_upload(tenant_id, request.upload_id) if request.upload_id is not None else None
    if request.webhook_url:
        _check_webhook_url(request.webhook_url)
        _ensure_signing_secret(tenant_id)

    job_id = new_id("job")
    key = s3_keys.input_key(tenant_id, job_id)
    bucket = settings.bucket_name
    if inline is not None:
        summary = input_files.write_inline_input(bucket, key, inline)
        status, validation = JobStatus.QUEUED, None
    else:
        assert upload is not None
        # Checked in the background: the request count, the models and the chunk_size floor
        # come with validation (lifecycle.input_validation).
        summary = input_files.InputSummary(request_count=0, size_bytes=upload.size)
        status = JobStatus.VALIDATING
        validation = InputValidation(
            upload_key=upload.key, upload_etag=upload.etag, size_bytes=upload.size, chunk_size=request.chunk_size
        )

    now = now_iso()
    job = Job(
        job_id=job_id,
        tenant_id=tenant_id,
        status=status,
        provider=request.provider,
        endpoint=request.endpoint,
        request_count=summary.request_count,
        models=summary.models,
        input_key=key,
        created_at=now,
        updated_at=now,
        chunk_size=request.chunk_size or settings.default_chunk_size,
        max_attempts=request.max_attempts or settings.default_max_attempts,
        metadata=request.metadata,
        webhook_url=request.webhook_url,
        idempotency_key=idempotency_key,
        validation=validation,
        **(origin.model_dump() if origin else {}),
    )
    try:
        job_store.create_job(job, idempotency_key=idempotency_key, request_hash=request_hash)
    except job_store.IdempotencyKeyUsed as used:
        # A concurrent request with the same key won: answer with its job, drop our input.
        if inline is not None:
            clients.s3().delete_object(Bucket=bucket, Key=key)
        return job_out(_replay(tenant_id, used.job_id, request_hash, used.request_hash)), True
    if job.status == JobStatus.VALIDATING:
        send_validate_message(job_id)
    else:
        send_job_message(job_id)
    return job_out(job), False


def _result_links(job: Job) -> ResultLinks | None:
    if not job.is_final or not job.results_key or not job.manifest_key:
        return None
    settings = get_settings()
    expires_in = settings.presign_expiry_seconds
    expires_at = datetime.fromtimestamp(time.time() + expires_in, UTC).isoformat(timespec="seconds")
    return ResultLinks(
        results_url=presigned_get(job.results_key, expires_in),
        manifest_url=presigned_get(job.manifest_key, expires_in),
        expires_at=expires_at.replace("+00:00", "Z"),
    )


def get_job(tenant_id: str, job_id: str) -> JobOut:
    job = job_store.get_job(job_id, tenant_id=tenant_id)
    _touch(job)
    return job_out(job, chunks=chunk_store.list_chunks(job_id), results=_result_links(job))


def _touch(job: Job) -> None:
    """A final job of the previous version has no TTL: reading it starts its items' TTL steps.
    Never fails the read: the job stays as it was and the next read tries again."""
    if not job.is_final or job.expires_at is not None:
        return
    try:
        item_expiry.begin_expiry(job)
    except Exception:
        logger.exception("job %s: could not start its items' TTL steps", job.job_id)


def list_jobs(tenant_id: str, *, status: str | None, limit: int, cursor: str | None) -> JobList:
    if status is not None and status not in {s.value for s in JobStatus}:
        raise ValidationFailed(f"status must be one of {[s.value for s in JobStatus]}", field="status")
    if not 1 <= limit <= 100:
        raise ValidationFailed("limit must be between 1 and 100", field="limit")
    jobs, next_cursor = job_store.list_jobs(tenant_id, status=status, limit=limit, cursor=cursor)
    return JobList(data=[job_out(j) for j in jobs], next_cursor=next_cursor)


def cancel_job(tenant_id: str, job_id: str) -> JobOut:
    """Mark the job cancelling and ask the submitter to cancel its provider batches."""
    job = job_store.get_job(job_id, tenant_id=tenant_id)
    if job.status == JobStatus.CANCELLING:
        send_cancel_message(job_id)  # a repeat is harmless and heals a lost message
        return job_out(job)
    if job.status not in CANCELLABLE_JOB_STATUSES:
        raise Conflict(f"job is {job.status} and can no longer be cancelled", field="status", code="not_cancellable")
    try:
        job = job_store.transition_job(
            job_id, CANCELLABLE_JOB_STATUSES, JobStatus.CANCELLING, cancel_requested=True
        )
    except TransitionRefused as refused:
        raise Conflict(
            f"job is {refused.current} and can no longer be cancelled", field="status", code="not_cancellable"
        ) from refused
    send_cancel_message(job_id)
    return job_out(job)



def job_results(tenant_id: str, job_id: str) -> JobResults:
    job = job_store.get_job(job_id, tenant_id=tenant_id)
    _touch(job)
    links = _result_links(job)
    if job.status == JobStatus.DELETING:
        raise NotFinal("the job's data is being deleted", field="status")
    if links is None and job.is_final and not job.input_accepted:
        raise NoResults(f"job is {job.status} and never ran: it has no results (see its error)", field="job_id")
    if links is None:
        raise NotFinal(f"job is {job.status}; results are ready once it is final", field="status")
    return JobResults(
        job_id=job.job_id,
        status=str(job.status),
        results_url=links.results_url,
        manifest_url=links.manifest_url,
        expires_at=links.expires_at,
    )


def delete_job(tenant_id: str, job_id: str, *, now: float | None = None) -> tuple[JobDeletionOut, bool]:
    """Delete a final job's data (lifecycle/job_deletion.py); returns (answer, everything gone).

    A small job is deleted here and now; a larger one, or whatever the request's budget
    leaves, goes on behind the collect queue (GET shows the progress, then 404). Asking again
    while it is deleting answers the progress.
    """
    now = time.time() if now is None else now
    job = job_store.get_job(job_id, tenant_id=tenant_id)
    if job.status == JobStatus.DELETING:
        # Asked again: the progress. A lost message is the poller's to resend, not ours.
        assert job.deletion is not None
        return _deletion_out(job, job.deletion.removed, plan=job_deletion.plan_deletion(job)), False
    if not job.is_final:
        raise NotFinal(f"job is {job.status}; only a final job's data can be deleted", field="status")
    try:
        job = job_deletion.start_deletion(job, now=now)
    except TransitionRefused as refused:
        if refused.current != JobStatus.DELETING:
            raise NotFinal(
                f"job is {refused.current}; only a final job's data can be deleted", field="status"
            ) from refused
        return delete_job(tenant_id, job_id, now=now)  # a concurrent DELETE started it: its progress
    plan = job_deletion.plan_deletion(job)
    if plan.fits_inline:
        outcome = job_deletion.run_step(job_id, budget_s=job_deletion.INLINE_BUDGET_S, provider_calls=False, now=now)
        if outcome.done:
            return _deletion_out(job, outcome.removed, done=True), True
        job = job_store.find_job(job_id) or job
        plan = job_deletion.plan_deletion(job)
    send_delete_message(job_id)
    assert job.deletion is not None
    return _deletion_out(job, job.deletion.removed, plan=plan), False


def _deletion_out(
    job: Job, removed: DeletionCounts, *, done: bool = False, plan: job_deletion.DeletionPlan | None = None
) -> JobDeletionOut:
    assert job.deletion is not None
    return JobDeletionOut(
        id=job.job_id,
        status="deleted" if done else "deleting",
        requested_at=job.deletion.requested_at,
        removed=DeletionCountsOut(**removed.model_dump()),
        to_remove=None if plan is None else DeletionPlanOut(
            table_items=plan.table_items, chunks=plan.chunks, deliveries=plan.deliveries,
            batch_claims=plan.batch_claims, prefixes=plan.prefixes,
        ),
    )
