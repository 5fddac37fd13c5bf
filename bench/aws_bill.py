"""batchrelay's own AWS bill for a run, from the calls counted at the emulator
(``bench/aws_calls.py``), the functions' measured run time and the bytes left in S3,
priced with the dated table in ``bench/aws_prices.json``.

DynamoDB on-demand bills capacity units, not calls: a write is one unit per KB of the
item (the larger of before and after), twice in a transaction, and again for each global
secondary index the item is in (projection ALL here); a read is one unit per 4 KB,
half for an eventually consistent one (every index query). Item sizes follow DynamoDB's
rules (attribute names plus values); an update's item is sized as the mean of its kind
(job, chunk, ...) in the table at the end of the run. Index writes are charged for every
write of an indexed kind, and twice when the write sets or removes an index key: an upper
bound, as a chunk leaves the due index when it is collected.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PRICES_PATH = Path(__file__).with_name("aws_prices.json")
KB = 1024
GB = 1024**3

# Which kinds of item carry which index keys (see infra/database.py and store/keys.py).
TENANT_JOBS_KEYS = ("gsi1pk", "gsi1sk")
DUE_KEYS = ("due_pk", "due_at")
# S3 request classes (PUT, COPY, POST, LIST) vs (GET, HEAD and the rest); DELETE is free.
S3_WRITE_CLASS = {"PutObject", "UploadPart", "UploadPartCopy", "CopyObject", "CreateMultipartUpload",
                  "CompleteMultipartUpload", "ListObjects", "ListParts", "PostObject"}
S3_FREE = {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}


def load_prices() -> dict[str, Any]:
    return json.loads(PRICES_PATH.read_text())


# ------------------------------------------------------------------ DynamoDB item sizes
def value_size(value: dict[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(base64.b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    return len(json.dumps(inner))


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def item_kind(key: dict[str, Any]) -> tuple[str, str]:
    pk = key.get("pk", {}).get("S", "")
    sk = key.get("sk", {}).get("S", "")
    return pk.split("#", 1)[0], sk.split("#", 1)[0]


@dataclass
class DynamoUnits:
    write_units: float = 0.0
    read_units: float = 0.0
    by_action: Counter[str] = field(default_factory=Counter)


def _write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def _read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return units if consistent else units / 2


def _mentions(request: dict[str, Any], names: Iterable[str]) -> bool:
    text = " ".join(str(request.get(part, "")) for part in ("UpdateExpression", "ExpressionAttributeNames"))
    return any(name in text for name in names)


def _indexes_of(kind: tuple[str, str], item: dict[str, Any] | None) -> list[tuple[str, ...]]:
    """The index keys an item of this kind may carry."""
    if item is not None:
        return [keys for keys in (TENANT_JOBS_KEYS, DUE_KEYS) if keys[0] in item]
    if kind == ("JOB", "JOB"):
        return [TENANT_JOBS_KEYS, DUE_KEYS]
    if kind == ("JOB", "CHUNK"):
        return [DUE_KEYS]
    return []


def _one_write(action: str, request: dict[str, Any], mean_size: dict[tuple[str, str], int]) -> float:
    if action == "PutItem" or "Item" in request:
        item = request.get("Item", {})
        size = item_size(item)
        return _write_units(size) * (1 + len(_indexes_of(item_kind(item), item)))
    kind = item_kind(request.get("Key", {}))
    size = mean_size.get(kind, KB)
    units = _write_units(size)
    total = units
    for keys in _indexes_of(kind, None):
        total += units * (2 if _mentions(request, keys) else 1)
    return total


def dynamo_units(calls: Iterable[Any], mean_size: dict[tuple[str, str], int]) -> DynamoUnits:
    out = DynamoUnits()
    for call in calls:
        request, answer = call.request, call.answer
        out.by_action[call.action] += 1
        if call.action in ("PutItem", "UpdateItem", "DeleteItem"):
            out.write_units += _one_write(call.action, request, mean_size)
        elif call.action == "TransactWriteItems":
            for entry in request.get("TransactItems", []):
                (op, body), = entry.items()
                if op != "ConditionCheck":
                    out.write_units += 2 * _one_write({"Put": "PutItem"}.get(op, op), body, mean_size)
                else:
                    out.read_units += 2 * _read_units(mean_size.get(item_kind(body.get("Key", {})), KB),
                                                      consistent=True)
        elif call.action == "BatchWriteItem":
            for entries in request.get("RequestItems", {}).values():
                for entry in entries:
                    body = entry.get("PutRequest") or entry.get("DeleteRequest") or {}
                    out.write_units += _one_write("PutItem" if "PutRequest" in entry else "DeleteItem", body,
                                                  mean_size)
        elif call.action == "GetItem":
            size = item_size(answer.get("Item", {})) if answer.get("Item") else 0
            out.read_units += _read_units(size, consistent=bool(request.get("ConsistentRead")))
        elif call.action in ("Query", "Scan"):
            size = sum(item_size(item) for item in answer.get("Items", []))
            out.read_units += _read_units(size, consistent=bool(request.get("ConsistentRead")))
        elif call.action == "BatchGetItem":
            for items in answer.get("Responses", {}).values():
                for item in items:
                    out.read_units += _read_units(item_size(item), consistent=False)
        elif call.action == "TransactGetItems":
            for item in answer.get("Responses", []):
                out.read_units += 2 * _read_units(item_size(item.get("Item", {})), consistent=True)
    return out


def mean_sizes(items: Iterable[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Mean size of each kind of item (DynamoDB JSON items, as a Scan answers)."""
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in items:
        entry = totals[item_kind(item)]
        entry[0] += item_size(item)
        entry[1] += 1
    return {kind: total // count for kind, (total, count) in totals.items()}


# ------------------------------------------------------------------ the bill
@dataclass
class Usage:
    """One run's measured use of AWS."""

    lambda_gb_seconds: float
    lambda_invocations: int
    dynamo: DynamoUnits
    dynamo_stored_bytes: int
    s3_calls: Counter[str]          # by action
    s3_stored_bytes: int
    sqs_requests: int
    sns_publishes: int
    sns_http_deliveries: int
    api_requests: int
    kms_requests: int
    bytes_to_providers: int
    retention_days: int


def bill(usage: Usage, prices: dict[str, Any] | None = None) -> dict[str, float]:
    """USD by line of the bill."""
    p = prices or load_prices()
    months = usage.retention_days / 30
    s3_write = sum(n for action, n in usage.s3_calls.items() if action in S3_WRITE_CLASS)
    s3_read = sum(n for action, n in usage.s3_calls.items() if action not in S3_WRITE_CLASS | S3_FREE)
    return {
        "lambda": usage.lambda_gb_seconds * p["lambda"]["arm64_usd_per_gb_second"]
        + usage.lambda_invocations * p["lambda"]["usd_per_million_requests"] / 1e6,
        "dynamodb": usage.dynamo.write_units * p["dynamodb"]["usd_per_million_write_units"] / 1e6
        + usage.dynamo.read_units * p["dynamodb"]["usd_per_million_read_units"] / 1e6
        + usage.dynamo_stored_bytes / GB * months * p["dynamodb"]["usd_per_gb_month"],
        "s3_requests": s3_write * p["s3"]["usd_per_1000_put_copy_post_list"] / 1000
        + s3_read * p["s3"]["usd_per_1000_get_head_other"] / 1000,
        "s3_storage": usage.s3_stored_bytes / GB * months * p["s3"]["usd_per_gb_month_standard"],
        "sqs": usage.sqs_requests * p["sqs"]["usd_per_million_requests"] / 1e6,
        "sns": usage.sns_publishes * p["sns"]["usd_per_million_publishes"] / 1e6
        + usage.sns_http_deliveries * p["sns"]["usd_per_million_http_deliveries"] / 1e6,
        "api_gateway": usage.api_requests * p["api_gateway"]["rest_usd_per_million_requests"] / 1e6,
        "kms": usage.kms_requests * p["kms"]["usd_per_10000_requests"] / 10_000,
        "data_out_to_providers": usage.bytes_to_providers / GB * p["data_transfer"]["out_to_internet_usd_per_gb"],
    }
