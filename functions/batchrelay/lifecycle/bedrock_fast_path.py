"""Amazon Bedrock's EventBridge events as a fast path beside polling.

The stack's rule sends this account's "Batch Inference Job State Change" events of ended
jobs to the ``bedrock_events`` function. An event for the current batch of a submitted chunk
reads the job back (GetModelInvocationJob) and hands the chunk to ``collect`` exactly as the
poller would (``handoff.hand_to_collect`` with the batch): whichever of the two sees the end
first hands it over, the other changes nothing. An event about a job batchrelay does not
own, an older batch of a chunk, or a status that is not an end is acknowledged and ignored.
EventBridge delivers these events on a best-effort basis; the poller stays the safety net.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from batchrelay.errors import NotFound
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.handoff import hand_to_collect
from batchrelay.models.job import ChunkStatus
from batchrelay.providers.base import ProviderError
from batchrelay.providers.bedrock_events import parse_state_change
from batchrelay.store import chunk_store

PROVIDER = "bedrock"


@dataclass(frozen=True)
class EventOutcome:
    batch_id: str | None
    status: str | None = None
    job_id: str | None = None
    chunk_id: str | None = None
    handed_off: bool = False
    note: str = ""


def handle_bedrock_event(event: dict[str, Any], *, now: float | None = None) -> EventOutcome:
    try:
        change = parse_state_change(event)
    except ValueError as exc:
        return EventOutcome(None, note=f"ignored: {exc}")
    outcome = EventOutcome(change.batch_id, change.status)
    if not change.ended:
        return replace(outcome, note="not an end")
    found = chunk_store.find_chunk_by_batch(PROVIDER, change.batch_id)
    if found is None:
        return replace(outcome, note="unknown batch")
    job_id, chunk_id = found
    outcome = replace(outcome, job_id=job_id, chunk_id=chunk_id)
    try:
        chunk = chunk_store.get_chunk(job_id, chunk_id)
    except NotFound:
        return replace(outcome, note="chunk not found")
    if chunk.status != ChunkStatus.SUBMITTED or chunk.batch_id != change.batch_id:
        return replace(outcome, note=f"nothing to do: chunk is {chunk.status} with batch {chunk.batch_id}")
    try:
        batch = provider_lookup.provider_for(PROVIDER).retrieve_batch(change.batch_id)
    except ProviderError as exc:
        return replace(outcome, note=f"left to the poller: {exc.message}")
    if batch.state != "ended":
        return replace(outcome, note=f"left to the poller: the job is {batch.provider_status}")
    handed = hand_to_collect(
        job_id, chunk_id, provider=PROVIDER, reason=batch.end_reason or "completed", batch=batch,
        now=time.time() if now is None else now,
    )
    return replace(outcome, handed_off=handed, note="handed over" if handed else "already handed over")
