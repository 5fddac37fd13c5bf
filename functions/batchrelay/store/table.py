"""Access to the table, conversion between items and plain Python values, and the shared
shapes of every store: conditional writes that name what they found, paged queries, guards."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
import orjson
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from batchrelay.errors import NotFound, TransitionRefused, ValidationFailed
from batchrelay.settings import get_settings

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class Table:
    """The table's item operations with Python values in and out, and conditions built from
    ``boto3.dynamodb.conditions`` (Key, Attr): what ``boto3.resource("dynamodb").Table`` does,
    with the same transformations of boto3's, over a plain client. Building the resource
    costs a first request about 0.15 s more (the API function's cold start).

    Its client is its own: the transformations apply to every call made through it, and
    transactions elsewhere pass values already serialized (``clients.dynamodb()``)."""

    def __init__(self, name: str) -> None:
        from boto3.dynamodb.transform import TransformationInjector, copy_dynamodb_params

        from batchrelay.aws.clients import CLIENT_CONFIG

        self.name = name
        self.client = boto3.client("dynamodb", config=CLIENT_CONFIG)
        events = self.client.meta.events
        injector = TransformationInjector()
        events.register("provide-client-params.dynamodb", copy_dynamodb_params, unique_id="dynamodb-params-copy")
        events.register("before-parameter-build.dynamodb", injector.inject_condition_expressions,
                        unique_id="dynamodb-condition-expression")
        events.register("before-parameter-build.dynamodb", injector.inject_attribute_value_input,
                        unique_id="dynamodb-attr-value-input")
        events.register("after-call.dynamodb", injector.inject_attribute_value_output,
                        unique_id="dynamodb-attr-value-output")

    def get_item(self, **params: Any) -> dict[str, Any]:
        return self.client.get_item(TableName=self.name, **params)

    def put_item(self, **params: Any) -> dict[str, Any]:
        return self.client.put_item(TableName=self.name, **params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self.client.update_item(TableName=self.name, **params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        return self.client.delete_item(TableName=self.name, **params)

    def query(self, **params: Any) -> dict[str, Any]:
        return self.client.query(TableName=self.name, **params)

    def scan(self, **params: Any) -> dict[str, Any]:
        return self.client.scan(TableName=self.name, **params)


@cache
def _table(table_name: str) -> Table:
    return Table(table_name)


def table() -> Table:
    return _table(get_settings().table_name)


def table_name() -> str:
    return get_settings().table_name


def reset() -> None:
    _table.cache_clear()


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
        raise ValidationFailed("cursor is not one this API returned", field="cursor") from exc
    if not isinstance(key, dict):
        raise ValidationFailed("cursor is not one this API returned", field="cursor")
    return key


# --- the shared shapes of every store ---------------------------------------------------


@dataclass(frozen=True)
class Guard:
    """A named extra condition on a conditional write (its expression, names and values)."""

    expression: str
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def add_to(self, condition: str, names: dict[str, str], values: dict[str, Any]) -> str:
        names.update(self.names)
        values.update(self.values)
        return f"{condition} AND ({self.expression})" if condition else self.expression


def attribute_is(attribute: str, value: Any) -> Guard:
    """The item's ``attribute`` still holds ``value`` (what the writer read before)."""
    return Guard(f"#g_{attribute} = :g_{attribute}", {f"#g_{attribute}": attribute}, {f":g_{attribute}": value})


def is_condition_failure(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def cancelled_by_condition(exc: ClientError, index: int) -> bool:
    """Whether item ``index`` of a refused transaction failed its condition (not a conflict)."""
    if exc.response["Error"]["Code"] != "TransactionCanceledException":
        return False
    reasons = exc.response.get("CancellationReasons") or []
    return len(reasons) > index and reasons[index].get("Code") == "ConditionalCheckFailed"


def put_if_absent(item: dict[str, Any]) -> bool:
    """Put the item unless its key exists; False when it existed (nothing written)."""
    try:
        table().put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(pk)")
        return True
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return False


def get(key: dict[str, str]) -> dict[str, Any] | None:
    """The item (consistent read) as plain values, or None."""
    item = table().get_item(Key=key, ConsistentRead=True).get("Item")
    return from_dynamo(item) if item else None


def _update(
    key: dict[str, str], *, expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
) -> dict[str, Any] | None:
    """The item after the update, or None when ``condition`` refused it."""
    kwargs: dict[str, Any] = {"Key": key, "UpdateExpression": expression, "ReturnValues": "ALL_NEW"}
    if names:
        kwargs["ExpressionAttributeNames"] = names
    if values:
        kwargs["ExpressionAttributeValues"] = to_dynamo(values)
    if condition:
        kwargs["ConditionExpression"] = condition
    try:
        return from_dynamo(table().update_item(**kwargs)["Attributes"])
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise
        return None


def conditional_update(
    key: dict[str, str],
    *,
    expression: str,
    condition: str,
    names: dict[str, str],
    values: dict[str, Any],
    what: str,
    expected: tuple[str, ...] = (),
    field: str | None = None,
) -> dict[str, Any]:
    """Update the item if ``condition`` holds; returns it as it is after the change.

    A refused condition reads the item back and raises NotFound (no item) or
    TransitionRefused naming the status found, so callers never guess what happened.
    """
    item = _update(key, expression=expression, condition=condition, names=names, values=values)
    if item is not None:
        return item
    current = get(key)
    if current is None:
        raise NotFound(f"{what} not found", field=field)
    raise TransitionRefused(
        f"{what} is {current.get('status')}, expected one of {list(expected)}",
        current=current.get("status"),
        expected=expected,
    )


def update_if(
    key: dict[str, str], *, expression: str, condition: str, names: dict[str, str], values: dict[str, Any]
) -> dict[str, Any] | None:
    """Update the item if ``condition`` holds: the item after the change, or None if refused."""
    return _update(key, expression=expression, condition=condition, names=names, values=values)


def query_items(**query: Any) -> Iterator[dict[str, Any]]:
    """Every item a query matches, page after page (raw items: callers convert them)."""
    while True:
        page = table().query(**query)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        query = {**query, "ExclusiveStartKey": page["LastEvaluatedKey"]}


def query_models(convert: Callable[[dict[str, Any]], Any], **query: Any) -> list[Any]:
    return [convert(item) for item in query_items(**query)]
