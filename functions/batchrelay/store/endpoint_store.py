"""Tenants' webhook endpoints in the table (TENANT#<tenant> / WEBHOOK#<endpoint_id>).

The signing secret is stored as the webhooks package hands it over (sealed with KMS:
``webhooks.secret_box``) and never reaches the model: it is read only by
``get_stored_secret``, for the functions that sign.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchrelay import constants as c
from batchrelay.clock import now_iso
from batchrelay.errors import NotFound
from batchrelay.ids import new_id
from batchrelay.models.webhooks import WebhookEndpoint
from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, get, is_condition_failure, query_items, table, to_dynamo, update_if

_NOT_MODEL = {"pk", "sk", *c.SECRET_ATTRIBUTES}


def _from_item(item: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate({k: v for k, v in from_dynamo(item).items() if k not in _NOT_MODEL})


def new_endpoint_id() -> str:
    return new_id("whe")


def create_endpoint(
    tenant_id: str,
    *,
    endpoint_id: str,
    url: str,
    event_types: list[str],
    stored_secret: dict[str, Any],
    description: str | None = None,
) -> WebhookEndpoint:
    """Store a new endpoint with its secret attributes (sealed by the caller)."""
    now = now_iso()
    endpoint = WebhookEndpoint(
        endpoint_id=endpoint_id,
        tenant_id=tenant_id,
        url=url,
        event_types=list(dict.fromkeys(event_types)),
        description=description,
        created_at=now,
        updated_at=now,
    )
    item = {
        **endpoint.model_dump(mode="json", exclude={"secret"}),
        **keys.webhook_endpoint_key(tenant_id, endpoint.endpoint_id),
        **stored_secret,
    }
    table().put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(pk)")
    return endpoint


def _get_item(tenant_id: str, endpoint_id: str) -> dict[str, Any]:
    item = get(keys.webhook_endpoint_key(tenant_id, endpoint_id))
    if not item:
        raise NotFound(f"webhook endpoint {endpoint_id} not found", field="endpoint_id")
    return item


def get_endpoint(tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    return _from_item(_get_item(tenant_id, endpoint_id))


def get_endpoint_and_stored_secret(tenant_id: str, endpoint_id: str) -> tuple[WebhookEndpoint, dict[str, Any]]:
    """The endpoint and the attributes its secret is stored in (still sealed)."""
    item = _get_item(tenant_id, endpoint_id)
    return _from_item(item), {name: item[name] for name in c.SECRET_ATTRIBUTES if name in item}


def list_endpoints(tenant_id: str) -> list[WebhookEndpoint]:
    items = query_items(
        KeyConditionExpression=Key("pk").eq(keys.tenant_pk(tenant_id)) & Key("sk").begins_with(keys.WEBHOOK_SK_PREFIX),
        ConsistentRead=True,
    )
    return sorted((_from_item(item) for item in items), key=lambda e: e.created_at)


def matching_endpoints(tenant_id: str, event_type: str) -> list[WebhookEndpoint]:
    """The tenant's enabled endpoints subscribed to ``event_type``."""
    return [e for e in list_endpoints(tenant_id) if e.wants(event_type)]


def delete_endpoint(tenant_id: str, endpoint_id: str) -> None:
    try:
        table().delete_item(
            Key=keys.webhook_endpoint_key(tenant_id, endpoint_id), ConditionExpression="attribute_exists(pk)"
        )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        raise NotFound(f"webhook endpoint {endpoint_id} not found", field="endpoint_id") from exc


def disable_endpoint(tenant_id: str, endpoint_id: str, *, reason: str) -> bool:
    """Stop delivering to an endpoint (it answered 410 Gone); False if it no longer exists."""
    return update_if(
        keys.webhook_endpoint_key(tenant_id, endpoint_id),
        expression="SET enabled = :false, disabled_reason = :reason, updated_at = :now",
        condition="attribute_exists(pk)",
        names={},
        values={":false": False, ":reason": reason, ":now": now_iso()},
    ) is not None
