"""Create the provider batch of one chunk, at most once.

1. Record the intent first: PENDING/HELD -> CREATING with create_seq + 1, intent_at, and
   the moment added to ``intents`` (every moment a create call may have reached the provider).
2. A chunk found already CREATING means an earlier attempt started and has not recorded
   a batch. Within the creation lease (settings.creation_lease_seconds: the submitter's
   timeout and a margin) that attempt may still be running (a duplicate delivery), so
   this one backs off (CreationInProgress: the message comes back later) rather than
   risk a second batch. After the lease the earlier attempt is dead: a takeover bumps
   create_seq (this fences it out: its record_batch now fails) and looks for the batch
   it may have made, around every earlier intent (not only the last: a takeover whose
   own search failed must not make the next one forget the first window):
   - every batch in those windows that could be the chunk's is a candidate
     (``find_candidates``), skipping batches another chunk has claimed;
   - a candidate is adopted only once proven the chunk's (``prove_ownership``): OpenAI by
     the chunk's metadata, at once; Anthropic, whose batches carry no metadata, by the
     chunk tag every request id carries, readable in its results once it has ended;
   - while a candidate cannot be told yet, the chunk waits for it (it stays CREATING and
     the poller's safety net brings the message back), rather than risk a second batch;
     where the provider never ends a batch by itself (no expiry: Azure OpenAI, configured
     servers) that wait could last forever, so an unclaimed candidate past the chunk's
     maximum batch age is cancelled, as its owner would cancel it (no chunk can claim it
     while it runs): it ends, and its results tell whose it is. A chunk that adopts a batch
     so ended counts it as aged out (its unfinished requests expired, not cancelled);
   - with no candidate left, a new intent is recorded and the batch created.
3. Create the batch, then record it (chunk_store.record_batch: CREATING with our
   create_seq -> SUBMITTED, and the batch's claim item, in one transaction).

An attempt whose record is refused made a batch nobody owns (it was fenced out while
the provider was answering): it cancels that batch. A provider error that proves no
batch was made (429, other 4xx) puts the chunk back to PENDING; an ambiguous one
(timeout, 5xx) leaves it CREATING, and the retry after the lease looks first. A refused
key (401/403: revoked, or the placeholder secret right after deploy) holds the chunk
(HELD, held_reason "credentials") and names the provider on the job; the chunk is tried
again every SAFETY_NET_S and fails only after settings.credentials_max_hold_seconds.

A create the provider refuses for lack of room (``quota_exceeded``: Bedrock's concurrent
jobs) made nothing: the chunk is held (HELD, held_reason "capacity") and created again
when the poller's safety net brings it back, after growing waits. A chunk below the
provider's per-batch minimum is not created while more requests can join it
(lifecycle/small_chunks.py). A batch that has ended by the time it is recorded (an adopted
one, or a run that finished inside the create: Bedrock's on-demand runs) is handed to the
collector at once.

When a second batch can still be made for a chunk (the first could not be found): the
provider did not list a batch it had made within the window (list lag beyond the clock
slack), or, for Anthropic, a candidate expired or was archived before it could be proven.
Such a batch is an orphan: it is never claimed, so its results are never collected or
counted; the provider bills what it ran.
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
from batchrelay.lifecycle import provider_lookup, small_chunks
from batchrelay.lifecycle.cancellation import cancel_submitted_chunk
from batchrelay.lifecycle.handoff import hand_to_collect
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S, hold_delay, next_check_delay
from batchrelay.models.job import Chunk, ChunkCounts, ChunkStatus, Job, JobStatus
from batchrelay.providers.base import BatchInfo, BatchOptions, BatchProvider, ProviderError
from batchrelay.providers.errors import QUOTA_EXCEEDED
from batchrelay.settings import get_settings
from batchrelay.store import chunk_store, job_store

logger = logging.getLogger(__name__)

# A crashed attempt created its batch (if at all) between its intent and its own timeout.
# The adapters add their own clock-skew slack to this window.
CREATION_WINDOW_S = c.FUNCTION_TIMEOUTS[c.FUNCTION_SUBMITTER] + 60
CREATION_LEAD_S = 5
CREATE_ATTEMPTS_ON_429 = 3
CREDENTIAL_STATUS = frozenset({401, 403})
HELD_FOR_CREDENTIALS = "held: the provider refused the API key"
_STOPPING = (JobStatus.CANCELLING, JobStatus.FINALIZING)


class CreationInProgress(Exception):
    """Another attempt began creating this chunk's batch within the lease: try later."""


