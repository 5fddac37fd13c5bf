"""The tenant's signing secret item (TENANT#<tenant> / SIGNING_SECRET).

Only storage: the secret arrives sealed (``webhooks.secret_box``) and leaves sealed; which
secret to make and when is the webhooks package's decision.
"""

from __future__ import annotations

from typing import Any

from batchrelay import constants as c
from batchrelay.clock import now_iso
from batchrelay.store import keys
from batchrelay.store.table import get, put_if_absent, table, to_dynamo


def get_stored_tenant_secret(tenant_id: str) -> dict[str, Any] | None:
    """The attributes the tenant's secret is stored in (still sealed), or None."""
    item = get(keys.tenant_secret_key(tenant_id))
    if item is None:
        return None
    return {name: item[name] for name in c.SECRET_ATTRIBUTES if name in item}


def tenant_secret_exists(tenant_id: str) -> bool:
    item = table().get_item(
        Key=keys.tenant_secret_key(tenant_id), ConsistentRead=True, ProjectionExpression="pk"
    ).get("Item")
    return item is not None


def put_tenant_secret_if_absent(tenant_id: str, stored_secret: dict[str, Any]) -> bool:
    """Store the tenant's first secret; False when it already had one (nothing written)."""
    return put_if_absent({**keys.tenant_secret_key(tenant_id), **stored_secret, "created_at": now_iso()})


def replace_tenant_secret(tenant_id: str, stored_secret: dict[str, Any]) -> None:
    table().put_item(Item=to_dynamo({**keys.tenant_secret_key(tenant_id), **stored_secret, "created_at": now_iso()}))
