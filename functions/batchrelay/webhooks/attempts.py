"""One delivery attempt: sign, POST to the checked address, log it, decide what comes next."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from batchrelay import clock
from batchrelay.clock import now_iso
from batchrelay.constants import TEST_EVENT_TYPE
from batchrelay.errors import NotFound
from batchrelay.ids import new_id
from batchrelay.models.events import JobEvent, TestEventData
from batchrelay.models.messages import DeliverWebhook
from batchrelay.models.webhooks import JOB_URL_ENDPOINT_ID, Delivery, DeliveryAttempt
from batchrelay.store import delivery_store, endpoint_store
from batchrelay.webhooks import schedule, secrets, signing, ssrf, transport
from batchrelay.webhooks.messages import enqueue_delivery

TimeLeft = Callable[[], float]
# Longer than an attempt can take, shorter than the queue's visibility timeout: a crashed
# attempt is taken up again when its message comes back.
CLAIM_LEASE_SECONDS = 60.0
# Time an attempt needs besides the HTTP call (claim, record, enqueue).
ATTEMPT_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class SendResult:
    entry: DeliveryAttempt
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return schedule.is_success(self.entry.status_code) and self.entry.error is None


def send_signed(url: str, secret: str, msg_id: str, payload: str, *, attempt: int = 1) -> SendResult:
    """Check the URL, sign the payload and POST it once. Never raises for the receiver's faults."""
    started_at = clock.iso(clock.now())
    try:
        target = ssrf.resolve_target(url)
    except ssrf.UrlRefused as exc:
        return SendResult(DeliveryAttempt(attempt=attempt, at=started_at, error=f"refused: {exc.message}"))
    body = payload.encode()
    headers = signing.signature_headers(secret, msg_id, body, timestamp=int(time.time()))
    outcome = transport.post(target, body, headers)
    entry = DeliveryAttempt(
        attempt=attempt,
        at=started_at,
        status_code=outcome.status_code,
        duration_ms=outcome.duration_ms,
        error=outcome.error,
        response_excerpt=outcome.body_excerpt,
    )
    return SendResult(entry, retry_after=outcome.retry_after)


def _signing_secret(delivery: Delivery) -> tuple[str | None, str | None]:
    """(secret, reason the delivery cannot be made)."""
    if delivery.endpoint_id == JOB_URL_ENDPOINT_ID:
        # Created by the api when the job was accepted; this function only reads secrets.
        secret = secrets.get_tenant_secret(delivery.tenant_id)
        return (secret, None) if secret else (None, "the tenant has no signing secret")
    try:
        endpoint, secret = secrets.endpoint_with_secret(delivery.tenant_id, delivery.endpoint_id)
    except NotFound:
        return None, "endpoint deleted"
    if not endpoint.enabled:
        return None, f"endpoint disabled ({endpoint.disabled_reason or 'by its owner'})"
    return secret, None


def attempt_delivery(delivery: Delivery, attempt: int, *, time_left: TimeLeft) -> str:
    """Make attempt ``attempt`` of a delivery unless another worker has it or made it.

    Returns what happened: delivered, retry_scheduled, failed, deferred or skipped.
    """
    now = clock.now()
    if time_left() < transport.ATTEMPT_BUDGET_SECONDS + ATTEMPT_MARGIN_SECONDS:
        # Not enough time left in this invocation for a full attempt: hand it to the next.
        enqueue_delivery(_message(delivery, attempt, now), now=now)
        return "deferred"
    claimed = delivery_store.claim_attempt(delivery, attempt, now=now, lease_seconds=CLAIM_LEASE_SECONDS)
    if claimed is None:
        return "skipped"
    secret, blocked = _signing_secret(claimed)
    if secret is None:
        entry = DeliveryAttempt(attempt=attempt, at=clock.iso(now), error=blocked)
        _fail(claimed, entry, blocked)
        return "failed"

    result = send_signed(claimed.url, secret, claimed.event_id, claimed.payload, attempt=attempt)
    if result.ok:
        delivery_store.record_attempt(claimed, result.entry, status="delivered", next_attempt_at=None)
        return "delivered"
    if result.entry.status_code == 410:
        reason = "endpoint answered 410 Gone"
        if claimed.endpoint_id != JOB_URL_ENDPOINT_ID:
            endpoint_store.disable_endpoint(claimed.tenant_id, claimed.endpoint_id, reason=reason)
            reason += "; endpoint disabled"
        _fail(claimed, result.entry, reason)
        return "failed"
    after = clock.now()
    delay = schedule.next_delay(attempt, retry_after=schedule.parse_retry_after(result.retry_after, now=after))
    if delay is None:
        reason = f"no 2xx answer after {attempt} attempts"
        _fail(claimed, result.entry, reason)
        return "failed"
    not_before = after + delay
    recorded = delivery_store.record_attempt(
        claimed, result.entry, status="pending", next_attempt_at=clock.iso(not_before)
    )
    if recorded is None:
        return "skipped"  # our lease ran out and another worker took the attempt over
    enqueue_delivery(_message(recorded, attempt + 1, not_before), now=after)
    return "retry_scheduled"


def _fail(delivery: Delivery, entry: DeliveryAttempt, reason: str | None) -> None:
    delivery_store.record_attempt(delivery, entry, status="failed", next_attempt_at=None, failure_reason=reason)


def ensure_next_attempt(delivery: Delivery, *, now: float) -> None:
    """After a crash between recording an attempt and queueing the next: queue it again.

    Called only when a message is received again; a duplicate next message is harmless
    (the attempt's lease lets one of them through).
    """
    if delivery.status == "pending" and delivery.attempt_count >= 1 and delivery.claimed_attempt is None:
        not_before = clock.parse_iso(delivery.next_attempt_at) if delivery.next_attempt_at else now
        enqueue_delivery(_message(delivery, delivery.attempt_count + 1, not_before), now=now)


def _message(delivery: Delivery, attempt: int, not_before: float) -> DeliverWebhook:
    return DeliverWebhook(
        job_id=delivery.job_id,
        event_id=delivery.event_id,
        endpoint_id=delivery.endpoint_id,
        attempt=attempt,
        not_before=not_before,
    )


def send_test_event(tenant_id: str, endpoint_id: str) -> SendResult:
    """Send one signed ``webhook.test`` event to an endpoint now; nothing is retried or logged."""
    endpoint, secret = secrets.endpoint_with_secret(tenant_id, endpoint_id)
    event = JobEvent(
        id=new_id("evt_test"),
        type=TEST_EVENT_TYPE,
        timestamp=now_iso(),
        data=TestEventData(tenant_id=tenant_id, endpoint_id=endpoint_id, message="a test event from batchrelay"),
    )
    return send_signed(endpoint.url, secret, event.id, event.wire_json())
