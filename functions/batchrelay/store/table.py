"""Access to the table and conversion between items and plain Python values."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
import orjson
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from batchrelay.settings import get_settings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@cache
def _resource(table_name: str) -> Any:
    return boto3.resource("dynamodb").Table(table_name)


def table() -> Any:
    return _resource(get_settings().table_name)


def table_name() -> str:
    return get_settings().table_name


def reset() -> None:
    _resource.cache_clear()


def to_dynamo(value: Any) -> Any:
    """Floats become Decimals (DynamoDB's number type); None values are dropped from maps."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return value


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_dynamo(v) for v in value]
    if isinstance(value, set):
        return sorted(from_dynamo(v) for v in value)
    return value


def serialize_item(item: dict[str, Any]) -> dict[str, Any]:
    """A plain item in the low-level client's typed form (for transactions)."""
    return {k: _serializer.serialize(v) for k, v in to_dynamo(item).items()}


def serialize_value(value: Any) -> dict[str, Any]:
    return _serializer.serialize(to_dynamo(value))


def deserialize_item(item: dict[str, Any]) -> dict[str, Any]:
    return from_dynamo({k: _deserializer.deserialize(v) for k, v in item.items()})


def status_in(statuses: tuple[str, ...], names: dict[str, str], values: dict[str, Any]) -> str:
    """The condition "the item exists and its status is one of ``statuses``" (adds its names/values)."""
    names["#status"] = "status"
    placeholders = []
    for i, status in enumerate(statuses):
        values[f":e{i}"] = str(status)
        placeholders.append(f":e{i}")
    return f"attribute_exists(pk) AND #status IN ({', '.join(placeholders)})"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_cursor(last_evaluated_key: dict[str, Any] | None) -> str | None:
    if not last_evaluated_key:
        return None
    return base64.urlsafe_b64encode(orjson.dumps(from_dynamo(last_evaluated_key))).decode()


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        from batchrelay.errors import ValidationFailed

        raise ValidationFailed("cursor is not one this API returned", field="cursor") from exc
    if not isinstance(key, dict):
        from batchrelay.errors import ValidationFailed

        raise ValidationFailed("cursor is not one this API returned", field="cursor")
    return key
