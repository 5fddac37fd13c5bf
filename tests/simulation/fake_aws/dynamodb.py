"""An in-memory DynamoDB that answers the JSON 1.0 wire protocol (one dict in, one dict out).

Requests arrive freshly parsed from JSON and answers are serialized at once, so stored
items are shared with requests and answers without copies; an update builds a new item.

Supported: CreateTable / DescribeTable / DeleteTable / ListTables, GetItem, PutItem,
UpdateItem, DeleteItem (conditions and ReturnValues), Query on the table and on global
secondary indexes (sparse; KeyConditionExpression, FilterExpression, Limit,
ExclusiveStartKey, ScanIndexForward, Select=COUNT, ProjectionExpression), Scan,
BatchGetItem, BatchWriteItem, TransactWriteItems (all or nothing, CancellationReasons per
item) and TransactGetItems. Reads are always consistent (one copy of the data); a
consistent read on an index is refused as DynamoDB refuses it.

The contract suite (test_fake_dynamodb_contract.py) runs the same cases against moto and
this class, so its semantics cannot drift from DynamoDB's as moto has them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.simulation.fake_aws.expressions import (
    AV,
    ExpressionError,
    Item,
    Placeholders,
    apply_update,
    av_type,
    evaluate,
    parse_condition,
    parse_projection,
    parse_update,
    project,
    sort_key,
)

_CONDITION_FAILED = "The conditional request failed"


class DynamoError(Exception):
    """An error answer: ``code`` becomes the ``__type`` suffix; ``extra`` joins the body."""

    def __init__(self, code: str, message: str, *, status: int = 400, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}


def _validation(message: str) -> DynamoError:
    return DynamoError("ValidationException", message)


@dataclass
class KeySchema:
    hash_key: str
    range_key: str | None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.hash_key, self.range_key) if self.range_key else (self.hash_key,)


@dataclass
class Index:
    name: str
    schema: KeySchema
    projection: dict[str, Any]
    # hash key value -> primary keys of the items in the index
    partitions: dict[Any, set[tuple]] = field(default_factory=dict)


@dataclass
class Table:
    name: str
    schema: KeySchema
    attribute_types: dict[str, str]
    indexes: dict[str, Index]
    definition: dict[str, Any]
    items: dict[tuple, Item] = field(default_factory=dict)
    partitions: dict[Any, set[tuple]] = field(default_factory=dict)


def _key_value(av: AV) -> Any:
    kind = av_type(av)
    return (kind, sort_key(av))


class FakeDynamoDB:
    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}
        self.lock = threading.RLock()
        self.writes = 0   # successful writes (the world's stall detector reads it)

    # ------------------------------------------------------------------ dispatch
    def handle(self, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        method = getattr(self, f"op_{operation}", None)
        if method is None:
            raise DynamoError("UnknownOperationException", f"{operation} is not supported by the fake")
        with self.lock:
            try:
                return method(request)
            except ExpressionError as exc:
                raise _validation(str(exc)) from exc

    # ------------------------------------------------------------------ tables
    def op_CreateTable(self, request: dict[str, Any]) -> dict[str, Any]:
        name = request["TableName"]
        if name in self.tables:
            raise DynamoError("ResourceInUseException", f"Table already exists: {name}")
        types = {a["AttributeName"]: a["AttributeType"] for a in request.get("AttributeDefinitions", [])}
        indexes = {
            gsi["IndexName"]: Index(gsi["IndexName"], self._schema(gsi["KeySchema"]), gsi.get("Projection", {}))
            for gsi in request.get("GlobalSecondaryIndexes", [])
        }
        definition = {
            "TableName": name,
            "TableStatus": "ACTIVE",
            "KeySchema": request["KeySchema"],
            "AttributeDefinitions": request.get("AttributeDefinitions", []),
            "TableArn": f"arn:aws:dynamodb:us-east-1:123456789012:table/{name}",
            "ItemCount": 0,
            "GlobalSecondaryIndexes": [
                {**gsi, "IndexStatus": "ACTIVE"} for gsi in request.get("GlobalSecondaryIndexes", [])
            ],
            "BillingModeSummary": {"BillingMode": request.get("BillingMode", "PROVISIONED")},
        }
        self.tables[name] = Table(name, self._schema(request["KeySchema"]), types, indexes, definition)
        return {"TableDescription": definition}

    @staticmethod
    def _schema(key_schema: list[dict[str, str]]) -> KeySchema:
        hash_key = next(k["AttributeName"] for k in key_schema if k["KeyType"] == "HASH")
        range_key = next((k["AttributeName"] for k in key_schema if k["KeyType"] == "RANGE"), None)
        return KeySchema(hash_key, range_key)

    def op_DescribeTable(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        return {"Table": {**table.definition, "ItemCount": len(table.items)}}

    def op_DeleteTable(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        del self.tables[table.name]
        return {"TableDescription": table.definition}

    def op_ListTables(self, request: dict[str, Any]) -> dict[str, Any]:
        return {"TableNames": sorted(self.tables)}

    def _table(self, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise DynamoError("ResourceNotFoundException", "Requested resource not found")
        return table

    # ------------------------------------------------------------------ keys and storage
    def _primary_key(self, table: Table, key: dict[str, AV], *, whole_item: bool = False) -> tuple:
        names = table.schema.names
        if not whole_item and set(key) != set(names):
            raise _validation("The provided key element does not match the schema")
        values = []
        for name in names:
            av = key.get(name)
            if av is None:
                raise _validation(f"One or more parameter values were invalid: Missing the key {name} in the item")
            expected = table.attribute_types.get(name)
            if av_type(av) != expected:
                raise _validation("The provided key element does not match the schema")
            if expected in ("S", "B") and av[expected] == "":
                raise _validation(
                    "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                    f"contain an empty string value. Key: {name}"
                )
            values.append(_key_value(av))
        return tuple(values)

    def _check_index_types(self, table: Table, item: Item) -> None:
        for index in table.indexes.values():
            for name in index.schema.names:
                av = item.get(name)
                expected = table.attribute_types.get(name)
                if av is not None and av_type(av) != expected:
                    raise _validation(
                        "One or more parameter values were invalid: Type mismatch for Index Key "
                        f"{name} Expected: {expected} Actual: {av_type(av)} IndexName: {index.name}"
                    )

    def _store(self, table: Table, pk: tuple, item: Item | None) -> None:
        """Put (or delete, with None) an item, keeping the partitions and indexes in step."""
        old = table.items.get(pk)
        if old is not None:
            for index in table.indexes.values():
                hash_value = self._index_hash(index, old)
                if hash_value is not None:
                    index.partitions.get(hash_value, set()).discard(pk)
        if item is None:
            if old is not None:
                del table.items[pk]
                table.partitions.get(pk[0], set()).discard(pk)
            return
        table.items[pk] = item
        table.partitions.setdefault(pk[0], set()).add(pk)
        for index in table.indexes.values():
            hash_value = self._index_hash(index, item)
            if hash_value is not None:
                index.partitions.setdefault(hash_value, set()).add(pk)
        self.writes += 1

    @staticmethod
    def _index_hash(index: Index, item: Item) -> Any:
        """The item's hash key value in the index, or None when the item is not in it (sparse)."""
        if any(name not in item for name in index.schema.names):
            return None
        return _key_value(item[index.schema.hash_key])

    @staticmethod
    def _placeholders(request: dict[str, Any]) -> Placeholders:
        return Placeholders(
            names=dict(request.get("ExpressionAttributeNames") or {}),
            values=dict(request.get("ExpressionAttributeValues") or {}),
        )

    def _condition_passes(self, request: dict[str, Any], ph: Placeholders, current: Item | None) -> bool:
        expression = request.get("ConditionExpression")
        if not expression:
            return True
        return evaluate(parse_condition(expression, ph), current)

    @staticmethod
    def _condition_failed(request: dict[str, Any], current: Item | None) -> DynamoError:
        extra: dict[str, Any] = {}
        if request.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None:
            extra["Item"] = current
        return DynamoError("ConditionalCheckFailedException", _CONDITION_FAILED, extra=extra)

    # ------------------------------------------------------------------ single-item operations
    def op_GetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        ph = self._placeholders(request)
        projection = parse_projection(request["ProjectionExpression"], ph) if request.get(
            "ProjectionExpression") else None
        ph.check_all_used()
        item = table.items.get(self._primary_key(table, request["Key"]))
        if item is None:
            return {}
        return {"Item": project(item, projection) if projection else item}

    def op_PutItem(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        item = request["Item"]
        pk = self._primary_key(table, {k: item[k] for k in table.schema.names if k in item}, whole_item=True)
        self._check_index_types(table, item)
        ph = self._placeholders(request)
        current = table.items.get(pk)
        passes = self._condition_passes(request, ph, current)
        ph.check_all_used()
        if not passes:
            raise self._condition_failed(request, current)
        self._store(table, pk, item)
        if request.get("ReturnValues") == "ALL_OLD" and current is not None:
            return {"Attributes": current}
        return {}

    def op_DeleteItem(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        pk = self._primary_key(table, request["Key"])
        ph = self._placeholders(request)
        current = table.items.get(pk)
        passes = self._condition_passes(request, ph, current)
        ph.check_all_used()
        if not passes:
            raise self._condition_failed(request, current)
        if current is not None:
            self._store(table, pk, None)
            self.writes += 1
        if request.get("ReturnValues") == "ALL_OLD" and current is not None:
            return {"Attributes": current}
        return {}

    def op_UpdateItem(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        key = request["Key"]
        pk = self._primary_key(table, key)
        ph = self._placeholders(request)
        if "AttributeUpdates" in request:
            raise _validation("AttributeUpdates is not supported by the fake; use UpdateExpression")
        clauses = parse_update(request["UpdateExpression"], ph) if request.get("UpdateExpression") else {}
        current = table.items.get(pk)
        passes = self._condition_passes(request, ph, current)
        ph.check_all_used()
        if not passes:
            raise self._condition_failed(request, current)
        base = current if current is not None else _copy(key)
        new, touched = apply_update(base, clauses, table.schema.names) if clauses else (_copy(base), set())
        self._check_index_types(table, new)
        self._store(table, pk, new)
        return self._return_values(request.get("ReturnValues") or "NONE", current, new, touched)

    @staticmethod
    def _return_values(mode: str, old: Item | None, new: Item, touched: set[str]) -> dict[str, Any]:
        if mode == "ALL_NEW":
            return {"Attributes": _copy(new)}
        if mode == "ALL_OLD":
            return {"Attributes": _copy(old)} if old else {}
        if mode == "UPDATED_NEW":
            return {"Attributes": {k: _copy(new[k]) for k in touched if k in new}}
        if mode == "UPDATED_OLD":
            return {"Attributes": {k: _copy(old[k]) for k in touched if old and k in old}} if old else {}
        return {}

    # ------------------------------------------------------------------ queries
    def op_Query(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        index = None
        if request.get("IndexName"):
            index = table.indexes.get(request["IndexName"])
            if index is None:
                raise _validation(f"The table does not have the specified index: {request['IndexName']}")
            if request.get("ConsistentRead"):
                raise _validation("Consistent reads are not supported on global secondary indexes")
        schema = index.schema if index else table.schema
        ph = self._placeholders(request)
        key_tree = parse_condition(request["KeyConditionExpression"], ph)
        filter_tree = parse_condition(request["FilterExpression"], ph) if request.get("FilterExpression") else None
        projection = parse_projection(request["ProjectionExpression"], ph) if request.get(
            "ProjectionExpression") else None
        ph.check_all_used()
        hash_av = _hash_equality(key_tree, schema.hash_key)
        if hash_av is None:
            raise _validation(f"Query condition missed key schema element: {schema.hash_key}")
        hash_value = _key_value(hash_av)
        members = (index.partitions if index else table.partitions).get(hash_value, set())
        candidates = [table.items[pk] for pk in members if evaluate(key_tree, table.items[pk])]
        return self._page(table, index, candidates, request, filter_tree, projection)

    def op_Scan(self, request: dict[str, Any]) -> dict[str, Any]:
        table = self._table(request["TableName"])
        index = None
        if request.get("IndexName"):
            index = table.indexes.get(request["IndexName"])
            if index is None:
                raise _validation(f"The table does not have the specified index: {request['IndexName']}")
        ph = self._placeholders(request)
        filter_tree = parse_condition(request["FilterExpression"], ph) if request.get("FilterExpression") else None
        projection = parse_projection(request["ProjectionExpression"], ph) if request.get(
            "ProjectionExpression") else None
        ph.check_all_used()
        if index:
            candidates = [table.items[pk] for members in index.partitions.values() for pk in members]
        else:
            candidates = list(table.items.values())
        return self._page(table, index, candidates, request, filter_tree, projection, scan=True)

    def _order(self, table: Table, index: Index | None, item: Item, *, scan: bool) -> tuple:
        """Total order of results: (index hash for scans,) index range, then the table key."""
        table_key = self._primary_key(table, {k: item[k] for k in table.schema.names}, whole_item=True)
        parts: list[Any] = []
        schema = index.schema if index else None
        if scan and schema:
            parts.append(_key_value(item[schema.hash_key]))
        if schema and schema.range_key:
            parts.append(_key_value(item[schema.range_key]))
        parts.extend(table_key if scan or schema else table_key[1:])
        return tuple(parts)

    def _page(
        self,
        table: Table,
        index: Index | None,
        candidates: list[Item],
        request: dict[str, Any],
        filter_tree: tuple | None,
        projection: list[tuple] | None,
        *,
        scan: bool = False,
    ) -> dict[str, Any]:
        forward = request.get("ScanIndexForward", True) or scan
        ordered = sorted(candidates, key=lambda item: self._order(table, index, item, scan=scan), reverse=not forward)
        start = request.get("ExclusiveStartKey")
        if start:
            marker = self._order(table, index, start, scan=scan)
            ordered = [
                item for item in ordered
                if (self._order(table, index, item, scan=scan) > marker) == forward
                and self._order(table, index, item, scan=scan) != marker
            ]
        limit = request.get("Limit")
        scanned = ordered[:limit] if limit else ordered
        more = bool(limit) and len(ordered) > limit
        matched = [item for item in scanned if evaluate(filter_tree, item)] if filter_tree else scanned
        response: dict[str, Any] = {"Count": len(matched), "ScannedCount": len(scanned)}
        if request.get("Select") != "COUNT":
            response["Items"] = [
                project(item, projection) if projection else self._index_projection(table, index, item)
                for item in matched
            ]
        if more and scanned:
            last = scanned[-1]
            key_names = list(table.schema.names) + (list(index.schema.names) if index else [])
            response["LastEvaluatedKey"] = {name: _copy(last[name]) for name in dict.fromkeys(key_names)}
        return response

    @staticmethod
    def _index_projection(table: Table, index: Index | None, item: Item) -> Item:
        if index is None or index.projection.get("ProjectionType", "ALL") == "ALL":
            return item
        keep = set(table.schema.names) | set(index.schema.names)
        if index.projection.get("ProjectionType") == "INCLUDE":
            keep |= set(index.projection.get("NonKeyAttributes", []))
        return {k: _copy(v) for k, v in item.items() if k in keep}

    # ------------------------------------------------------------------ batches and transactions
    def op_BatchGetItem(self, request: dict[str, Any]) -> dict[str, Any]:
        responses: dict[str, list[Item]] = {}
        for table_name, spec in request["RequestItems"].items():
            table = self._table(table_name)
            ph = self._placeholders(spec)
            projection = parse_projection(spec["ProjectionExpression"], ph) if spec.get(
                "ProjectionExpression") else None
            ph.check_all_used()
            found = responses.setdefault(table_name, [])
            for key in spec["Keys"]:
                item = table.items.get(self._primary_key(table, key))
                if item is not None:
                    found.append(project(item, projection) if projection else _copy(item))
        return {"Responses": responses, "UnprocessedKeys": {}}

    def op_BatchWriteItem(self, request: dict[str, Any]) -> dict[str, Any]:
        for table_name, writes in request["RequestItems"].items():
            table = self._table(table_name)
            for write in writes:
                if "PutRequest" in write:
                    item = write["PutRequest"]["Item"]
                    pk = self._primary_key(table, {k: item[k] for k in table.schema.names if k in item},
                                           whole_item=True)
                    self._check_index_types(table, item)
                    self._store(table, pk, _copy(item))
                else:
                    pk = self._primary_key(table, write["DeleteRequest"]["Key"])
                    self._store(table, pk, None)
        return {"UnprocessedItems": {}}

    def op_TransactGetItems(self, request: dict[str, Any]) -> dict[str, Any]:
        responses = []
        for entry in request["TransactItems"]:
            get = entry["Get"]
            table = self._table(get["TableName"])
            item = table.items.get(self._primary_key(table, get["Key"]))
            responses.append({"Item": _copy(item)} if item is not None else {})
        return {"Responses": responses}

    def op_TransactWriteItems(self, request: dict[str, Any]) -> dict[str, Any]:
        entries = request["TransactItems"]
        if not 1 <= len(entries) <= 100:
            raise _validation("Member must have length less than or equal to 100 and greater than or equal to 1")
        planned: list[tuple[Table, tuple, Item | None]] = []
        reasons: list[dict[str, Any]] = []
        failed = False
        targets: set[tuple[str, tuple]] = set()
        for entry in entries:
            (kind, spec), = entry.items()
            table = self._table(spec["TableName"])
            if kind == "Put":
                item = spec["Item"]
                pk = self._primary_key(table, {k: item[k] for k in table.schema.names if k in item},
                                       whole_item=True)
                self._check_index_types(table, item)
            else:
                pk = self._primary_key(table, spec["Key"])
            if (table.name, pk) in targets:
                raise _validation("Transaction request cannot include multiple operations on one item")
            targets.add((table.name, pk))
            ph = self._placeholders(spec)
            clauses = parse_update(spec["UpdateExpression"], ph) if kind == "Update" else None
            current = table.items.get(pk)
            passes = self._condition_passes(spec, ph, current)
            ph.check_all_used()
            if not passes:
                failed = True
                reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": _CONDITION_FAILED}
                if spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current is not None:
                    reason["Item"] = _copy(current)
                reasons.append(reason)
                continue
            reasons.append({"Code": "None"})
            if kind == "Put":
                planned.append((table, pk, _copy(spec["Item"])))
            elif kind == "Delete":
                planned.append((table, pk, None))
            elif kind == "Update":
                base = current if current is not None else _copy(spec["Key"])
                new, _ = apply_update(base, clauses or {}, table.schema.names)
                self._check_index_types(table, new)
                planned.append((table, pk, new))
        if failed:
            codes = ", ".join(r["Code"] for r in reasons)
            raise DynamoError(
                "TransactionCanceledException",
                f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]",
                extra={"CancellationReasons": reasons},
            )
        for table, pk, item in planned:
            self._store(table, pk, item)
        return {}

    # ------------------------------------------------------------------ the world's own look
    def items(self, table_name: str) -> list[Item]:
        with self.lock:
            return [_copy(item) for item in self._table(table_name).items.values()]

    def min_index_value(self, table_name: str, index_name: str) -> Decimal | None:
        """The smallest range key (a number) in an index, over all its partitions (the world
        uses it to skip poller ticks that would find nothing due)."""
        with self.lock:
            table = self._table(table_name)
            index = table.indexes[index_name]
            best: Decimal | None = None
            for members in index.partitions.values():
                for pk in members:
                    value = Decimal(table.items[pk][index.schema.range_key or ""]["N"])
                    if best is None or value < best:
                        best = value
            return best


def _hash_equality(tree: tuple, hash_key: str) -> AV | None:
    """The value the key condition requires of the hash key (``hash = :v``, possibly ANDed)."""
    if tree[0] == "and":
        return _hash_equality(tree[1], hash_key) or _hash_equality(tree[2], hash_key)
    if tree[0] == "cmp" and tree[1] == "=":
        left, right = tree[2], tree[3]
        if left[0] == "path" and left[1] == (hash_key,) and right[0] == "value":
            return right[1]
        if right[0] == "path" and right[1] == (hash_key,) and left[0] == "value":
            return left[1]
    return None


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
