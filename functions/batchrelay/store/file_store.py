"""The OpenAI surface's files and uploads (FILES#<tenant> / FILE#<file_id> and UPLOAD#<upload_id>).

A tenant's files live in the tenant's own partition, so a file id of another tenant is simply
not found. File ids sort by time (ULIDs), so the partition lists them newest first. Each item's
TTL is its own expires_at; an item past it reads as gone before DynamoDB removes it.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from boto3.dynamodb.conditions import Attr, Key

from batchrelay import constants as c
from batchrelay.models.files import StoredFile, StoredUpload
from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, get, table, to_dynamo, update_if

_ITEM_KEYS = ("pk", "sk", c.TTL_ATTRIBUTE)


def _file_item(file: StoredFile) -> dict[str, Any]:
    item = {**file.model_dump(), **keys.file_key(file.tenant_id, file.file_id)}
    if file.expires_at is None:
        item.pop(c.TTL_ATTRIBUTE)
    return item


def _file(item: dict[str, Any]) -> StoredFile:
    return StoredFile.model_validate({k: v for k, v in from_dynamo(item).items() if k not in ("pk", "sk")})


def put_file(file: StoredFile) -> None:
    """Store a file (an output file written again by a repeated finalize is the same item)."""
    table().put_item(Item=to_dynamo(_file_item(file)))


def get_file(tenant_id: str, file_id: str, *, now: float | None = None) -> StoredFile | None:
    item = get(keys.file_key(tenant_id, file_id))
    if item is None:
        return None
    file = _file(item)
    return None if file.expired(time.time() if now is None else now) else file


def list_files(
    tenant_id: str,
    *,
    limit: int,
    order: Literal["asc", "desc"] = "desc",
    after: str | None = None,
    purpose: str | None = None,
    now: float | None = None,
) -> tuple[list[StoredFile], bool]:
    """One page of the tenant's files in time order, after the file ``after``; (files, has_more)."""
    now = time.time() if now is None else now
    condition = Key("pk").eq(keys.files_pk(tenant_id)) & Key("sk").begins_with(keys.FILE_SK_PREFIX)
    filters = Attr(c.TTL_ATTRIBUTE).not_exists() | Attr(c.TTL_ATTRIBUTE).gt(int(now))
    if purpose:
        filters = filters & Attr("purpose").eq(purpose)
    start_key = keys.file_key(tenant_id, after) if after else None
    files: list[StoredFile] = []
    while True:
        query: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "FilterExpression": filters,
            "ScanIndexForward": order == "asc",
            "Limit": max(limit + 1 - len(files), 10),
        }
        if start_key:
            query["ExclusiveStartKey"] = start_key
        page = table().query(**query)
        files.extend(_file(item) for item in page.get("Items", []))
        start_key = page.get("LastEvaluatedKey")
        if not start_key or len(files) > limit:
            break
    return files[:limit], len(files) > limit


def delete_file(tenant_id: str, file_id: str) -> StoredFile | None:
    """Remove the file's item; the file as it was, or None if there was none."""
    item = table().delete_item(Key=keys.file_key(tenant_id, file_id), ReturnValues="ALL_OLD").get("Attributes")
    return _file(item) if item else None


# --- uploads (OpenAI's Uploads API) ---


def put_upload(upload: StoredUpload) -> None:
    item = {**upload.model_dump(exclude_none=True), **keys.openai_upload_key(upload.tenant_id, upload.upload_id)}
    table().put_item(Item=to_dynamo(item), ConditionExpression="attribute_not_exists(pk)")


def get_upload(tenant_id: str, upload_id: str) -> StoredUpload | None:
    item = get(keys.openai_upload_key(tenant_id, upload_id))
    if item is None:
        return None
    return StoredUpload.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})


def finish_upload(tenant_id: str, upload_id: str, status: str, *, file_id: str | None = None) -> StoredUpload | None:
    """pending -> ``status`` (completed with its file, or cancelled); None if it was not pending."""
    names = {"#status": "status"}
    values: dict[str, Any] = {":pending": "pending", ":status": status}
    expression = "SET #status = :status"
    if file_id:
        names["#file_id"] = "file_id"
        values[":file_id"] = file_id
        expression += ", #file_id = :file_id"
    item = update_if(
        keys.openai_upload_key(tenant_id, upload_id),
        expression=expression,
        condition="attribute_exists(pk) AND #status = :pending",
        names=names,
        values=values,
    )
    if item is None:
        return None
    return StoredUpload.model_validate({k: v for k, v in item.items() if k not in ("pk", "sk")})
