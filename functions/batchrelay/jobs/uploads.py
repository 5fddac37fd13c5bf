"""Uploads: a presigned PUT URL for JSONL inputs beyond the API's payload limit."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from batchrelay.aws import s3_keys
from batchrelay.aws.s3_objects import presigned_put
from batchrelay.errors import NotFound, PayloadTooLarge
from batchrelay.ids import new_id
from batchrelay.models.api import UploadOut
from batchrelay.settings import get_settings
from batchrelay.store import upload_store

UPLOAD_CONTENT_TYPE = "application/jsonl"
# The API validates an upload synchronously within API Gateway's 29 s; beyond this size
# that cannot be done reliably, so the limit is stated up front.
MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def create_upload(tenant_id: str) -> UploadOut:
    settings = get_settings()
    upload_id = new_id("upl")
    key = s3_keys.upload_key(tenant_id, upload_id)
    # A presigned URL lives at most as long as the credentials that signed it (the
    # function's role session), so the expiry is short and stated in the answer.
    expires_in = settings.presign_expiry_seconds
    upload_store.put_upload(
        upload_id, tenant_id=tenant_id, key=key, expires_at=int(time.time()) + settings.retention_days * 86400
    )
    url = presigned_put(key, expires_in, UPLOAD_CONTENT_TYPE)
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
    item = upload_store.get_upload(upload_id)
    if not item or item.get("tenant_id") != tenant_id:
        raise NotFound(f"upload {upload_id} not found", field="upload_id")
    key = item["key"]
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
