"""Delivery records (JOB#<job_id> / DELIVERY#<event_id>#<endpoint_id>) and their attempt log.

Every change is conditional: creation on absence (a redelivered event adds nothing), an
attempt on a lease keyed by its number (a duplicate message cannot send it twice), and
the outcome on holding that lease.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, now_iso, table, to_dynamo
from batchrelay.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus

_NOT_MODEL = {"pk", "sk"}


def _from_item(item: dict[str, Any]) -> Delivery:
    return Delivery.model_validate({k: v for k, v in from_dynamo(item).items() if k not in _NOT_MODEL})


def _key(delivery: Delivery) -> dict[str, str]:
    return keys.delivery_key(delivery.job_id, delivery.event_id, delivery.endpoint_id)


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def create_delivery(delivery: Delivery) -> tuple[Delivery, bool]:
    """Store a new delivery unless one exists for (event, endpoint); returns (stored, created)."""
    item = {**delivery.model_dump(mode="json"), **_key(delivery)}
    try:
        table().put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(pk)")
        return delivery, True
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
    existing = get_delivery(delivery.job_id, delivery.event_id, delivery.endpoint_id)
    assert existing is not None  # deliveries are never deleted
    return existing, False


def get_delivery(job_id: str, event_id: str, endpoint_id: str) -> Delivery | None:
    item = table().get_item(Key=keys.delivery_key(job_id, event_id, endpoint_id), ConsistentRead=True).get("Item")
    return _from_item(item) if item else None


def list_deliveries(job_id: str) -> list[Delivery]:
    deliveries: list[Delivery] = []
    query: dict[str, Any] = {
        "KeyConditionExpression": Key("pk").eq(keys.job_key(job_id)["pk"]) & Key("sk").begins_with("DELIVERY#"),
        "ConsistentRead": True,
    }
    while True:
        page = table().query(**query)
        deliveries.extend(_from_item(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return sorted(deliveries, key=lambda d: (d.created_at, d.endpoint_id))
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def claim_attempt(delivery: Delivery, attempt: int, *, now: float, lease_seconds: float) -> Delivery | None:
    """Take the lease on attempt ``attempt`` of a pending delivery; None if it is not ours to make."""
    try:
        result = table().update_item(
            Key=_key(delivery),
            UpdateExpression="SET claimed_attempt = :n, claim_expires = :until, updated_at = :now_iso",
            ConditionExpression=(
                "#status = :pending AND attempt_count = :previous "
                "AND (attribute_not_exists(claim_expires) OR claim_expires < :now)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_dynamo(
                {
                    ":n": attempt,
                    ":until": now + lease_seconds,
                    ":now": now,
                    ":now_iso": now_iso(),
                    ":pending": "pending",
                    ":previous": attempt - 1,
                }
            ),
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
        return None
    return _from_item(result["Attributes"])


def record_attempt(
    delivery: Delivery,
    entry: DeliveryAttempt,
    *,
    status: DeliveryStatus,
    next_attempt_at: str | None,
    failure_reason: str | None = None,
) -> Delivery | None:
    """Append the attempt to the log and set the outcome, if we still hold its lease."""
    values: dict[str, Any] = {
        ":entry": [entry.model_dump(mode="json")],
        ":n": entry.attempt,
        ":previous": entry.attempt - 1,
        ":status": status,
        ":now_iso": now_iso(),
    }
    set_parts = [
        "attempts = list_append(attempts, :entry)",
        "attempt_count = :n",
        "#status = :status",
        "updated_at = :now_iso",
    ]
    remove_parts = ["claimed_attempt", "claim_expires"]
    for name, value in (("next_attempt_at", next_attempt_at), ("failure_reason", failure_reason)):
        if value is None:
            remove_parts.append(name)
        else:
            values[f":{name}"] = value
            set_parts.append(f"{name} = :{name}")
    try:
        result = table().update_item(
            Key=_key(delivery),
            UpdateExpression=f"SET {', '.join(set_parts)} REMOVE {', '.join(remove_parts)}",
            ConditionExpression="claimed_attempt = :n AND attempt_count = :previous",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_dynamo(values),
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if not _conditional_failed(exc):
            raise
        return None
    return _from_item(result["Attributes"])
