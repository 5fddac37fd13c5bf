"""Cancel a job: what finished is kept, the rest ends as cancelled.

Submitted batches are cancelled at the provider; the poller sees them end and hands
them to the collector, which writes the finished requests and marks the rest cancelled.
Chunks without a batch end at once. Chunks being created are left to the creation path,
which checks the job before and after creating.
"""

from __future__ import annotations

import logging
import time

from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.handoff import hand_to_collect
from batchrelay.lifecycle.messages import send_chunk_message, send_finalize_message
from batchrelay.models.job import CANCELLABLE_JOB_STATUSES, Chunk, ChunkStatus, JobStatus
from batchrelay.providers.base import BatchProvider, ProviderError
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)



def cancel_job(job_id: str, *, now: float | None = None) -> str:
    now = time.time() if now is None else now
    job = job_store.get_job(job_id)
    if job.status in CANCELLABLE_JOB_STATUSES:
        try:
            job = job_store.transition_job(
                job_id, CANCELLABLE_JOB_STATUSES, JobStatus.CANCELLING, cancel_requested=True
            )
        except TransitionRefused:
            job = job_store.get_job(job_id)
    if job.status != JobStatus.CANCELLING:
        return f"job is {job.status}"
    if not job.input_accepted:
        # Cancelled while its upload was being validated: no chunk exists or ever will.
        send_finalize_message(job_id)
        return "cancelling before it ran; finalize queued"

    provider = provider_lookup.provider_for(job.provider)
    retry_later: list[str] = []
    chunks = chunk_store.list_chunks(job_id)
    for chunk in chunks:
        if chunk.status == ChunkStatus.SUBMITTED and chunk.batch_id:
            if not cancel_submitted_chunk(provider, chunk, now=now):
                retry_later.append(chunk.chunk_id)
        elif chunk.status in (ChunkStatus.PENDING, ChunkStatus.HELD):
            hand_to_collect(job_id, chunk.chunk_id, provider=chunk.provider, reason="cancelled", now=now)
        elif chunk.status == ChunkStatus.CREATING:
            send_chunk_message(job_id, chunk.chunk_id)
    if retry_later:
        raise ProviderError(f"cancelling chunks {retry_later} failed; retrying", retryable=True)
    if job.submission_done and all(chunk.status == ChunkStatus.COLLECTED for chunk in chunks):
        # Everything was collected before the cancel landed: no collector will finalize.
        send_finalize_message(job_id)
    return "cancelling"


def cancel_submitted_chunk(provider: BatchProvider, chunk: Chunk, *, now: float) -> bool:
    """Cancel the chunk's running batch and have the poller look at it next run.
    False when the provider could not be reached (try again)."""
    try:
        provider.cancel_batch(chunk.batch_id or "")
    except ProviderError as exc:
        if exc.retryable:
            return False
        logger.info("batch %s not cancelled (%s); it ends on its own", chunk.batch_id, exc.message)
    # Look at it on the next poller run rather than on its adaptive schedule.
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.SUBMITTED, None, due_at=int(now)
        )
    except TransitionRefused:
        pass
    return True
