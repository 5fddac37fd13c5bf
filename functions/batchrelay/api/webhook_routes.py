"""Routes for webhook endpoints and the delivery log (a Router the api resolver includes)."""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools.event_handler.api_gateway import Response, Router
from pydantic import Field

from batchrelay.api.tenancy import tenant_id_of
from batchrelay.constants import EVENT_TYPES
from batchrelay.errors import Conflict, ValidationFailed
from batchrelay.models.base import Model
from batchrelay.models.webhooks import Delivery, WebhookEndpoint
from batchrelay.store import delivery_store, endpoint_store, job_store
from batchrelay.webhooks import attempts, secrets, ssrf

router = Router()
MAX_ENDPOINTS_PER_TENANT = 25

JobEventType = Literal[
    "job.completed", "job.completed_with_errors", "job.failed", "job.cancelled", "job.expired"
]


class EndpointIn(Model):
    url: str = Field(description="https URL that receives the signed events", max_length=ssrf.MAX_URL_LENGTH)
    event_types: list[JobEventType] | None = Field(
        default=None, description="event types to deliver; all job events when omitted"
    )
    description: str | None = Field(default=None, max_length=500)


class EndpointOut(Model):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    enabled: bool
    disabled_reason: str | None = None
    created_at: str


class EndpointCreatedOut(EndpointOut):
    secret: str = Field(description="whsec_... signing secret; shown only in this answer")


class EndpointList(Model):
    data: list[EndpointOut]


class SecretOut(Model):
    secret: str = Field(description="whsec_... secret signing deliveries to jobs' own webhook_url; shown once")


class AttemptOut(Model):
    attempt: int
    at: str
    status_code: int | None = None
    duration_ms: int
    error: str | None = None
    response_excerpt: str | None = None


class TestDeliveryOut(Model):
    delivered: bool
    status_code: int | None = None
    error: str | None = None
    attempt: AttemptOut


class DeliveryOut(Model):
    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    status: Literal["pending", "delivered", "failed"]
    attempt_count: int
    attempts: list[AttemptOut]
    next_attempt_at: str | None = None
    failure_reason: str | None = None
    created_at: str
    updated_at: str


class DeliveryList(Model):
    data: list[DeliveryOut]


def _endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.endpoint_id,
        url=endpoint.url,
        event_types=endpoint.event_types,
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        created_at=endpoint.created_at,
    )


def _delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        **delivery.model_dump(include=set(DeliveryOut.model_fields) - {"attempts"}),
        attempts=[AttemptOut(**a.model_dump()) for a in delivery.attempts],
    )


@router.post("/v1/webhook-endpoints", status_code=201, tags=["webhooks"], summary="Register a webhook endpoint")
def create_webhook_endpoint(body: EndpointIn) -> EndpointCreatedOut:
    tenant_id = tenant_id_of(router.current_event)
    if body.event_types is not None and not body.event_types:
        raise ValidationFailed("event_types must name at least one event type, or be omitted", field="event_types")
    if len(endpoint_store.list_endpoints(tenant_id)) >= MAX_ENDPOINTS_PER_TENANT:
        # Every event fans out to every endpoint: a bound keeps one tenant from slowing the rest.
        raise Conflict(
            f"a tenant has at most {MAX_ENDPOINTS_PER_TENANT} webhook endpoints; remove one first",
            field="url", code="too_many_endpoints",
        )
    url = ssrf.validate_url(body.url.strip(), field="url")
    endpoint, secret = secrets.register_endpoint(
        tenant_id, url=url, event_types=list(body.event_types or EVENT_TYPES), description=body.description
    )
    return EndpointCreatedOut(**_endpoint_out(endpoint).model_dump(), secret=secret)


@router.get("/v1/webhook-endpoints", tags=["webhooks"], summary="List the tenant's webhook endpoints")
def list_webhook_endpoints() -> EndpointList:
    tenant_id = tenant_id_of(router.current_event)
    return EndpointList(data=[_endpoint_out(e) for e in endpoint_store.list_endpoints(tenant_id)])


@router.post(
    "/v1/webhook-endpoints/tenant-secret",
    status_code=201,
    tags=["webhooks"],
    summary="Create or rotate the secret that signs deliveries to jobs' own webhook_url",
)
def rotate_tenant_secret() -> SecretOut:
    tenant_id = tenant_id_of(router.current_event)
    return SecretOut(secret=secrets.rotate_tenant_secret(tenant_id))


@router.delete(
    "/v1/webhook-endpoints/<endpoint_id>", status_code=204, tags=["webhooks"], summary="Remove a webhook endpoint"
)
def delete_webhook_endpoint(endpoint_id: str) -> Response[None]:
    tenant_id = tenant_id_of(router.current_event)
    endpoint_store.delete_endpoint(tenant_id, endpoint_id)
    return Response(status_code=204, body="")


@router.post(
    "/v1/webhook-endpoints/<endpoint_id>/test", tags=["webhooks"], summary="Send a signed test event now"
)
def test_webhook_endpoint(endpoint_id: str) -> TestDeliveryOut:
    tenant_id = tenant_id_of(router.current_event)
    result = attempts.send_test_event(tenant_id, endpoint_id)
    return TestDeliveryOut(
        delivered=result.ok,
        status_code=result.entry.status_code,
        error=result.entry.error,
        attempt=AttemptOut(**result.entry.model_dump()),
    )


@router.get("/v1/jobs/<job_id>/deliveries", tags=["webhooks"], summary="The webhook delivery log of a job")
def list_job_deliveries(job_id: str) -> DeliveryList:
    tenant_id = tenant_id_of(router.current_event)
    job_store.get_job(job_id, tenant_id=tenant_id)  # NotFound for another tenant's job
    return DeliveryList(data=[_delivery_out(d) for d in delivery_store.list_deliveries(job_id)])