def _definitely_not_created(exc: ProviderError) -> bool:
    # 429 and other 4xx answers refuse the request; timeouts and 5xx may hide a success.
    return exc.status_code is not None and 400 <= exc.status_code < 500


def batch_metadata(chunk: Chunk) -> dict[str, str]:
    """What a create tells the provider of the chunk. ``batchrelay_batch`` says which of the
    chunk's batches this is (1, then one more after each batch it lost): never the attempt,
    so a create retried after a crash names the same batch (Bedrock's idempotency token)."""
    metadata = {
        "batchrelay_job": chunk.job_id,
        "batchrelay_chunk": chunk.chunk_id,
        "batchrelay_seq": str(chunk.create_seq),
        "batchrelay_batch": str(len(chunk.batch_ids) + 1),
    }
    if chunk.model:
        metadata["batchrelay_model"] = chunk.model
    return metadata


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

    found: BatchInfo | None = None
    if chunk.status in (ChunkStatus.PENDING, ChunkStatus.HELD):
        if stopping:
            hand_to_collect(job_id, chunk_id, provider=chunk.provider, reason="cancelled", now=now)
            return "cancelled before submission"
        if _credentials_hold_over(chunk, now):
            errors = [{"code": "provider_credentials", "message": f"{chunk.provider} refused the API key for "
                       f"{get_settings().credentials_max_hold_seconds}s; the batch was never created"}]
            hand_to_collect(job_id, chunk_id, provider=chunk.provider, reason="failed", batch_errors=errors, now=now)
            return "failed: credentials refused for longer than the maximum hold"
        if small_chunks.is_small(chunk):
            placed = small_chunks.place_small_chunk(chunk, job, provider, now=now)
            if placed is not None:
                return placed
        try:
            chunk = _new_intent(chunk, from_status=chunk.status, now=now)
        except TransitionRefused:
            return "another attempt is creating it"
    else:
        intent_at = chunk.intent_at if chunk.intent_at is not None else now
        lease = get_settings().creation_lease_seconds
        if now - intent_at < lease:
            raise CreationInProgress(
                f"chunk {chunk_id} of job {job_id}: a creation began {now - intent_at:.0f}s ago "
                f"(lease {lease}s); not creating a second batch"
            )
        try:
            # Fence out the earlier attempt before looking for what it made.
            chunk = chunk_store.transition_chunk(
                job_id, chunk_id, chunk.provider, ChunkStatus.CREATING, None,
                create_seq=chunk.create_seq + 1, due_at=int(now) + SAFETY_NET_S,
                guard=chunk_store.same_create_seq(chunk.create_seq),
            )
        except TransitionRefused:
            return "another attempt is creating it"
        found, unproven = _find_earlier_batch(provider, chunk, now=now)
        if found is None and unproven:
            # Possibly ours, not provable yet: wait for it rather than risk a second batch.
            return f"waiting to prove whose batch {', '.join(unproven)} is"
        if found is None and stopping:
            hand_to_collect(job_id, chunk_id, provider=chunk.provider, reason="cancelled", now=now)
            return "cancelled before submission"
        if found is None:
            try:
                chunk = _new_intent(chunk, from_status=ChunkStatus.CREATING, now=now)
            except TransitionRefused:
                return "another attempt is creating it"

    if found is None:
        try:
            batch = _create(provider, chunk, job)
        except ProviderError as exc:
            if exc.status_code in CREDENTIAL_STATUS:
                return _hold_for_credentials(chunk, job, exc, now=now)
            if exc.code == QUOTA_EXCEEDED:
                return _hold_for_quota(chunk, exc, now=now)
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
    job = job_store.get_job(job_id)
    if _job_stopping(job):
        _cancel_quietly(provider, batch.batch_id)
    elif job.status_detail and job.status_detail.get("provider") == chunk.provider:
        _clear_status_detail(job)
    outcome = f"{outcome} {batch.batch_id}"
    reason = batch.end_reason or "completed"
    if found is not None and reason == "cancelled" and _aged_out_when_adopted(chunk, batch, now):
        reason = "expired"  # cancelled for its age (as the poller counts it): what finished stays
    if batch.state == "ended" and hand_to_collect(
        job_id, chunk_id, provider=chunk.provider, reason=reason, batch=batch, now=now
    ):
        outcome += "; ended already: handed to collect"
    return outcome


