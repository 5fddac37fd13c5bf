"""The tenant's signing secret: signs deliveries to jobs' own ``webhook_url``.

Registered endpoints each have their own secret; a job's ``webhook_url`` has no endpoint,
so its deliveries are signed with this per-tenant secret (stored by
``store.tenant_secret_store``). It is created on first need and shown to the tenant by
rotating it (``POST /v1/webhook-endpoints/tenant-secret``), which answers the new secret once.
"""

from __future__ import annotations

from batchrelay.store import tenant_secret_store
from batchrelay.webhooks.signing import new_secret


def get_tenant_secret(tenant_id: str) -> str | None:
    return tenant_secret_store.get_tenant_secret(tenant_id)


def ensure_tenant_secret(tenant_id: str) -> tuple[str, bool]:
    """The tenant's secret, created if it has none; returns (secret, created)."""
    existing = tenant_secret_store.get_tenant_secret(tenant_id)
    if existing:
        return existing, False
    secret = new_secret()
    if tenant_secret_store.put_tenant_secret_if_absent(tenant_id, secret):
        return secret, True
    # Another request created it first: use theirs.
    return str(tenant_secret_store.get_tenant_secret(tenant_id)), False


def rotate_tenant_secret(tenant_id: str) -> str:
    """Replace the tenant's secret with a new one and return it (the only time it is shown)."""
    secret = new_secret()
    tenant_secret_store.replace_tenant_secret(tenant_id, secret)
    return secret
