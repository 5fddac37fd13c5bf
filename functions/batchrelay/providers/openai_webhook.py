"""OpenAI's own webhooks (batch.completed and friends): the fast path beside polling.

A verified ``batch.*`` event hands its chunk to ``collect`` at once. Handing over is the
conditional transition submitted -> ended (``lifecycle.handoff``), so whichever of this
path and the poller sees the batch first hands it over and the other changes nothing. An unknown batch or
another event type is acknowledged and ignored (OpenAI retries anything but a 2xx).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from openai import InvalidWebhookSignatureError, OpenAI

from batchrelay import constants as c
from batchrelay.errors import BatchRelayError, NotFound, ValidationFailed
from batchrelay.lifecycle import provider_lookup
from batchrelay.lifecycle.handoff import hand_to_collect
from batchrelay.models.job import ChunkStatus
from batchrelay.providers.base import ProviderError
from batchrelay.store import chunk_store

_END_REASONS = {
    "batch.completed": "completed",
    "batch.failed": "failed",
    "batch.expired": "expired",
    "batch.cancelled": "cancelled",
}
BATCH_EVENT_TYPES = frozenset(_END_REASONS)
SECRET_MAX_AGE_SECONDS = 300
PROVIDER = "openai"


class InvalidSignature(ValidationFailed):
    code = "invalid_signature"


class WebhookSecretMissing(BatchRelayError):
    code = "webhook_secret_missing"
    http_status = 500


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str | None
    event_type: str | None
    batch_id: str | None = None
    job_id: str | None = None
    chunk_id: str | None = None
    handed_off: bool = False
    note: str = ""


def webhook_secret() -> str:
    """``OPENAI_WEBHOOK_SECRET`` (local mode, tests) or the secret at ``OPENAI_WEBHOOK_SECRET_ARN``."""
    secret = os.environ.get(c.ENV_OPENAI_WEBHOOK_SECRET)
    if secret:
        return secret
    arn = os.environ.get(c.ENV_OPENAI_WEBHOOK_SECRET_ARN)
    if not arn:
        raise WebhookSecretMissing(
            f"no OpenAI webhook secret: set {c.ENV_OPENAI_WEBHOOK_SECRET} or {c.ENV_OPENAI_WEBHOOK_SECRET_ARN}"
        )
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)
    return (value if isinstance(value, str) else value.decode("utf-8")).strip()


@lru_cache(maxsize=4)
def _verifier(secret: str) -> OpenAI:
    # Verification needs no API key; the client is only the SDK's home for `webhooks.unwrap`.
    return OpenAI(api_key="unused-for-webhook-verification", webhook_secret=secret)


def verify_event(body: str | bytes, headers: dict[str, str]) -> Any:
    """The SDK's verified, parsed event; InvalidSignature (400) for anything unverifiable."""
    try:
        return _verifier(webhook_secret()).webhooks.unwrap(body, headers)
    except InvalidWebhookSignatureError as exc:
        raise InvalidSignature(f"the webhook signature is not valid: {exc}", field="webhook-signature") from exc
    except ValueError as exc:  # a missing header or a body that is not JSON
        raise InvalidSignature(f"the webhook could not be verified: {exc}", field="webhook-signature") from exc


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
    if event_type not in BATCH_EVENT_TYPES:
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
        reason=batch.end_reason or _END_REASONS[event_type],
        batch=batch,
        now=time.time() if now is None else now,
    )
    return replace(outcome, handed_off=handed, note="handed over" if handed else "already handed over")