def _new_intent(chunk: Chunk, *, from_status: ChunkStatus, now: float) -> Chunk:
    """Record that a create call is about to be made (it may reach the provider from now on)."""
    return chunk_store.transition_chunk(
        chunk.job_id, chunk.chunk_id, chunk.provider, from_status, ChunkStatus.CREATING,
        create_seq=chunk.create_seq + 1, intent_at=now, intents=[*chunk.intents, now],
        due_at=int(now) + SAFETY_NET_S, guard=chunk_store.same_create_seq(chunk.create_seq),
    )


def _credentials_hold_over(chunk: Chunk, now: float) -> bool:
    return (
        chunk.held_reason == "credentials" and chunk.held_since is not None
        and now - chunk.held_since >= get_settings().credentials_max_hold_seconds
    )


def _hold_for_credentials(chunk: Chunk, job: Job, exc: ProviderError, *, now: float) -> str:
    """The provider refused our key: nothing was made. Hold the chunk and say so on the job;
    the poller's safety net tries again, until the maximum hold fails it."""
    held_since = chunk.held_since if chunk.held_reason == "credentials" and chunk.held_since else now
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.CREATING, ChunkStatus.HELD,
            held_reason="credentials", held_since=held_since, due_at=int(now) + SAFETY_NET_S,
            batch_errors=[{"code": "provider_credentials", "status_code": exc.status_code, "message": exc.message}],
            guard=chunk_store.same_create_seq(chunk.create_seq),
        )
    except TransitionRefused:
        return "another attempt took over"
    detail = {
        "code": "provider_credentials",
        "provider": chunk.provider,
        "message": f"{chunk.provider} refused the API key ({exc.status_code}); chunks are held and retried, "
                   f"and fail after {get_settings().credentials_max_hold_seconds}s",
        "since": held_since,
    }
    if job.status_detail != detail:
        job_store.update_job_fields(job.job_id, status_detail=detail)
    return f"{HELD_FOR_CREDENTIALS} ({exc.status_code})"


def _hold_for_quota(chunk: Chunk, exc: ProviderError, *, now: float) -> str:
    """The provider has no room for another batch now (Bedrock: too many jobs in flight for
    the model). Nothing was made: hold the chunk; the poller's safety net creates it again
    after the first capacity wait (jobs in flight end over hours; a fixed wait is enough)."""
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.CREATING, ChunkStatus.HELD,
            held_reason="capacity", due_at=int(now) + hold_delay(1),
            batch_errors=[{"code": QUOTA_EXCEEDED, "status_code": exc.status_code, "message": exc.message}],
            guard=chunk_store.same_create_seq(chunk.create_seq),
        )
    except TransitionRefused:
        return "another attempt took over"
    return f"held: {chunk.provider} has no room for another batch now ({exc.message})"


def _clear_status_detail(job: Job) -> None:
    job_store.update_job_fields(job.job_id, status_detail=None)


def _release_intent(chunk: Chunk) -> None:
    """CREATING -> PENDING when the provider refused the batch, so a retry need not wait."""
    try:
        chunk_store.transition_chunk(
            chunk.job_id, chunk.chunk_id, chunk.provider, ChunkStatus.CREATING, ChunkStatus.PENDING,
            guard=chunk_store.same_create_seq(chunk.create_seq),
        )
    except TransitionRefused:
        pass  # a later attempt already took over


