"""Validate a job's uploaded input in the background, in bounded steps (`validate` on `jobs`).

``POST /v1/jobs`` with an ``upload_id`` checks only what is cheap (the upload exists, is the
tenant's, its size is within the limit: one HEAD), stores the job ``validating`` with where
its validation stands (``Job.validation``) and queues a `validate` message. Each delivery
takes one step from the stored progress:

1. copy: the upload is copied into the job's input key, server side, pinned to the ETag the
   API saw (an upload replaced since fails the job: what is checked is what runs);
2. lines: from the stored offset, whole lines up to ``validation_step_bytes`` and
   ``validation_step_requests`` are read (one ranged GET) and checked as inline requests
   are; the step's ids go to S3 as one run of hashes (``validation.duplicate_ids``);
3. duplicates, once every line is checked: the runs' buckets a group at a time;
4. accept: at least one request, the chunk_size floor; validating -> submitting with the
   request count and models, then the `job` message (planning).

Durable progress: each step ends with one conditional write of the new progress (offset,
line number, counts per model, runs written, buckets checked, the earliest repeat found)
from the step it read (``validation.step``), which also pushes the stalled-jobs resend time
out. Of two deliveries of one step (a repeat, the poller's resend) one stores and queues the
next step; the other stops. A step that dies (timeout, crash) stored nothing: its message
comes back (or the poller resends it, VALIDATING_JOB_RESEND_SECONDS after the last step)
and the step is done again from the same place. A step writes only the S3 object named by
its run number, with the same bytes each time.

A bad line fails the job: validating -> failed with ``error`` {code, message, field, line};
nothing is planned or sent to a provider. The `finalize` message that follows has the
finalizer publish the one job.failed event. A job that never ran has no results.jsonl and
no manifest.json; a job cancelled while validating ends cancelled the same way.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from batchrelay import constants as c
from batchrelay.aws import s3_copy, s3_keys
from batchrelay.aws.s3_objects import numbered_object_lines, put_bytes, read_range
from batchrelay.clock import iso
from batchrelay.errors import TransitionRefused, ValidationFailed
from batchrelay.jsonl import LineTooLong, loads_line
from batchrelay.lifecycle.messages import send_finalize_message, send_job_message, send_validate_message
from batchrelay.models.job import InputValidation, Job, JobStatus
from batchrelay.notifications.events import event_id_for
from batchrelay.settings import get_settings
from batchrelay.store import job_store
from batchrelay.validation import duplicate_ids
from batchrelay.validation.request_rules import ModelTally, check_chunk_size
from batchrelay.validation.upload_lines import check_upload_line

# A step of the duplicate check reads at most this many groups' worth of records.
_DUPLICATE_GROUPS_PER_STEP = 4


def validate_input(job_id: str, *, now: float | None = None) -> str:
    """Take the next step of the job's validation; returns what was done."""
    now = time.time() if now is None else now
    job = job_store.get_job(job_id)
    progress = job.validation
    if job.status != JobStatus.VALIDATING or progress is None:
        return _after_validation(job)
    try:
        if not progress.copied:
            return _copy(job, progress)
        if not progress.lines_done:
            return _check_lines(job, progress)
        if progress.buckets_checked < duplicate_ids.BUCKETS:
            return _check_duplicates(job, progress)
        return _accept(job, progress)
    except ValidationFailed as bad:
        return _fail(job, progress, bad, now=now)


def _after_validation(job: Job) -> str:
    """A late or repeated delivery, or a retry after a crash that followed the last write:
    send again whatever should have followed (receivers ignore repeats)."""
    if job.status == JobStatus.SUBMITTING and not job.submission_done:
        send_job_message(job.job_id)
        return "validated; planning queued"
    if not job.input_accepted and (
        job.status == JobStatus.CANCELLING or (job.is_final and not job.event_published)
    ):
        send_finalize_message(job.job_id)
        return f"job is {job.status} without having run; finalize queued"
    return f"job is {job.status}"


def _next(job: Job, progress: InputValidation, outcome: str, **changes: Any) -> str:
    """Store the step's progress (from the step it read) and queue the next step."""
    advanced = progress.model_copy(update={**changes, "step": progress.step + 1})
    if job_store.record_validation_step(job.job_id, advanced, seen_step=progress.step) is None:
        return f"step {progress.step + 1} was stored by another delivery, or the job moved on"
    send_validate_message(job.job_id)
    return outcome


def _copy(job: Job, progress: InputValidation) -> str:
    try:
        s3_copy.copy_pinned(progress.upload_key, job.input_key, etag=progress.upload_etag, size=progress.size_bytes)
    except s3_copy.SourceChanged as exc:
        raise ValidationFailed(
            "the upload was replaced after the job was created; create the job again",
            field="upload_id", code="upload_changed",
        ) from exc
    except s3_copy.SourceMissing as exc:
        raise ValidationFailed(
            "the upload no longer exists; upload the file again", field="upload_id", code="upload_missing"
        ) from exc
    return _next(job, progress, f"copied {progress.size_bytes} bytes", copied=True)


