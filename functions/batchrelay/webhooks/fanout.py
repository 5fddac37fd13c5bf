"""What the `webhook` function does with each message of the `webhooks` queue.

A job event (from SNS) fans out: one delivery record per matching endpoint (the tenant's
enabled endpoints subscribed to the event type, plus the job's own ``webhook_url``), each
created on absence and attempted at once. A delivery message makes one later attempt.
Every endpoint's delivery is its own record, lease and message, so one endpoint's
failures never block, delay or repeat another's.
"""

from __future__ import annotations

import orjson
from pydantic import TypeAdapter

from batchrelay import clock
from batchrelay.clock import now_iso, parse_iso
from batchrelay.models.events import JobEvent, JobEventData
from batchrelay.models.messages import DeliverWebhook
from batchrelay.models.webhooks import JOB_URL_ENDPOINT_ID, Delivery
from batchrelay.store import delivery_store, endpoint_store, job_items
from batchrelay.webhooks import attempts, schedule
from batchrelay.webhooks.messages import enqueue_delivery


class DeliveryErrors(Exception):
    """Some endpoints of one event could not be handled; the message is retried for them."""


WebhooksQueueMessage = DeliverWebhook | JobEvent
WEBHOOKS_QUEUE_MESSAGE: TypeAdapter[WebhooksQueueMessage] = TypeAdapter(WebhooksQueueMessage)


def parse_webhooks_message(body: str) -> WebhooksQueueMessage:
    """A delivery attempt ({"kind": "delivery", ...}) or a job event (SNS raw delivery)."""
    data = orjson.loads(body)
    if isinstance(data, dict) and data.get("kind") == "delivery":
        return DeliverWebhook.model_validate(data)
    return JobEvent.model_validate(data)


def handle_message(body: str, *, time_left: attempts.TimeLeft, redelivered: bool = False) -> dict[str, str]:
    """Handle one queue message; returns {endpoint_id: outcome}. Raises to have it retried.

    ``body`` is kept as received: it is the exact payload signed and sent to each endpoint.
    """
    message = parse_webhooks_message(body)
    if isinstance(message, DeliverWebhook):
        return {message.endpoint_id: handle_delivery_message(message, time_left=time_left, redelivered=redelivered)}
    return fan_out(message, payload=body, time_left=time_left, redelivered=redelivered)


def _targets(event: JobEvent) -> list[tuple[str, str]]:
    targets = [(e.endpoint_id, e.url) for e in endpoint_store.matching_endpoints(event.tenant_id, event.type)]
    webhook_url = event.data.webhook_url if isinstance(event.data, JobEventData) else None
    if webhook_url:
        targets.append((JOB_URL_ENDPOINT_ID, webhook_url))
    return targets


def fan_out(
    event: JobEvent, *, payload: str, time_left: attempts.TimeLeft, redelivered: bool = False
) -> dict[str, str]:
    """Create and attempt each of the event's deliveries; ``payload`` is the exact body to send."""
    job_id, tenant_id = event.job_id, event.tenant_id
    if not job_id or not tenant_id:
        raise ValueError(f"event {event.id} names no job_id or tenant_id")
    outcomes: dict[str, str] = {}
    errors: dict[str, str] = {}
    expires_at = delivery_expires_at(event, now=clock.now())
    for endpoint_id, url in _targets(event):
        try:
            now = now_iso()
            delivery, created = delivery_store.create_delivery(
                Delivery(
                    job_id=job_id,
                    event_id=event.id,
                    event_type=event.type,
                    endpoint_id=endpoint_id,
                    tenant_id=tenant_id,
                    url=url,
                    payload=payload,
                    next_attempt_at=now,
                    created_at=now,
                    updated_at=now,
                ),
                expires_at=expires_at,
            )
            if created or (delivery.status == "pending" and delivery.attempt_count == 0):
                outcomes[endpoint_id] = attempts.attempt_delivery(delivery, 1, time_left=time_left)
            else:
                if redelivered:
                    attempts.ensure_next_attempt(delivery, now=clock.now())
                outcomes[endpoint_id] = "duplicate"
        except Exception as exc:  # one endpoint's trouble must not stop the others
            errors[endpoint_id] = f"{type(exc).__name__}: {exc}"
    if errors:
        raise DeliveryErrors(f"event {event.id}: {errors}")
    return outcomes


def delivery_expires_at(event: JobEvent, *, now: float) -> int:
    """A delivery's TTL, set at creation (its job is final by then): the job's own, from its
    final time, but never before every retry of the delivery is over."""
    finished_at = event.data.finished_at if isinstance(event.data, JobEventData) else None
    job_expires_at = job_items.expires_at_for(parse_iso(finished_at) if finished_at else now)
    return max(job_expires_at, int(now) + schedule.LONGEST_DELIVERY_SECONDS)


def handle_delivery_message(
    message: DeliverWebhook, *, time_left: attempts.TimeLeft, redelivered: bool = False
) -> str:
    now = clock.now()
    if message.not_before > now + 1:
        # SQS delays at most 15 minutes: wait again for the rest.
        enqueue_delivery(message, now=now)
        return "waiting"
    delivery = delivery_store.get_delivery(message.job_id, message.event_id, message.endpoint_id)
    if delivery is None:
        return "unknown"
    if delivery.status != "pending" or delivery.attempt_count >= message.attempt:
        if redelivered and delivery.attempt_count == message.attempt:
            attempts.ensure_next_attempt(delivery, now=now)
        return "stale"
    if delivery.attempt_count < message.attempt - 1:
        return "stale"  # a message from the future cannot happen; ignore rather than skip attempts
    return attempts.attempt_delivery(delivery, message.attempt, time_left=time_left)