def _find_earlier_batch(provider: BatchProvider, chunk: Chunk, *, now: float) -> tuple[BatchInfo | None, list[str]]:
    """(the batch an interrupted attempt made, proven this chunk's; ids of candidates that
    cannot be told yet). Batches another chunk has claimed are skipped."""
    intents = chunk.intents or ([chunk.intent_at] if chunk.intent_at is not None else [])
    if not intents:
        return None, []
    metadata = {"batchrelay_job": chunk.job_id, "batchrelay_chunk": chunk.chunk_id}
    unproven: list[str] = []
    for candidate in provider.find_candidates(
        # Only the job and chunk pairs: the interrupted attempt used an earlier create_seq.
        metadata=metadata,
        created_after=min(intents) - CREATION_LEAD_S,
        created_before=max(intents) + CREATION_WINDOW_S,
        request_count=chunk.request_count,
    ):
        owner = chunk_store.find_chunk_by_batch(chunk.provider, candidate.batch_id)
        if owner == (chunk.job_id, chunk.chunk_id):
            return candidate, []
        if owner is not None:
            continue
        if chunk.id_tag is None:
            # Planned before chunk tags: only metadata can prove it (no proof, no adoption).
            proven = provider.prove_ownership(candidate, tag="", metadata=metadata) if candidate.metadata else False
        else:
            proven = provider.prove_ownership(candidate, tag=chunk.id_tag, metadata=metadata)
        if proven:
            return candidate, []
        if proven is None:
            if _past_max_age(chunk, candidate, now):
                logger.info("chunk %s/%s: unclaimed batch %s is past the maximum age; cancelling it so that it "
                            "ends and can be proven", chunk.job_id, chunk.chunk_id, candidate.batch_id)
                _cancel_quietly(provider, candidate.batch_id)
            unproven.append(candidate.batch_id)
    return None, unproven


def _past_max_age(chunk: Chunk, batch: BatchInfo, now: float) -> bool:
    limit = chunk.max_batch_age_seconds
    return limit is not None and batch.state == "running" and now - batch.created_at >= limit


def _aged_out_when_adopted(chunk: Chunk, batch: BatchInfo, now: float) -> bool:
    """An adopted batch that ended cancelled after running its maximum age was cancelled for it
    (by a recovery: an unclaimed batch is cancelled for nothing else while its job runs)."""
    limit = chunk.max_batch_age_seconds
    return (limit is not None and batch.state == "ended" and batch.end_reason == "cancelled"
            and (batch.ended_at or now) - batch.created_at >= limit)


def batch_options(chunk: Chunk, job: Job) -> BatchOptions:
    """What the create takes from the chunk and its job besides the lines: the chunk's model,
    the job's timeout_hours, and its completion window (only jobs on providers that offer a
    choice may name one; None elsewhere, and the adapter uses its default)."""
    return BatchOptions(model=chunk.model, timeout_hours=job.timeout_hours,
                        completion_window=job.completion_window or None)


def _create(provider: BatchProvider, chunk: Chunk, job: Job) -> BatchInfo:
    """Create the batch. The adapters make the create call without the SDK's own retries (a
    retried POST after a timeout could make a second batch); a 429 proves nothing was made,
    so only that is retried here, a few times with backoff and jitter."""
    options = batch_options(chunk, job)
    if provider.reads_input_from_bucket:
        return _create_from(provider, chunk, "", options)
    fd, path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    try:
        download_to_file(chunk_provider_key(chunk.job_id, chunk.chunk_id), path)
        return _create_from(provider, chunk, path, options)
    finally:
        os.unlink(path)


def _create_from(provider: BatchProvider, chunk: Chunk, path: str, options: BatchOptions) -> BatchInfo:
    for attempt in range(CREATE_ATTEMPTS_ON_429):
        try:
            return provider.create_batch(
                requests_path=path, request_count=chunk.request_count, endpoint=chunk.endpoint,
                metadata=batch_metadata(chunk), options=options,
            )
        except ProviderError as exc:
            if exc.status_code != 429 or attempt == CREATE_ATTEMPTS_ON_429 - 1:
                raise
            time.sleep(min(8.0, 0.5 * 2**attempt) * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")


def _record(provider: BatchProvider, chunk: Chunk, batch: BatchInfo, *, now: float, adopted: bool) -> bool:
    created_at = batch.created_at or now
    # An adopted batch may have ended long ago: check it at once.
    delay = 0 if batch.state == "ended" else next_check_delay(
        now=now, created_at=created_at, total=batch.total, completed=batch.completed
    )
    try:
        chunk_store.record_batch(
            chunk, batch_id=batch.batch_id, batch_created_at=created_at, due_at=int(now) + delay,
            provider_status=batch.provider_status, held_reason=None, held_since=None,
            aged_out_at=now if adopted and _aged_out_when_adopted(chunk, batch, now) else None,
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
