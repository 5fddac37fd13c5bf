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

from batchrelay import constants as c
from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.batch_creation import ensure_batch
from batchrelay.lifecycle.cancellation import cancel_job
from batchrelay.lifecycle.chunk_planner import PlanningFenced, plan_chunks, plan_step, planning_passes
from batchrelay.lifecycle.input_validation import validate_input
from batchrelay.lifecycle.messages import send_chunk_message, send_finalize_message, send_job_message
from batchrelay.models.job import Chunk, ChunkStatus, Job, JobStatus, PlanningProgress
from batchrelay.models.messages import CancelJob, CreateChunkBatch, JobsQueueMessage, PlanJob, ValidateJobInput
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)

_NEEDS_BATCH = (ChunkStatus.PENDING, ChunkStatus.CREATING)
# How long one invocation plans before it hands the rest to the next message: the
# submitter's timeout less a margin for the chunk it is writing when the time comes.
PLANNING_TIME_S = c.FUNCTION_TIMEOUTS[c.FUNCTION_SUBMITTER] - 90


def clock() -> float:
    return time.time()


def handle_jobs_message(message: JobsQueueMessage, *, now: float | None = None) -> str:
    match message:
        case PlanJob():
            return submit_job(message.job_id, now=now)
        case CreateChunkBatch():
            return ensure_batch(message.job_id, message.chunk_id, now=now)
        case CancelJob():
            outcome = cancel_job(message.job_id, now=now)
            job = job_store.get_job(message.job_id)
            if job.status == JobStatus.CANCELLING and job.input_accepted and not job.submission_done:
                # Planning stopped short (its message lost): its chunks end cancelled as they
                # are planned, and only then can the job end.
                outcome += f"; {submit_job(message.job_id, now=now)}"
            return outcome
        case ValidateJobInput():
            return validate_input(message.job_id, now=now)
    raise TypeError(f"not a jobs queue message: {message!r}")


def submit_job(job_id: str, *, now: float | None = None, deadline: float | None = None) -> str:
    """Plan the job's chunks (from where planning stands) and queue one creation message per
    chunk, until planning is done or ``deadline`` (then the rest goes to the next message)."""
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
    if job.planning is None and job.chunks_total:
        # Planning began before it had durable progress: finish it the way it began, in one go.
        planned = 0
        for chunk in plan_chunks(job, provider, now=now):
            stored, _created = chunk_store.put_chunk_and_count(chunk)
            if stored.status in _NEEDS_BATCH:
                send_chunk_message(job_id, stored.chunk_id)
            planned += 1
        return _planning_done(job, PlanningProgress(done=True), f"planned {planned} chunks")
    if job.planning is None or job.planning.models is None:
        # Planning begins: its passes first, so that every chunk stored after carries its place.
        begun = PlanningProgress(models=planning_passes(job))
        job = job_store.update_job_fields(job_id, planning=begun.model_dump(mode="json"))
    assert job.planning is not None
    deadline = (now + PLANNING_TIME_S) if deadline is None else deadline
    seen = job.planning
    planned = 0

    def store(chunk: Chunk, after: PlanningProgress) -> None:
        nonlocal seen, planned
        if not chunk_store.put_planned_chunk(chunk, planning=after.model_dump(mode="json"), seen_step=seen.step):
            raise PlanningFenced(f"chunk {chunk.chunk_id}: another planner is ahead")
        seen = after
        planned += 1
        # Batches are created one chunk per message: creation runs in parallel.
        send_chunk_message(job_id, chunk.chunk_id)

    progress = seen
    try:
        while not progress.done:
            progress = plan_step(job, provider, progress, should_stop=lambda: clock() >= deadline, store=store, now=now)
            if progress.step != seen.step:   # a pass ended without a chunk to carry its progress
                if job_store.record_planning_step(job_id, progress, seen_step=seen.step) is None:
                    raise PlanningFenced("another planner moved planning on")
                seen = progress
            if not progress.done and clock() >= deadline:
                send_job_message(job_id)   # the rest in the next invocation
                return f"planned {planned} chunks; planning goes on"
    except PlanningFenced as fenced:
        return f"planned {planned} chunks; stopped: {fenced}"
    return _planning_done(job, progress, f"planned {planned} chunks")


def _planning_done(job: Job, progress: PlanningProgress, outcome: str) -> str:
    job = _mark_submission_done(job, progress)
    if job.chunks_final >= job.chunks_total:
        # Every chunk already ended (a cancelled job): no collector will see the last count.
        send_finalize_message(job.job_id)
    return f"{outcome}; planning done"


def _mark_submission_done(job: Job, progress: PlanningProgress) -> Job:
    planning = progress.model_dump(mode="json")
    try:
        return job_store.transition_job(
            job.job_id, JobStatus.SUBMITTING, JobStatus.IN_PROGRESS, submission_done=True, planning=planning
        )
    except TransitionRefused:
        # Cancelled meanwhile (or a repeat already moved it on): only the flags are ours to set.
        return job_store.update_job_fields(job.job_id, submission_done=True, planning=planning)
