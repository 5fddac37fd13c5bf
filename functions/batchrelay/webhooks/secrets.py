"""The tenant's signing secret: signs deliveries to jobs' own ``webhook_url``.

Registered endpoints each have their own secret; a job's ``webhook_url`` has no endpoint,
so its deliveries are signed with this per-tenant secret (TENANT#<tenant> / SIGNING_SECRET).
It is created on first need and shown to the tenant by rotating it
(``POST /v1/webhook-endpoints/tenant-secret``), which answers the new secret once.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from batchrelay.store import keys
from batchrelay.store.table import now_iso, table
from batchrelay.webhooks.signing import new_secret


def get_tenant_secret(tenant_id: str) -> str | None:
    item = table().get_item(Key=keys.tenant_secret_key(tenant_id), ConsistentRead=True).get("Item")
    return str(item["secret"]) if item else None


def ensure_tenant_secret(tenant_id: str) -> tuple[str, bool]:
    """The tenant's secret, created if it has none; returns (secret, created)."""
    existing = get_tenant_secret(tenant_id)
    if existing:
        return existing, False
    secret = new_secret()
    try:
        table().put_item(
            Item={**keys.tenant_secret_key(tenant_id), "secret": secret, "created_at": now_iso()},
            ConditionExpression="attribute_not_exists(pk)",
        )
        return secret, True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    # Another request created it first: use theirs.
    return str(get_tenant_secret(tenant_id)), False


def rotate_tenant_secret(tenant_id: str) -> str:
    """Replace the tenant's secret with a new one and return it (the only time it is shown)."""
    secret = new_secret()
    table().put_item(Item={**keys.tenant_secret_key(tenant_id), "secret": secret, "created_at": now_iso()})
    return secret