def _check_lines(job: Job, progress: InputValidation) -> str:
    settings = get_settings()
    models = ModelTally(progress.models)
    ids = duplicate_ids.StepIds()
    offset, line, requests = progress.offset, progress.lines, progress.requests
    at_end = True
    if offset < progress.size_bytes:
        lines = numbered_object_lines(job.input_key, start=offset, max_line_bytes=c.MAX_REQUEST_LINE_BYTES)
        try:
            for raw in lines:
                line += 1
                start, offset = offset, offset + len(raw) + 1
                if raw.strip():   # blank lines (a trailing newline) carry no request
                    checked = check_upload_line(raw, line, provider=job.provider, endpoint=job.endpoint)
                    models.add(checked.model, line=line, field="body.model")
                    requests += 1
                    if requests > c.MAX_JOB_REQUESTS:
                        raise ValidationFailed(
                            f"a job holds at most {c.MAX_JOB_REQUESTS:,} requests; split the file into several jobs",
                            field="upload", line=line,
                        )
                    ids.add(checked.custom_id, line, start)
                if offset - progress.offset >= settings.validation_step_bytes or (
                    len(ids) >= settings.validation_step_requests
                ):
                    at_end = offset >= progress.size_bytes
                    break
        except LineTooLong as too_long:
            raise ValidationFailed(
                f"line is longer than {c.MAX_REQUEST_LINE_BYTES} bytes", field="upload",
                line=progress.lines + too_long.line,
            ) from too_long
        finally:
            lines.close()
    runs = progress.runs
    if len(ids):
        key = s3_keys.validation_run_key(job.tenant_id, job.job_id, runs)
        put_bytes(key, ids.run_bytes(), content_type="application/octet-stream")
        runs += 1
    return _next(
        job, progress, f"checked lines {progress.lines + 1}-{line}",
        offset=min(offset, progress.size_bytes), lines=line, requests=requests,
        models=models.counts, runs=runs, lines_done=at_end,
    )


def _check_duplicates(job: Job, progress: InputValidation) -> str:
    group_records = get_settings().validation_step_requests
    keys = [s3_keys.validation_run_key(job.tenant_id, job.job_id, run) for run in range(progress.runs)]
    starts = [duplicate_ids.bucket_starts(read_range(key, 0, duplicate_ids.HEADER_BYTES)) for key in keys]
    best = duplicate_ids.Repeat(**progress.duplicate) if progress.duplicate else None
    bucket = progress.buckets_checked
    for _ in range(_DUPLICATE_GROUPS_PER_STEP):
        if bucket >= duplicate_ids.BUCKETS:
            break
        end = duplicate_ids.group_end(starts, bucket, group_records)
        slices = []
        for key, run_starts in zip(keys, starts, strict=True):
            first, last = duplicate_ids.byte_range(run_starts, bucket, end)
            if last > first:
                slices.append(read_range(key, first, last))
        found = duplicate_ids.candidates(slices)
        if found:
            repeat = duplicate_ids.first_repeat(
                found, lambda offset: _custom_id_at(job, offset), before=best.line if best else None
            )
            best = repeat or best
        bucket = end
    return _next(
        job, progress, f"checked id buckets {progress.buckets_checked}-{bucket - 1}",
        buckets_checked=bucket, duplicate=asdict(best) if best else None,
    )


def _custom_id_at(job: Job, offset: int) -> str:
    """The custom_id of the (checked) line at ``offset`` of the job's input."""
    data = read_range(job.input_key, offset, offset + c.MAX_REQUEST_LINE_BYTES + 1)
    return str(loads_line(data.split(b"\n", 1)[0])["custom_id"])


def _accept(job: Job, progress: InputValidation) -> str:
    if progress.duplicate:
        repeat = duplicate_ids.Repeat(**progress.duplicate)
        raise ValidationFailed(
            f"custom_id {repeat.custom_id!r} appears on an earlier line (line {repeat.first_line})",
            field="custom_id", line=repeat.line,
        )
    if progress.requests == 0:
        raise ValidationFailed("the upload holds no requests", field="upload_id")
    check_chunk_size(progress.chunk_size, progress.requests)
    accepted = progress.model_copy(update={"done": True, "step": progress.step + 1})
    try:
        job_store.accept_validated_input(
            job.job_id, accepted, seen_step=progress.step, request_count=progress.requests, models=progress.models
        )
    except TransitionRefused:
        return _after_validation(job_store.get_job(job.job_id))
    send_job_message(job.job_id)
    return f"validated {progress.requests} requests; planning queued"


def _fail(job: Job, progress: InputValidation, bad: ValidationFailed, *, now: float) -> str:
    """validating -> failed with the error; the finalizer publishes the event."""
    try:
        job_store.transition_job(
            job.job_id, JobStatus.VALIDATING, JobStatus.FAILED,
            guard=job_store.validation_step_is(progress.step),
            error=bad.to_dict(), finished_at=iso(now), event_id=event_id_for(job.job_id, str(JobStatus.FAILED)),
        )
    except TransitionRefused:
        return _after_validation(job_store.get_job(job.job_id))
    send_finalize_message(job.job_id)
    where = f" at line {bad.line}" if bad.line is not None else ""
    return f"failed{where}: {bad.message}"
