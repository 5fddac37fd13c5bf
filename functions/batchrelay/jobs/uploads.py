"""Uploads: a presigned PUT URL for JSONL inputs beyond the API's payload limit."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from batchrelay import constants as c
from batchrelay.aws.s3_objects import presigned_put
from batchrelay.errors import NotFound, PayloadTooLarge
from batchrelay.ids import new_id
from batchrelay.models.api import UploadOut
from batchrelay.settings import get_settings
from batchrelay.store import keys
from batchrelay.store.table import from_dynamo, now_iso, table

UPLOAD_CONTENT_TYPE = "application/jsonl"
# The API validates an upload synchronously within API Gateway's 29 s; beyond this size
# that cannot be done reliably, so the limit is stated up front.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def create_upload(tenant_id: str) -> UploadOut:
    settings = get_settings()
    upload_id = new_id("upl")
    key = f"{c.UPLOADS_PREFIX}{tenant_id}/{upload_id}.jsonl"
    # A presigned URL lives at most as long as the credentials that signed it (the
    # function's role session), so the expiry is short and stated in the answer.
    expires_in = settings.presign_expiry_seconds
    table().put_item(
        Item={
            **keys.upload_key(upload_id),
            "tenant_id": tenant_id,
            "key": key,
            "created_at": now_iso(),
            c.TTL_ATTRIBUTE: int(time.time()) + settings.retention_days * 86400,
        },
        ConditionExpression="attribute_not_exists(pk)",
    )
    url = presigned_put(settings.bucket_name, key, expires_in, UPLOAD_CONTENT_TYPE)
    expires_at = datetime.fromtimestamp(time.time() + expires_in, UTC).isoformat(timespec="seconds")
    return UploadOut(
        upload_id=upload_id,
        url=url,
        headers={"Content-Type": UPLOAD_CONTENT_TYPE},
        expires_at=expires_at.replace("+00:00", "Z"),
        max_bytes=MAX_UPLOAD_BYTES,
    )


def uploaded_object_key(tenant_id: str, upload_id: str) -> str:
    """The S3 key of a tenant's upload; NotFound if unknown, another tenant's, or not yet PUT."""
    item = table().get_item(Key=keys.upload_key(upload_id), ConsistentRead=True).get("Item")
    if not item or item.get("tenant_id") != tenant_id:
        raise NotFound(f"upload {upload_id} not found", field="upload_id")
    key = from_dynamo(item)["key"]
    from batchrelay.aws import clients

    try:
        head = clients.s3().head_object(Bucket=get_settings().bucket_name, Key=key)
    except clients.s3().exceptions.ClientError as exc:
        raise NotFound(
            f"upload {upload_id} has no file yet: PUT it to the upload URL first", field="upload_id"
        ) from exc
    if head["ContentLength"] > MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(f"upload is larger than {MAX_UPLOAD_BYTES} bytes", field="upload_id")
    return key
