"""The tenant's signing secret item (TENANT#<tenant> / SIGNING_SECRET).

Only storage: which secret to make and when is the webhooks package's decision.
"""

from __future__ import annotations

from batchrelay.clock import now_iso
from batchrelay.store import keys
from batchrelay.store.table import get, put_if_absent, table, to_dynamo


def get_tenant_secret(tenant_id: str) -> str | None:
    item = get(keys.tenant_secret_key(tenant_id))
    return str(item["secret"]) if item else None


def put_tenant_secret_if_absent(tenant_id: str, secret: str) -> bool:
    """Store the tenant's first secret; False when it already had one (nothing written)."""
    return put_if_absent({**keys.tenant_secret_key(tenant_id), "secret": secret, "created_at": now_iso()})


def replace_tenant_secret(tenant_id: str, secret: str) -> None:
    table().put_item(Item=to_dynamo({**keys.tenant_secret_key(tenant_id), "secret": secret, "created_at": now_iso()}))
