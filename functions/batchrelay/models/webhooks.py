"""Stored webhook endpoints and deliveries (one delivery = one event to one endpoint)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from batchrelay.constants import EVENT_TYPES
from batchrelay.models.base import Model

# The endpoint id under which a job's own ``webhook_url`` is delivered (tenant secret).
JOB_URL_ENDPOINT_ID = "job_url"

DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookEndpoint(Model):
    endpoint_id: str
    tenant_id: str
    url: str
    event_types: list[str] = Field(default_factory=lambda: list(EVENT_TYPES))
    description: str | None = None
    # Only in the answer to its creation: the table keeps it encrypted (webhooks.secret_box).
    secret: str | None = None
    enabled: bool = True
    disabled_reason: str | None = None
    created_at: str
    updated_at: str

    def wants(self, event_type: str) -> bool:
        return self.enabled and event_type in self.event_types


class DeliveryAttempt(Model):
    attempt: int
    at: str                       # ISO 8601 when the attempt started
    status_code: int | None = None
    duration_ms: int = 0
    error: str | None = None
    response_excerpt: str | None = None


class Delivery(Model):
    job_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    tenant_id: str
    url: str
    status: DeliveryStatus = "pending"
    attempt_count: int = 0
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    next_attempt_at: str | None = None
    failure_reason: str | None = None
    payload: str                  # the exact event JSON that is signed and sent
    created_at: str
    updated_at: str
    # A lease on the attempt in flight, so a duplicate message does not send it twice.
    claimed_attempt: int | None = None
    claim_expires: float | None = None
