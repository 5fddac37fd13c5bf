"""Create the provider batch of one chunk, at most once.

1. Record the intent first: PENDING/HELD -> CREATING with create_seq + 1 and intent_at.
2. A chunk found already CREATING means an earlier attempt started and has not recorded
   a batch. Within the creation lease (settings.creation_lease_seconds: the submitter's
   timeout and a margin) that attempt may still be running (a duplicate delivery), so
   this one backs off (CreationInProgress: the message comes back later) rather than
   risk a second batch. After the lease the earlier attempt is dead: bump create_seq
   (this fences it out: its record_batch now fails) and ask the provider for a batch
   with this chunk's metadata created since the intent; adopt it if found.
3. Otherwise create the batch, then record it (chunk_store.record_batch: CREATING with
   our create_seq -> SUBMITTED, and the batch's claim item, in one transaction).

An attempt whose record is refused made a batch nobody owns (it was fenced out while
the provider was answering): it cancels that batch. A provider error that proves no
batch was made (429, other 4xx) puts the chunk back to PENDING; an ambiguous one
(timeout, 5xx) leaves it CREATING, and the retry after the lease looks first.
"""

from __future__ import annotations

import logging
import os
import random
import tempfile
import time

from batchrelay import constants as c
from batchrelay.aws.s3_keys import chunk_provider_key
from batchrelay.aws.s3_objects import download_to_file
from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.cancellation import cancel_submitted_chunk
from batchrelay.lifecycle.handoff import hand_to_collect
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S, next_check_delay
from batchrelay.models.job import Chunk, ChunkCounts, ChunkStatus, Job, JobStatus
from batchrelay.providers.base import BatchInfo, BatchProvider, ProviderError
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)

# A crashed attempt created its batch (if at all) between its intent and its own timeout.
# The adapters add their own clock-skew slack to this window; the window stays tight
# because Anthropic batches carry no metadata and are told apart by time and size.
CREATION_WINDOW_S = c.FUNCTION_TIMEOUTS[c.FUNCTION_SUBMITTER] + 60
CREATION_LEAD_S = 5
MAX_FIND_ROUNDS = 5
CREATE_ATTEMPTS_ON_429 = 3
_STOPPING = (JobStatus.CANCELLING, JobStatus.FINALIZING)


class CreationInProgress(Exception):
    """Another attempt began creating this chunk's batch within the lease: try later."""


def _definitely_not_created(exc: ProviderError) -> bool:
    # 429 and other 4xx answers refuse the request; timeouts and 5xx may hide a success.
    return exc.status_code is not None and 400 <= exc.status_code < 500


def batch_metadata(chunk: Chunk) -> dict[str, str]:
    return {"batchrelay_job": chunk.job_id, "batchrelay_chunk": chunk.chunk_id, "batchrelay_seq": str(chunk.create_seq)}


def _job_stopping(job: Job) -> bool:
    return job.status in _STOPPING or job.is_final


def ensure_batch(job_id: str, chunk_id: str, *, now: float | None = None) -> str:
    """Make sure the chunk has a provider batch (or has ended); returns what happened."""
    now = time.time() if now is None else now
    chunk = chunk_store.get_chunk(job_id, chunk_id)
    if chunk.status not in (ChunkStatus.PENDING, ChunkStatus.HELD, ChunkStatus.CREATING):
        if chunk.status == ChunkStatus.SUBMITTED and chunk.batch_id and _job_stopping(job_store.get_job(job_id)):
            # An earlier attempt recorded the batch and died before seeing the cancel.
            cancel_submitted_chunk(provider_lookup.provider_for(chunk.provider), chunk, now=now)
            return f"already submitted; batch {chunk.batch_id} cancelled"
        return f"already {chunk.status}"
    job = job_store.get_job(job_id)
    provider = provider_lookup.provider_for(chunk.provider)
    stopping = _job_stopping(job)

    if chunk.status in (ChunkStatus.PENDING, ChunkStatus.HELD):
        if stopping:
            hand_to_collect(job_id, chunk_id, provider=chunk.provider, reason="cancelled", now=now)
            return "cancelled before submission"
        try:
            chunk = chunk_store.transition_chunk(
                job_id, chunk_id, chunk.provider, chunk.status, ChunkStatus.CREATING,
                create_seq=chunk.create_seq + 1, intent_at=now, due_at=int(now) + SAFETY_NET_S,
                guard=chunk_store.same_create_seq(chunk.create_seq),
            )
        except TransitionRefused:
            return "another attempt is creating it"
        found = None
    else:
        intent_at = chunk.intent_at if chunk.intent_at is not None else now
        lease = get_settings().creation_lease_seconds
        if now - intent_at < lease:
            raise CreationInProgress(
                f"chunk {chunk_id} of job {job_id}: a creation began {now - intent_at:.0f}s ago "
                f"(lease {lease}s); not creating a second batch"
            )
        try:
            # A new intent: if this attempt dies too, the next one backs off for a lease from
            # now and searches from now, where a batch of ours would have been created.
            chunk = chunk_store.transition_chunk(
                job_id, chunk_id, chunk.provider, ChunkStatus.CREATING, None,
                create_seq=chunk.create_seq + 1, intent_at=now, due_at=int(now) + SAFETY_NET_S,
                guard=chunk_store.same_create_seq(chunk.create_seq),
            )
        except TransitionRefused:
            return "another attempt is creating it"
        found = _find_earlier_batch(provider, chunk, intent_at)
        if found is None and stopping:
            hand_to_collect(job_id, chunk_id, provider=chunk.provider, reason="cancelled", now=now)
            return "cancelled before submission"

    if found is None:
        try:
            batch = _create(provider, chunk)
        except ProviderError as exc:
            if exc.retryable or not _definitely_not_created(exc):
                if _definitely_not_created(exc):
                    _release_intent(chunk)
                raise
            errors = [{"code": exc.code or "batch_create_failed", "message": exc.message}]
            hand_to_collect(job_id, chunk_id, provider=chunk.provider, reason="failed", batch_errors=errors, now=now)
            return "creation refused by the provider"
        outcome = "created"
    else:
        batch, outcome = found, "adopted"

    if not _record(provider, chunk, batch, now=now, adopted=found is not None):
        return "fenced out; our batch was cancelled"
    if _job_stopping(job_store.get_job(job_id)):
        _cancel_quietly(provider, batch.batch_id)
    return f"{outcome} {batch.batch_id}"


