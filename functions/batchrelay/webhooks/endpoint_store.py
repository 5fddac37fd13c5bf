"""Tenants' webhook endpoints in the table (TENANT#<tenant> / WEBHOOK#<endpoint_id>)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchrelay.errors import NotFound
from batchrelay.ids import new_id
from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, now_iso, table, to_dynamo
from batchrelay.webhooks import secret_box
from batchrelay.webhooks.models import WebhookEndpoint
from batchrelay.webhooks.signing import new_secret

# The stored secret never reaches the model: only signing opens it (get_endpoint_with_secret).
_NOT_MODEL = {"pk", "sk", *secret_box.STORED_ATTRIBUTES}


def _from_item(item: dict[str, Any]) -> WebhookEndpoint:
    return WebhookEndpoint.model_validate({k: v for k, v in from_dynamo(item).items() if k not in _NOT_MODEL})


def create_endpoint(
    tenant_id: str, *, url: str, event_types: list[str], description: str | None = None
) -> WebhookEndpoint:
    """Store a new endpoint with a fresh signing secret (the caller shows it once)."""
    now = now_iso()
    secret = new_secret()
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
    item = {
        **endpoint.model_dump(mode="json", exclude={"secret"}),
        **keys.webhook_endpoint_key(tenant_id, endpoint.endpoint_id),
        **secret_box.seal(secret, secret_box.endpoint_context(tenant_id, endpoint.endpoint_id)),
    }
    table().put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(pk)")
    return endpoint


def _get_item(tenant_id: str, endpoint_id: str) -> dict[str, Any]:
    item = table().get_item(Key=keys.webhook_endpoint_key(tenant_id, endpoint_id), ConsistentRead=True).get("Item")
    if not item:
        raise NotFound(f"webhook endpoint {endpoint_id} not found", field="endpoint_id")
    return item


def get_endpoint(tenant_id: str, endpoint_id: str) -> WebhookEndpoint:
    return _from_item(_get_item(tenant_id, endpoint_id))


def get_endpoint_with_secret(tenant_id: str, endpoint_id: str) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret (decrypted: only the functions that sign may)."""
    item = _get_item(tenant_id, endpoint_id)
    secret = secret_box.unseal(item, secret_box.endpoint_context(tenant_id, endpoint_id))
    if not secret:
        raise NotFound(f"webhook endpoint {endpoint_id} has no signing secret", field="endpoint_id")
    return _from_item(item), secret


def list_endpoints(tenant_id: str) -> list[WebhookEndpoint]:
    endpoints: list[WebhookEndpoint] = []
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(keys.tenant_pk(tenant_id)) & Key("sk").begins_with("WEBHOOK#"),
        "ConsistentRead": True,
    }
    while True:
        page = table().query(**query)
        endpoints.extend(_from_item(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return sorted(endpoints, key=lambda e: e.created_at)
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def matching_endpoints(tenant_id: str, event_type: str) -> list[WebhookEndpoint]:
    """The tenant's enabled endpoints subscribed to ``event_type``."""
    return [e for e in list_endpoints(tenant_id) if e.wants(event_type)]


def delete_endpoint(tenant_id: str, endpoint_id: str) -> None:
    try:
        table().delete_item(
            Key=keys.webhook_endpoint_key(tenant_id, endpoint_id), ConditionExpression="attribute_exists(pk)"
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise NotFound(f"webhook endpoint {endpoint_id} not found", field="endpoint_id") from exc


def disable_endpoint(tenant_id: str, endpoint_id: str, *, reason: str) -> bool:
    """Stop delivering to an endpoint (it answered 410 Gone); False if it no longer exists."""
    try:
        table().update_item(
            Key=keys.webhook_endpoint_key(tenant_id, endpoint_id),
            UpdateExpression="SET enabled = :false, disabled_reason = :reason, updated_at = :now",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":false": False, ":reason": reason, ":now": now_iso()},
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
