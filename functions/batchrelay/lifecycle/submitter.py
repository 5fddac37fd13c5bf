"""The `jobs` queue's consumer: validate uploaded inputs, plan a job's chunks, create chunk
batches, cancel jobs.

Every message kind is idempotent: validation steps store their progress with a conditional
write (see input_validation), planning is deterministic and stores chunks with a
conditional put (counted in the same transaction), batch creation is fenced (see
batch_creation), and cancelling re-runs harmlessly.
"""

from __future__ import annotations

import logging
import time

from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.batch_creation import ensure_batch
from batchrelay.lifecycle.cancellation import cancel_job
from batchrelay.lifecycle.chunk_planner import plan_chunks
from batchrelay.lifecycle.input_validation import validate_input
from batchrelay.lifecycle.messages import send_chunk_message, send_finalize_message
from batchrelay.models.job import ChunkStatus, Job, JobStatus
from batchrelay.models.messages import CancelJob, CreateChunkBatch, JobsQueueMessage, PlanJob, ValidateJobInput
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)

_NEEDS_BATCH = (ChunkStatus.PENDING, ChunkStatus.CREATING)


def handle_jobs_message(message: JobsQueueMessage, *, now: float | None = None) -> str:
    match message:
        case PlanJob():
            return submit_job(message.job_id, now=now)
        case CreateChunkBatch():
            return ensure_batch(message.job_id, message.chunk_id, now=now)
        case CancelJob():
            return cancel_job(message.job_id, now=now)
        case ValidateJobInput():
            return validate_input(message.job_id, now=now)
    raise TypeError(f"not a jobs queue message: {message!r}")


def submit_job(job_id: str, *, now: float | None = None) -> str:
    """Plan every chunk of the job and queue one creation message per chunk."""
    now = time.time() if now is None else now
    job = job_store.get_job(job_id)
    if job.status == JobStatus.QUEUED:
        try:
            job = job_store.transition_job(job_id, JobStatus.QUEUED, JobStatus.SUBMITTING)
        except TransitionRefused:
            job = job_store.get_job(job_id)
    if job.status not in (JobStatus.SUBMITTING, JobStatus.IN_PROGRESS, JobStatus.CANCELLING):
        return f"job is {job.status}"
    if job.submission_done:
        # A repeated message: make sure no planned chunk waits for a lost creation message.
        for chunk in chunk_store.list_chunks(job_id):
            if chunk.status in _NEEDS_BATCH:
                send_chunk_message(job_id, chunk.chunk_id)
        return "already planned"

    provider = provider_lookup.provider_for(job.provider)
    planned = 0
    for chunk in plan_chunks(job, provider, now=now):
        stored, _created = chunk_store.put_chunk_and_count(chunk)
        if stored.status in _NEEDS_BATCH:
            # Batches are created one chunk per message: creation runs in parallel and a
            # big job never outlives one submitter invocation.
            send_chunk_message(job_id, stored.chunk_id)
        planned += 1
    job = _mark_submission_done(job)
    if job.chunks_final >= job.chunks_total:
        # Every chunk already ended (a cancelled job): no collector will see the last count.
        send_finalize_message(job_id)
    return f"planned {planned} chunks"


def _mark_submission_done(job: Job) -> Job:
    try:
        return job_store.transition_job(job.job_id, JobStatus.SUBMITTING, JobStatus.IN_PROGRESS, submission_done=True)
    except TransitionRefused:
        # Cancelled meanwhile (or a repeat already moved it on): only the flag is ours to set.
        return job_store.update_job_fields(job.job_id, submission_done=True)