def _release_intent(chunk: Chunk) -> None:
    """CREATING -> PENDING when the provider refused the batch, so a retry need not wait."""
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.CREATING, ChunkStatus.PENDING,
            guard=chunk_store.same_create_seq(chunk.create_seq),
        )
    except TransitionRefused:
        pass  # a later attempt already took over


def _find_earlier_batch(provider: BatchProvider, chunk: Chunk, intent_at: float) -> BatchInfo | None:
    """A batch the interrupted attempt made, skipping batches other chunks own."""
    exclude = set(chunk.batch_ids)
    for _ in range(MAX_FIND_ROUNDS):
        found = provider.find_batch(
            # Only the job and chunk pairs: the interrupted attempt used an earlier create_seq.
            metadata={"batchrelay_job": chunk.job_id, "batchrelay_chunk": chunk.chunk_id},
            created_after=intent_at - CREATION_LEAD_S,
            created_before=intent_at + CREATION_WINDOW_S,
            request_count=chunk.request_count,
            exclude_ids=exclude,
        )
        if found is None:
            return None
        owner = chunk_store.find_chunk_by_batch(chunk.provider, found.batch_id)
        if owner is None or owner == (chunk.job_id, chunk.chunk_id):
            return found
        exclude.add(found.batch_id)
    return None


def _create(provider: BatchProvider, chunk: Chunk) -> BatchInfo:
    """Create the batch. The adapters make the create call without the SDK's own retries (a
    retried POST after a timeout could make a second batch); a 429 proves nothing was made,
    so only that is retried here, a few times with backoff and jitter."""
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        download_to_file(chunk_provider_key(chunk.job_id, chunk.chunk_id), path)
        for attempt in range(CREATE_ATTEMPTS_ON_429):
            try:
                return provider.create_batch(
                    requests_path=path, request_count=chunk.request_count, endpoint=chunk.endpoint,
                    metadata=batch_metadata(chunk),
                )
            except ProviderError as exc:
                if exc.status_code != 429 or attempt == CREATE_ATTEMPTS_ON_429 - 1:
                    raise
                time.sleep(min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2))
        raise AssertionError("unreachable")
    finally:
        os.unlink(path)


def _record(provider: BatchProvider, chunk: Chunk, batch: BatchInfo, *, now: float, adopted: bool) -> bool:
    created_at = batch.created_at or now
    # An adopted batch may have ended long ago: check it at once.
    delay = 0 if batch.state == "ended" else next_check_delay(
        now=now, created_at=created_at, total=batch.total, completed=batch.completed
    )
    try:
        chunk_store.record_batch(
            chunk, batch_id=batch.batch_id, batch_created_at=created_at, due_at=int(now) + delay,
            provider_status=batch.provider_status,
            counts=ChunkCounts(total=batch.total, completed=batch.completed, failed=batch.failed).model_dump(),
        )
        return True
    except TransitionRefused:
        current = chunk_store.get_chunk(chunk.job_id, chunk.chunk_id)
        if current.batch_id == batch.batch_id:
            return True  # a later attempt adopted this very batch
        if adopted:
            return False  # not ours to cancel: it may belong to someone else
        logger.warning("chunk %s/%s: batch %s has no owner; cancelling it", chunk.job_id, chunk.chunk_id,
                       batch.batch_id)
        _cancel_quietly(provider, batch.batch_id)
        return False


def _cancel_quietly(provider: BatchProvider, batch_id: str) -> None:
    try:
        provider.cancel_batch(batch_id)
    except ProviderError as exc:
        # Already ended, or the provider is down: the poller sees it end either way.
        logger.warning("cancelling batch %s failed: %s", batch_id, exc.message)
