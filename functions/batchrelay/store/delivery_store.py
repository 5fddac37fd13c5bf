"""Delivery records (JOB#<job_id> / DELIVERY#<event_id>#<endpoint_id>) and their attempt log.

Every change is conditional: creation on absence (a redelivered event adds nothing), an
attempt on a lease keyed by its number (a duplicate message cannot send it twice), and
the outcome on holding that lease.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from batchrelay import constants as c
from batchrelay.clock import now_iso
from batchrelay.errors import NotFound
from batchrelay.models.webhooks import Delivery, DeliveryAttempt, DeliveryStatus
from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, get, put_if_absent, query_items, update_if

_NOT_MODEL = {"pk", "sk", c.TTL_ATTRIBUTE}


def _from_item(item: dict[str, Any]) -> Delivery:
    return Delivery.model_validate({k: v for k, v in from_dynamo(item).items() if k not in _NOT_MODEL})


def _key(delivery: Delivery) -> dict[str, str]:
    return keys.delivery_key(delivery.job_id, delivery.event_id, delivery.endpoint_id)


def create_delivery(delivery: Delivery, *, expires_at: int | None = None) -> tuple[Delivery, bool]:
    """Store a new delivery unless one exists for (event, endpoint); returns (stored, created).

    ``expires_at``: its TTL (deliveries are made once the job is final, so they get it at once).
    """
    item = {**delivery.model_dump(mode="json"), **_key(delivery)}
    if expires_at is not None:
        item[c.TTL_ATTRIBUTE] = expires_at
    if put_if_absent(item):
        return delivery, True
    existing = get_delivery(delivery.job_id, delivery.event_id, delivery.endpoint_id)
    if existing is None:
        # Deleted between the two calls (its job's data was deleted on request).
        raise NotFound(f"delivery of {delivery.event_id} to {delivery.endpoint_id} is gone", field="job_id")
    return existing, False


def get_delivery(job_id: str, event_id: str, endpoint_id: str) -> Delivery | None:
    item = get(keys.delivery_key(job_id, event_id, endpoint_id))
    return _from_item(item) if item else None


def list_deliveries(job_id: str) -> list[Delivery]:
    items = query_items(
        KeyConditionExpression=Key("pk").eq(keys.job_pk(job_id)) & Key("sk").begins_with(keys.DELIVERY_SK_PREFIX),
        ConsistentRead=True,
    )
    return sorted((_from_item(item) for item in items), key=lambda d: (d.created_at, d.endpoint_id))


def claim_attempt(delivery: Delivery, attempt: int, *, now: float, lease_seconds: float) -> Delivery | None:
    """Take the lease on attempt ``attempt`` of a pending delivery; None if it is not ours to make."""
    item = update_if(
        _key(delivery),
        expression="SET claimed_attempt = :n, claim_expires = :until, updated_at = :now_iso",
        condition=(
            "#status = :pending AND attempt_count = :previous "
            "AND (attribute_not_exists(claim_expires) OR claim_expires < :now)"
        ),
        names={"#status": "status"},
        values={
            ":n": attempt,
            ":until": now + lease_seconds,
            ":now": now,
            ":now_iso": now_iso(),
            ":pending": "pending",
            ":previous": attempt - 1,
        },
    )
    return _from_item(item) if item else None


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
    item = update_if(
        _key(delivery),
        expression=f"SET {', '.join(set_parts)} REMOVE {', '.join(remove_parts)}",
        condition="claimed_attempt = :n AND attempt_count = :previous",
        names={"#status": "status"},
        values=values,
    )
    return _from_item(item) if item else None
