"""Signing secrets: the tenant's (for jobs' own ``webhook_url``) and each endpoint's.

Registered endpoints each have their own secret; a job's ``webhook_url`` has no endpoint,
so its deliveries are signed with this per-tenant secret. The tenant secret is created when
a job first names a ``webhook_url`` and shown to the tenant by rotating it
(``POST /v1/webhook-endpoints/tenant-secret``), which answers the new secret once. Every
secret is stored sealed (``secret_box``): the api function seals, the signers open.
"""

from __future__ import annotations

from batchrelay.errors import NotFound
from batchrelay.models.webhooks import WebhookEndpoint
from batchrelay.store import endpoint_store, tenant_secret_store
from batchrelay.webhooks import secret_box
from batchrelay.webhooks.signing import new_secret


def get_tenant_secret(tenant_id: str) -> str | None:
    stored = tenant_secret_store.get_stored_tenant_secret(tenant_id)
    return secret_box.unseal(stored, secret_box.tenant_context(tenant_id)) if stored is not None else None


def ensure_tenant_secret(tenant_id: str) -> bool:
    """Create the tenant's secret unless it has one (never reading it); True if created."""
    if tenant_secret_store.tenant_secret_exists(tenant_id):
        return False
    sealed = secret_box.seal(new_secret(), secret_box.tenant_context(tenant_id))
    return tenant_secret_store.put_tenant_secret_if_absent(tenant_id, sealed)  # False: another request won


def rotate_tenant_secret(tenant_id: str) -> str:
    """Replace the tenant's secret with a new one and return it (the only time it is shown)."""
    secret = new_secret()
    tenant_secret_store.replace_tenant_secret(tenant_id, secret_box.seal(secret, secret_box.tenant_context(tenant_id)))
    return secret


def register_endpoint(
    tenant_id: str, *, url: str, event_types: list[str], description: str | None = None
) -> tuple[WebhookEndpoint, str]:
    """Store a new endpoint with a fresh secret, sealed; returns it and the secret (shown once)."""
    endpoint_id = endpoint_store.new_endpoint_id()
    secret = new_secret()
    endpoint = endpoint_store.create_endpoint(
        tenant_id,
        endpoint_id=endpoint_id,
        url=url,
        event_types=event_types,
        description=description,
        stored_secret=secret_box.seal(secret, secret_box.endpoint_context(tenant_id, endpoint_id)),
    )
    return endpoint, secret


def endpoint_with_secret(tenant_id: str, endpoint_id: str) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret, opened (only the functions that sign may)."""
    endpoint, stored = endpoint_store.get_endpoint_and_stored_secret(tenant_id, endpoint_id)
    secret = secret_box.unseal(stored, secret_box.endpoint_context(tenant_id, endpoint_id))
    if not secret:
        raise NotFound(f"webhook endpoint {endpoint_id} has no signing secret", field="endpoint_id")
    return endpoint, secret
