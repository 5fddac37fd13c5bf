"""OpenAI's webhooks (batch.completed and friends) as a fast path beside polling.

A verified ``batch.*`` event hands its chunk to ``collect`` at once. Handing over is the
conditional transition submitted -> ended (``handoff.hand_to_collect``), so whichever of
this path and the poller sees the batch first hands it over and the other changes
nothing. An unknown batch or another event type is acknowledged and ignored (OpenAI
retries anything but a 2xx). The signature check is the provider's (``providers.openai_webhook``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from batchrelay.errors import NotFound
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.handoff import hand_to_collect
from batchrelay.models.job import ChunkStatus
from batchrelay.providers.base import ProviderError
from batchrelay.providers.openai_webhook import BATCH_END_REASONS, verify_event
from batchrelay.store import chunk_store

PROVIDER = "openai"


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str | None
    event_type: str | None
    batch_id: str | None = None
    job_id: str | None = None
    chunk_id: str | None = None
    handed_off: bool = False
    note: str = ""


def handle_openai_webhook(body: str | bytes, headers: dict[str, str], *, now: float | None = None) -> WebhookOutcome:
    """Verify the webhook and, for the chunk's current batch, hand the chunk to ``collect``.

    The batch is read back from OpenAI and handed over exactly as the poller does
    (``hand_to_collect`` with the batch): the chunk must still be submitted with that batch,
    so a late event about an older batch of the chunk changes nothing, and a batch that
    failed for capacity is held like the poller would hold it.
    """
    event = verify_event(body, headers)
    event_type = getattr(event, "type", None)
    event_id = getattr(event, "id", None)
    if event_type not in BATCH_END_REASONS:
        return WebhookOutcome(event_id, event_type, note="not a batch event")
    batch_id = event.data.id
    found = chunk_store.find_chunk_by_batch(PROVIDER, batch_id)
    if found is None:
        return WebhookOutcome(event_id, event_type, batch_id, note="unknown batch")
    job_id, chunk_id = found
    outcome = WebhookOutcome(event_id, event_type, batch_id, job_id, chunk_id)
    try:
        chunk = chunk_store.get_chunk(job_id, chunk_id)
    except NotFound:
        return replace(outcome, note="chunk not found")
    if chunk.status != ChunkStatus.SUBMITTED or chunk.batch_id != batch_id:
        return replace(outcome, note=f"nothing to do: chunk is {chunk.status} with batch {chunk.batch_id}")
    try:
        batch = provider_lookup.provider_for(PROVIDER).retrieve_batch(batch_id)
    except ProviderError as exc:
        # The poller is the safety net; OpenAI need not retry for this.
        return replace(outcome, note=f"left to the poller: {exc.message}")
    if batch.state != "ended":
        return replace(outcome, note=f"left to the poller: the batch is {batch.provider_status}")
    handed = hand_to_collect(
        job_id,
        chunk_id,
        provider=PROVIDER,
        reason=batch.end_reason or BATCH_END_REASONS[event_type],
        batch=batch,
        now=time.time() if now is None else now,
    )
    return replace(outcome, handed_off=handed, note="handed over" if handed else "already handed over")
