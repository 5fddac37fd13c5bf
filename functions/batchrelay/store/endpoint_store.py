"""Tenants' webhook endpoints in the table (TENANT#<tenant> / WEBHOOK#<endpoint_id>)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchrelay.clock import now_iso
from batchrelay.errors import NotFound
from batchrelay.ids import new_id
from batchrelay.models.webhooks import WebhookEndpoint
from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, get, is_condition_failure, query_items, table, to_dynamo, update_if

_NOT_MODEL = {"pk", "sk"}


def _from_item(item: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate({k: v for k, v in from_dynamo(item).items() if k not in _NOT_MODEL})


def create_endpoint(
    tenant_id: str, *, url: str, event_types: list[str], secret: str, description: str | None = None
) -> WebhookEndpoint:
    """Store a new endpoint with its signing secret (made by the caller, who shows it once)."""
    now = now_iso()
    endpoint = WebhookEndpoint(
        endpoint_id=new_id("whe"),
        tenant_id=tenant_id,
        url=url,
        event_types=list(dict.fromkeys(event_types)),
        description=description,
        secret=secret,
        created_at=now,
        updated_at=now,
    )
    item = {**endpoint.model_dump(mode="json"), **keys.webhook_endpoint_key(tenant_id, endpoint.endpoint_id)}
    table().put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(pk)")
    return endpoint


def get_endpoint(tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    item = get(keys.webhook_endpoint_key(tenant_id, endpoint_id))
    if not item:
        raise NotFound(f"webhook endpoint {endpoint_id} not found", field="endpoint_id")
    return _from_item(item)


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
