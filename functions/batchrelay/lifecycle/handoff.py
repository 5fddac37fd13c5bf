"""Hand an ended chunk to the collector: the one way a chunk reaches ENDED.

The poller, the submitter (failed creation, cancelled before submission), the cancel
path and the OpenAI webhook fast path all call ``hand_to_collect``; the conditional
transition lets exactly one of racing callers win, and only the winner sends `collect`.

Stranding: a crash between the transition and the send would leave a chunk ENDED with
no message. So ENDED chunks stay in the due index (due a while later); the poller
re-sends `collect` for any ENDED chunk that comes due, and the collector takes the chunk
out of the index when it marks it COLLECTED.
"""

from __future__ import annotations

import time
from typing import Any

from batchrelay.errors import TransitionRefused
from batchrelay.lifecycle.messages import send_collect_message
from batchrelay.lifecycle.poll_schedule import SAFETY_NET_S, hold_delay
from batchrelay.models.job import ChunkCounts, ChunkStatus
from batchrelay.providers.base import BatchInfo
from batchrelay.store import chunk_store

# Statuses a chunk may end from without a provider batch to vouch for it.
# A SUBMITTED chunk ends only on its batch's own report (with ``batch``): ending it without
# one could collect a batch that is still running and lose its answers.
_ENDABLE_WITHOUT_BATCH = (ChunkStatus.PENDING, ChunkStatus.HELD, ChunkStatus.CREATING)


def _batch_fields(batch: BatchInfo) -> dict[str, Any]:
    return {
        "provider_status": batch.provider_status,
        "counts": ChunkCounts(total=batch.total, completed=batch.completed, failed=batch.failed).model_dump(),
        "batch_errors": list(batch.errors),
    }


def hand_to_collect(
    job_id: str,
    chunk_id: str,
    *,
    provider: str,
    reason: str,
    batch: BatchInfo | None = None,
    batch_errors: list[dict[str, Any]] | None = None,
    now: float | None = None,
) -> bool:
    """Move the chunk to ENDED and send `collect`; True only for the caller that moved it.

    With ``batch``, the chunk must still be SUBMITTED with that batch. A batch that failed
    for capacity (token_limit_exceeded) holds the chunk instead (see ``hold_for_capacity``).
    """
    now = time.time() if now is None else now
    if batch is not None and batch.capacity_exhausted:
        return hold_for_capacity(job_id, chunk_id, provider=provider, batch=batch, now=now)
    fields: dict[str, Any] = {"end_reason": reason, "ended_at": now}
    from_statuses: tuple[ChunkStatus, ...] = _ENDABLE_WITHOUT_BATCH
    guard = None
    if batch is not None:
        # A late report about an older batch of the chunk (one refused for capacity) must not end it.
        fields.update(_batch_fields(batch))
        from_statuses, guard = (ChunkStatus.SUBMITTED,), chunk_store.same_batch(batch.batch_id)
    if batch_errors:
        fields["batch_errors"] = batch_errors
    try:
        chunk_store.transition_chunk(
            job_id,
            chunk_id,
            provider,
            from_statuses,
            ChunkStatus.ENDED,
            due_at=int(now) + SAFETY_NET_S,
            guard=guard,
            **fields,
        )
    except TransitionRefused:
        return False
    send_collect_message(job_id, chunk_id)
    return True


def hold_for_capacity(job_id: str, chunk_id: str, *, provider: str, batch: BatchInfo, now: float) -> bool:
    """The provider refused the batch for lack of room: create it again later (growing waits)."""
    try:
        chunk = chunk_store.get_chunk(job_id, chunk_id)
        chunk_store.transition_chunk(
            job_id,
            chunk_id,
            provider,
            ChunkStatus.SUBMITTED,
            ChunkStatus.HELD,
            due_at=int(now) + hold_delay(len(chunk.batch_ids)),
            guard=chunk_store.same_batch(batch.batch_id),
            **_batch_fields(batch),
        )
    except TransitionRefused:
        return False
    return True
