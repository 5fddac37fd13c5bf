"""The tenant's signing secret: signs deliveries to jobs' own ``webhook_url``.

Registered endpoints each have their own secret; a job's ``webhook_url`` has no endpoint,
so its deliveries are signed with this per-tenant secret (TENANT#<tenant> / SIGNING_SECRET).
It is created when a job first names a ``webhook_url`` and shown to the tenant by rotating
it (``POST /v1/webhook-endpoints/tenant-secret``), which answers the new secret once. It is
stored encrypted (``secret_box``): the api function seals it, the webhook function opens it.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from batchrelay.store import keys
from batchrelay.store.table import now_iso, table
from batchrelay.webhooks import secret_box
from batchrelay.webhooks.signing import new_secret


def get_tenant_secret(tenant_id: str) -> str | None:
    item = table().get_item(Key=keys.tenant_secret_key(tenant_id), ConsistentRead=True).get("Item")
    return secret_box.unseal(item, secret_box.tenant_context(tenant_id)) if item else None


def _secret_item(tenant_id: str, secret: str) -> dict:
    return {
        **keys.tenant_secret_key(tenant_id),
        **secret_box.seal(secret, secret_box.tenant_context(tenant_id)),
        "created_at": now_iso(),
    }


def ensure_tenant_secret(tenant_id: str) -> bool:
    """Create the tenant's secret unless it has one (never reading it); True if created."""
    exists = table().get_item(
        Key=keys.tenant_secret_key(tenant_id), ConsistentRead=True, ProjectionExpression="pk"
    ).get("Item")
    if exists:
        return False
    try:
        table().put_item(Item=_secret_item(tenant_id, new_secret()), ConditionExpression="attribute_not_exists(pk)")
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return False  # another request created it first


def rotate_tenant_secret(tenant_id: str) -> str:
    """Replace the tenant's secret with a new one and return it (the only time it is shown)."""
    secret = new_secret()
    table().put_item(Item=_secret_item(tenant_id, secret))
    return secret
